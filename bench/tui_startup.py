"""Workbench cold start and exit: the real ``moot`` console script (no arguments) in a 120x34 pseudo-terminal.

Timed: spawn to the first frame showing the prompt placeholder "Describe a task"; ``python -c "import textual.app"``
under the same conditions, and the difference between the two (target: first paint within 150 ms of that import,
the floor for any Textual app); ctrl+q to the process's exit (target < 150 ms), both idle (just after
the first frame) and during a run (a task typed and Enter pressed, ctrl+q once the embedded model streams its first
proposal, so the engine is mid-generation in the worker process).

Each run uses a fresh MOOT_HOME and MOOT_CONFIG=/dev/null (the defaults: the embedded model only), an
empty project directory, no provider keys and an Ollama host where nothing listens. A child that does not exit
within a few seconds of ctrl+q is killed. After each exit the bench also notes whether a traceback reached the
terminal and whether any process moot started (a model worker) was left running. For comparison it also times
``python -c "import moot.tui.app"`` and a bare ``python -c pass``.

Python keeps the compiled bytecode of what it imports (``__pycache__``), so every start after the first skips
compiling moot's own modules, unless ``PYTHONDONTWRITEBYTECODE`` is set, as it is on some build machines. The
bench times both: as a user's Python starts it (bytecode kept, under a temporary ``PYTHONPYCACHEPREFIX`` that
the untimed first run fills), and with every module compiled at each start (first paint and idle exit only).

Run: .venv/bin/python bench/tui_startup.py [runs]
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

COLS, ROWS = 120, 34
NEEDLE = "Describe a task"
STREAMING = "streaming · "
"""Shown in a proposal's figures bar while its text arrives."""
TASK = "Add a function that adds two numbers to calc.py"
PAINT_TIMEOUT_S = 15.0
STREAM_TIMEOUT_S = 90.0
MID_STREAM_S = 0.3
"""How long after the first streamed text ctrl+q is pressed."""
EXIT_TIMEOUT_S = 8.0
PAINT_MARGIN_S = 0.15
"""Target: the first paint within this much of ``import textual.app``."""
EXIT_TARGET_S = 0.15
# CSI (incl. private modes), OSC (to BEL or ST), DCS/APC/PM/SOS strings, two-byte escapes
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[P_^X][^\x1b]*\x1b\\|\x1b[@-Z\\-_]")
_KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY", "MISTRAL_API_KEY",
             "GROQ_API_KEY", "DEEPSEEK_API_KEY", "XAI_API_KEY", "OLLAMA_API_KEY")
_TRACEBACK = ("Traceback", "Exception ignored", "Error:")


def child_env(tmp: Path, bytecode: Path | None) -> dict[str, str]:
    """The child's environment; ``bytecode``: where compiled modules are kept (None: nowhere)."""
    env = {k: v for k, v in os.environ.items() if k not in _KEY_VARS}
    env.pop("PYTHONPYCACHEPREFIX", None)
    if bytecode is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    env.update(TERM="xterm-256color", MOOT_HOME=str(home), MOOT_CONFIG=os.devnull,
               OLLAMA_HOST="http://127.0.0.1:9", COLUMNS=str(COLS), LINES=str(ROWS))
    env.pop("TEXTUAL", None)  # no devtools
    return env


def visible(raw: bytes) -> str:
    """The text of the terminal output with escape sequences (and line-drawing noise) removed."""
    return _ANSI.sub("", raw.decode("utf-8", "replace"))


def drain(fd: int, sink: bytearray, timeout: float) -> bool:
    """Read what the child wrote within ``timeout``; False once the terminal is closed (the child is gone)."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return True
    try:
        data = os.read(fd, 65536)
    except OSError:  # EIO: the slave side is closed
        return False
    sink.extend(data)
    return bool(data)


def group_alive(pgid: int) -> bool:
    """Whether any process of the child's session (its model workers) is still running."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Run:
    painted: float | None = None
    """Seconds from spawn to the first paint."""
    streaming: bool = False
    """A run was started and the first proposal was streaming when ctrl+q was pressed."""
    quit_s: float | None = None
    """Seconds from ctrl+q to the process's exit."""
    traceback: bool = False
    """Something like a traceback reached the terminal after ctrl+q."""
    left_running: bool = False
    """A process the child started was still running once it had exited."""


def wait_for(master: int, proc: subprocess.Popen[bytes], out: bytearray, needle: str, start: int,
             timeout: float) -> bool:
    """Read until ``needle`` shows in the output written after byte ``start``."""
    t0 = time.perf_counter()
    scanned = start
    while time.perf_counter() - t0 < timeout:
        if not drain(master, out, 0.05) or proc.poll() is not None:
            return False
        if len(out) > scanned:
            # an escape sequence may straddle the previous scan's end: look again a little before it
            if needle in visible(bytes(out[max(start, scanned - 512):])):
                return True
            scanned = len(out)
    return False


def one_run(exe: str, tmp: Path, bytecode: Path | None, task: str | None = None) -> Run:
    """Start moot, wait for the first frame, optionally start a run of ``task``, then quit with ctrl+q."""
    project = tmp / "project"
    project.mkdir(parents=True, exist_ok=True)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    out = bytearray()
    run = Run()
    t0 = time.perf_counter()
    proc = subprocess.Popen([exe], stdin=slave, stdout=slave, stderr=slave, cwd=project, env=child_env(tmp, bytecode),
                            start_new_session=True, close_fds=True)
    os.close(slave)
    try:
        if wait_for(master, proc, out, NEEDLE, 0, PAINT_TIMEOUT_S):
            run.painted = time.perf_counter() - t0
        else:
            tail = visible(bytes(out))[-400:]
            print(f"  no first paint within {PAINT_TIMEOUT_S:.0f} s (exit {proc.poll()}); last output: {tail!r}")
        if task is not None and run.painted is not None:
            start = len(out)
            os.write(master, task.encode() + b"\r")
            run.streaming = wait_for(master, proc, out, STREAMING, start, STREAM_TIMEOUT_S)
            if not run.streaming:
                print(f"  the run did not start streaming within {STREAM_TIMEOUT_S:.0f} s")
            t_mid = time.perf_counter()
            while time.perf_counter() - t_mid < MID_STREAM_S and drain(master, out, 0.02):
                pass
        quit_from = len(out)
        t_quit = time.perf_counter()
        os.write(master, b"\x11")  # ctrl+q
        while proc.poll() is None and time.perf_counter() - t_quit < EXIT_TIMEOUT_S:
            if not drain(master, out, 0.01):  # keep reading so the child never blocks on a full terminal
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.0, EXIT_TIMEOUT_S - (time.perf_counter() - t_quit)))
                break
        if proc.poll() is not None:
            run.quit_s = time.perf_counter() - t_quit
            run.left_running = group_alive(proc.pid)
            with contextlib.suppress(OSError):
                while drain(master, out, 0.05):  # whatever it printed on its way out
                    pass
            after = visible(bytes(out[quit_from:]))
            run.traceback = any(word in after for word in _TRACEBACK)
    finally:
        if proc.poll() is None:
            print("  the child did not exit after ctrl+q: killed")
        if proc.poll() is None or group_alive(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        os.close(master)
    return run


def time_command(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    subprocess.run(cmd, capture_output=True, check=True, timeout=60, env=env)  # fills the bytecode cache if any
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, timeout=60, env=env)
        times.append(time.perf_counter() - t0)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def fmt(times: list[float]) -> str:
    return f"median {ms(statistics.median(times))}, min {ms(min(times))}, max {ms(max(times))}"


def verdict(value: float, target: float) -> str:
    return "OK" if value < target else "MISSED"


def report(runs: list[Run], textual_app: list[float]) -> None:
    paints = [r.painted for r in runs if r.painted is not None]
    print(f"  spawn to first paint:                 {fmt(paints)}" if paints else "  spawn to first paint:  none")
    print(f'  python -c "import textual.app":       {fmt(textual_app)}')
    if paints:
        diff = statistics.median(paints) - statistics.median(textual_app)
        print(f"  first paint minus import textual.app: {diff * 1000:+.0f} ms (medians; target < "
              f"{ms(PAINT_MARGIN_S)}: {verdict(diff, PAINT_MARGIN_S)})")
    if failed := sum(r.painted is None for r in runs):
        print(f"  runs without a first paint:           {failed}")


def report_exit(what: str, runs: list[Run]) -> None:
    quits = [r.quit_s for r in runs if r.quit_s is not None]
    if quits:
        print(f"  {what + ':':38s}{fmt(quits)} (target < {ms(EXIT_TARGET_S)}: "
              f"{verdict(statistics.median(quits), EXIT_TARGET_S)})")
    if hung := sum(r.quit_s is None for r in runs):
        print(f"    runs that did not exit in {EXIT_TIMEOUT_S:.0f} s: {hung}")
    if noisy := sum(r.traceback for r in runs):
        print(f"    runs that printed a traceback: {noisy}")
    if orphans := sum(r.left_running for r in runs):
        print(f"    runs that left a process running: {orphans}")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    exe = shutil.which("moot", path=str(Path(sys.executable).parent))
    if exe is None:
        sys.exit("no moot console script next to this python")
    print(f"moot (no arguments) in a {COLS}x{ROWS} pty, {runs} runs each, fresh MOOT_HOME, default config")
    with tempfile.TemporaryDirectory() as tmp:
        for label, bytecode in (("bytecode kept", Path(tmp) / "pycache"), ("compiled each start", None)):
            one_run(exe, Path(tmp) / label / "warm", bytecode)  # warm the file cache (and the bytecode); not counted
            idle = [one_run(exe, Path(tmp) / label / f"run{i}", bytecode) for i in range(runs)]
            env = child_env(Path(tmp) / label / "imports", bytecode)
            textual_app = time_command([sys.executable, "-c", "import textual.app"], runs, env)
            print(f"{label}:")
            report(idle, textual_app)
            report_exit("ctrl+q to exit, idle", idle)
            if bytecode is not None:
                busy = [one_run(exe, Path(tmp) / label / f"busy{i}", bytecode, TASK) for i in range(runs)]
                busy = [r for r in busy if r.streaming]
                report_exit("ctrl+q to exit, during a run", busy)
                if len(busy) < runs:
                    print(f"    runs that never streamed (not counted): {runs - len(busy)}")
    imports = time_command([sys.executable, "-c", "import moot.tui.app"], runs)
    bare = time_command([sys.executable, "-c", "pass"], runs)
    print(f'python -c "import moot.tui.app":       {fmt(imports)}')
    print(f"python -c pass (interpreter):          {fmt(bare)}")


if __name__ == "__main__":
    main()
