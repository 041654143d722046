"""Leaving: the model worker processes end at once when stopped, even mid-call, and ctrl+q closes the workbench
cleanly, idle or during a run: exit code 0, no traceback on the terminal, no process of its left running."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from moot.core.config.models import ModelConfig
from moot.core.events import Error, TextDelta
from moot.core.providers import process
from moot.core.providers.base import Params, close_backends
from moot.core.providers.stream import stream
from standins.ollama_server import OllamaStandIn

MESSAGES = [{"role": "user", "content": "Plan a tiny change"}]
TAG = "coder:1b"
SLOW = {"pieces": ["word "] * 400, "delay_s": 0.05}
"""A reply that takes 20 s to stream: every test ends it long before."""


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
async def worker_backends() -> AsyncIterator[None]:
    process.use_worker_process()
    yield
    await close_backends()
    process.use_in_process()


@pytest.fixture
def ollama() -> Iterator[OllamaStandIn]:
    with OllamaStandIn() as server:
        server.add_model(TAG, **SLOW)
        yield server


# ------------------------------------------------------------------------------------------ the worker pool


async def test_stopping_the_pool_mid_call_ends_the_worker_and_the_call(worker_backends, ollama) -> None:
    model = ModelConfig(name="coder", model=f"ollama/{TAG}", api_base=ollama.url)
    events: list[object] = []

    async def consume() -> None:
        async for event in stream(model, MESSAGES, Params(retries=0)):
            events.append(event)

    call = asyncio.create_task(consume())
    for _ in range(500):
        if any(isinstance(e, TextDelta) for e in events):
            break
        await asyncio.sleep(0.02)
    [worker] = process.workers()
    await asyncio.wait_for(process.stop_worker(), 30)
    assert worker.proc.returncode is not None and gone(worker.proc.pid)
    assert process.workers() == []
    await asyncio.wait_for(call, 30)  # the call in flight ends too, as a failure
    assert isinstance(events[-1], Error) and events[-1].kind == "connection"
    assert await asyncio.to_thread(ollama.wait_aborted, 10)  # its connection closed with the process


async def _stuck_worker(code: str) -> process._Worker:
    """A child that does not leave when its stdin closes, as a worker busy in native code might not."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    worker = process._Worker(proc, asyncio.get_running_loop())
    await asyncio.sleep(0.3)  # let it install its handlers
    return worker


async def test_a_worker_that_does_not_leave_is_terminated_without_waiting_long() -> None:
    worker = await _stuck_worker("import time\ntime.sleep(60)")
    await asyncio.wait_for(worker.stop(), 2.5)  # far less than the old grace of 3 s
    assert worker.proc.returncode == -signal.SIGTERM and gone(worker.proc.pid)


async def test_a_worker_that_ignores_terminate_is_killed() -> None:
    worker = await _stuck_worker("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)")
    await asyncio.wait_for(worker.stop(), 30)
    assert worker.proc.returncode == -signal.SIGKILL and gone(worker.proc.pid)


async def test_stopping_the_pool_ends_every_worker_even_stuck_ones() -> None:
    process._bind_pool()
    stuck = [await _stuck_worker("import time\ntime.sleep(60)") for _ in range(2)]
    process._pool[: len(stuck)] = stuck
    await asyncio.wait_for(process.stop_worker(), 2.5)  # generous: they are stopped together, in a moment
    assert all(gone(w.proc.pid) for w in stuck) and process.workers() == []


# ---------------------------------------------------------------------------------------- the workbench


ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[P_^X][^\x1b]*\x1b\\|\x1b[@-Z\\-_]")


class Terminal:
    """A program in a 120x34 pseudo-terminal of its own session, read as plain text."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 34, 120, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.out = bytearray()

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the program has gone
            return False
        self.out.extend(data)
        return bool(data)

    def text(self, start: int = 0) -> str:
        return ANSI.sub("", self.out[start:].decode("utf-8", "replace"))

    def wait_for(self, needle: str, timeout: float, start: int = 0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            self._read(0.05)
            if needle in self.text(start):
                return True
        return False

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait_exit(self, timeout: float) -> int | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            if not self._read(0.05):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(max(0.0, end - time.monotonic()))
                break
        with contextlib.suppress(OSError):
            while self._read(0.05):
                pass
        return self.proc.poll()

    def session_alive(self) -> bool:
        """Whether any process of the program's session (its model workers) is still running."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        os.close(self.master)


@pytest.fixture
def workbench_in_a_terminal(tmp_path: Path) -> Iterator:
    exe = shutil.which("moot", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("no moot console script next to this python")
    project = tmp_path / "project"
    project.mkdir()
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("TEXTUAL", None)
    terminals: list[Terminal] = []

    def start() -> Terminal:
        terminal = Terminal([exe], project, env)
        terminals.append(terminal)
        return terminal

    yield start
    for terminal in terminals:
        terminal.close()


def assert_left_cleanly(terminal: Terminal, quit_at: int) -> None:
    code = terminal.wait_exit(30)
    after = terminal.text(quit_at)
    assert code == 0, after[-2000:]
    assert "Traceback" not in after and "Error" not in after and "Exception" not in after, after[-2000:]
    for _ in range(50):  # the workers were waited for before the workbench ended: nothing should be left
        if not terminal.session_alive():
            break
        time.sleep(0.02)
    assert not terminal.session_alive()


def test_ctrl_q_at_the_first_frame_leaves_cleanly(workbench_in_a_terminal) -> None:
    terminal = workbench_in_a_terminal()
    assert terminal.wait_for("Describe a task", 60), terminal.text()[-2000:]
    quit_at = len(terminal.out)
    terminal.send(b"\x11")  # ctrl+q, while discovery and the worker processes are still starting
    assert_left_cleanly(terminal, quit_at)


def test_ctrl_q_while_models_stream_leaves_cleanly(workbench_in_a_terminal, ollama, user_config) -> None:
    """Three proposals streaming from a local model host when ctrl+q is pressed: the run is cancelled, nothing is
    drawn into a screen being taken down, the worker process ends and with it the streams."""
    user_config(f'[[models]]\nname = "coder"\nmodel = "ollama/{TAG}"\napi_base = "{ollama.url}"\n')
    terminal = workbench_in_a_terminal()
    assert terminal.wait_for("models usable", 60), terminal.text()[-2000:]
    start = len(terminal.out)
    terminal.send(b"Add a --verbose flag\r")
    assert terminal.wait_for("streaming · ", 60, start), terminal.text(start)[-2000:]
    time.sleep(0.3)
    quit_at = len(terminal.out)
    terminal.send(b"\x11")
    assert_left_cleanly(terminal, quit_at)
    assert ollama.streams and all(s.aborted or s.finished for s in ollama.streams)
    assert any(s.aborted for s in ollama.streams)
