"""Leaving: the model worker processes end at once when stopped, even mid-call."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator

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
