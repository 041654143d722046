"""Workbench cold start: the real ``moot`` console script (no arguments) in a 120x34 pseudo-terminal, timed from
spawn to the first frame showing the prompt placeholder "Describe a task" (target < 0.5 s).

Each run uses a fresh MOOT_HOME and a missing MOOT_CONFIG (so the built-in defaults), an empty project directory,
no provider keys and an Ollama host where nothing listens. After the first frame the bench sends ctrl+q and waits
for the exit (the child is killed if it hangs). For comparison it also times ``python -c "import moot.tui.app"``
and a bare ``python -c pass``, so the reader sees how much of the start is imports.

Python keeps the compiled bytecode of what it imports (``__pycache__``), so every start after the first skips
compiling moot's own modules, unless ``PYTHONDONTWRITEBYTECODE`` is set, as it is on some build machines. The
bench times both: as a user's Python starts it (bytecode kept, under a temporary ``PYTHONPYCACHEPREFIX`` that
the untimed first run fills), and with every module compiled at each start.

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
from pathlib import Path

COLS, ROWS = 120, 34
NEEDLE = "Describe a task"
PAINT_TIMEOUT_S = 15.0
EXIT_TIMEOUT_S = 5.0
TARGET_S = 0.5
# CSI (incl. private modes), OSC (to BEL or ST), DCS/APC/PM/SOS strings, two-byte escapes
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[P_^X][^\x1b]*\x1b\\|\x1b[@-Z\\-_]")
_KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY", "MISTRAL_API_KEY",
             "GROQ_API_KEY", "DEEPSEEK_API_KEY", "XAI_API_KEY", "OLLAMA_API_KEY")


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
    home.mkdir(exist_ok=True)
    env.update(TERM="xterm-256color", MOOT_HOME=str(home), MOOT_CONFIG=str(tmp / "config.toml"),
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


def one_run(exe: str, tmp: Path, bytecode: Path | None) -> tuple[float | None, float | None]:
    """(seconds to first paint, seconds from ctrl+q to exit); None where it did not happen in time."""
    project = tmp / "project"
    project.mkdir(parents=True, exist_ok=True)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    out = bytearray()
    t0 = time.perf_counter()
    proc = subprocess.Popen([exe], stdin=slave, stdout=slave, stderr=slave, cwd=project, env=child_env(tmp, bytecode),
                            start_new_session=True, close_fds=True)
    os.close(slave)
    painted: float | None = None
    quit_s: float | None = None
    try:
        scanned = 0
        while time.perf_counter() - t0 < PAINT_TIMEOUT_S:
            if not drain(master, out, 0.05) or proc.poll() is not None:
                break
            if len(out) > scanned:
                if NEEDLE in visible(bytes(out)):
                    painted = time.perf_counter() - t0
                    break
                scanned = len(out)
        if painted is None:
            tail = visible(bytes(out))[-400:]
            print(f"  no first paint within {PAINT_TIMEOUT_S:.0f} s (exit {proc.poll()}); last output: {tail!r}")
        t_quit = time.perf_counter()
        os.write(master, b"\x11")  # ctrl+q
        while proc.poll() is None and time.perf_counter() - t_quit < EXIT_TIMEOUT_S:
            if not drain(master, out, 0.05):  # keep reading so the child never blocks on a full terminal
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.0, EXIT_TIMEOUT_S - (time.perf_counter() - t_quit)))
                break
        if proc.poll() is not None:
            quit_s = time.perf_counter() - t_quit
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
            print("  the child did not exit after ctrl+q: killed")
        os.close(master)
    return painted, quit_s


def time_command(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - t0)
    return times


def fmt(times: list[float]) -> str:
    return (f"median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    exe = shutil.which("moot", path=str(Path(sys.executable).parent))
    if exe is None:
        sys.exit("no moot console script next to this python")
    series: dict[str, tuple[list[float], list[float], int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, bytecode in (("bytecode kept", Path(tmp) / "pycache"), ("compiled each start", None)):
            one_run(exe, Path(tmp) / label / "warm", bytecode)  # warm the file cache (and the bytecode); not counted
            paints, quits, failed = [], [], 0
            for i in range(runs):
                run_dir = Path(tmp) / label / f"run{i}"
                painted, quit_s = one_run(exe, run_dir, bytecode)
                if painted is None:
                    failed += 1
                else:
                    paints.append(painted)
                if quit_s is not None:
                    quits.append(quit_s)
            series[label] = (paints, quits, failed)
    imports = time_command([sys.executable, "-c", "import moot.tui.app"], runs)
    bare = time_command([sys.executable, "-c", "pass"], runs)
    print(f"moot (no arguments) in a {COLS}x{ROWS} pty, {runs} runs each, fresh MOOT_HOME, default config")
    for label, (paints, quits, failed) in series.items():
        print(f"{label}:")
        if paints:
            verdict = "OK" if statistics.median(paints) < TARGET_S else "MISSED"
            print(f"  spawn to first paint:          {fmt(paints)}   (target < {TARGET_S * 1000:.0f} ms: {verdict})")
        if failed:
            print(f"  runs without a first paint:    {failed}")
        if quits:
            print(f"  ctrl+q to exit:                {fmt(quits)}")
    print(f'python -c "import moot.tui.app": {fmt(imports)}')
    print(f"python -c pass (interpreter):    {fmt(bare)}")


if __name__ == "__main__":
    main()
