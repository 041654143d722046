"""moot's hosted path against a real OpenAI-compatible server: the embedded engine's own server (the ``server``
extra of llama-cpp-python) serving the shipped model on 127.0.0.1, driven through litellm's ``api_base``.
Streaming, usage, cancel, timeout, the server killed mid-stream, and a pool of two with one killed during a run.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from moot.core.calls import CallContext, run_call
from moot.core.config.models import ModelConfig
from moot.core.events import TextDelta
from moot.core.perf import pool
from moot.core.providers.base import Params, close_backends
from moot.core.providers.embedded import engine_installed, shipped_model_path
from moot.core.storage import Store

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(not (engine_installed() and shipped_model_path()
                            and importlib.util.find_spec("uvicorn") and importlib.util.find_spec("sse_starlette")),
                       reason="the embedded engine and its server are not installed (pip install 'moot[local]')"),
]
ASK = [{"role": "user", "content": "Count from one to fifty in words, separated by commas."}]


class Server:
    """``python -m llama_cpp.server`` with the shipped model, on a free port."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(shipped_model_path()), "--model_alias",
             "smollm2", "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "1",
             "--verbose", "False", "--interrupt_requests", "False"],  # requests wait their turn, as a server's do
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/models", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        self.kill()
        raise RuntimeError("the server did not answer within 120 s")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def model(self, **kw: object) -> ModelConfig:
        return ModelConfig(name="served", model="openai/smollm2", api_base=self.base, **kw)  # type: ignore[arg-type]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.kill()


@pytest.fixture(autouse=True)
async def closed_backends():
    pool.LIVE.__init__()  # type: ignore[misc]
    yield
    await close_backends()


async def test_streams_text_and_usage(server: Server) -> None:
    pieces: list[str] = []
    store = Store()
    store.start_run("real-1", "plan", "count", None, None)
    r = await run_call(server.model(max_tokens=24), ASK, Params(retries=0), ctx=CallContext(store, "real-1"),
                       on_event=lambda e: pieces.append(e.text) if isinstance(e, TextDelta) else None)
    assert r.ok, r.error
    assert len(pieces) > 3 and "".join(pieces) == r.text and r.text.strip()
    assert 0 < r.usage.completion_tokens <= 24 and r.usage.prompt_tokens > 10
    assert r.ttft_s is not None and r.finish_reason in ("length", "stop")
    (logged,) = store.calls("real-1")
    assert logged["status"] == "done" and logged["completion_tokens"] == r.usage.completion_tokens


async def test_cancel_stops_the_call_and_the_server_answers_the_next(server: Server) -> None:
    seen = asyncio.Event()
    job = asyncio.create_task(run_call(server.model(max_tokens=400), ASK, Params(retries=0),
                                       on_event=lambda e: seen.set() if isinstance(e, TextDelta) else None))
    await asyncio.wait_for(seen.wait(), 60)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    again = await run_call(server.model(max_tokens=8), ASK, Params(retries=0))
    assert again.ok and again.text


async def test_a_call_past_its_time_limit_fails_alone(server: Server) -> None:
    """A long answer is under way; a call with a 0.5 s limit waits its turn behind it and runs out, while the long
    one finishes."""
    seen = asyncio.Event()
    long = asyncio.create_task(run_call(server.model(max_tokens=120, timeout_s=60), ASK, Params(retries=0),
                                        on_event=lambda e: seen.set() if isinstance(e, TextDelta) else None))
    await asyncio.wait_for(seen.wait(), 60)
    limited = await run_call(server.model(max_tokens=8, timeout_s=0.5), ASK, Params(retries=0))
    assert limited.error is not None and limited.error.kind == "timeout"
    assert (await long).ok


async def test_the_server_killed_mid_stream_fails_the_call_clearly() -> None:
    own = Server()
    try:
        seen = asyncio.Event()
        job = asyncio.create_task(run_call(own.model(max_tokens=400, timeout_s=60), ASK, Params(retries=0),
                                           on_event=lambda e: seen.set() if isinstance(e, TextDelta) else None))
        await asyncio.wait_for(seen.wait(), 60)
        own.kill()
        r = await asyncio.wait_for(job, 30)
    finally:
        own.kill()
    assert not r.ok and r.text and r.error is not None and r.error.kind in ("connection", "server")


async def test_a_pool_of_two_real_servers_with_one_killed_during_the_run(server: Server) -> None:
    """Four calls on a pool of two; the second server dies once the calls are under way. Every call answers
    (handed to the live server if the dead one had shown nothing) or fails clearly after its text began."""
    other = Server()
    store = Store()
    try:
        pooled = ModelConfig(name="served", model="openai/smollm2", api_base=[other.base, server.base],
                             max_tokens=24, timeout_s=120, retries=1)
        jobs = [asyncio.create_task(run_call(pooled, ASK, Params(), ctx=CallContext(store))) for _ in range(4)]
        await asyncio.sleep(0.5)
        other.kill()
        results = await asyncio.wait_for(asyncio.gather(*jobs), 300)
    finally:
        other.kill()
    assert all(r.ok or (r.text and r.error is not None) for r in results)
    assert sum(r.ok for r in results) >= 2 and any(r.ok and r.host == server.base for r in results)
    rows = {p["host"]: p for p in pool.summary(store)}
    assert rows[server.base]["answered"] >= 2
    after = await run_call(pooled, ASK, Params(), ctx=CallContext(store))
    assert after.ok and after.host == server.base  # the dead one is tried last (and fails over at once)
