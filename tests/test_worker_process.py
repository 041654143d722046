"""The model worker process: the built-in backends served from a child process, as the workbench uses them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from moot.core.config.models import ModelConfig
from moot.core.events import Done, Error, Perf, TextDelta, Usage
from moot.core.providers import process
from moot.core.providers.base import Params, backend_for, close_backends
from moot.core.providers.stream import stream
from standins.ollama_server import OllamaStandIn
from standins.openai_server import OpenAIStandIn, split_tokens

KEY = "sk-moot-worker-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "Plan a tiny change"}]


@pytest.fixture(autouse=True)
async def worker(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """The built-in backends served by the worker for this test; afterwards, in-process again."""
    monkeypatch.setenv("MOOT_TEST_KEY", KEY)
    process.use_worker_process()
    yield
    await close_backends()
    process.use_in_process()


@pytest.fixture
def server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as s:
        yield s


def gpt(server: OpenAIStandIn) -> ModelConfig:
    return ModelConfig(name="gpt", model="openai/gpt-4o-mini", api_base=server.url, api_key_env="MOOT_TEST_KEY")


async def collect(model: ModelConfig, params: Params | None = None) -> list:
    return [e async for e in stream(model, MESSAGES, params or Params(retries=0))]


def text_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_hosted_stream_through_the_worker_joins_fast_text(server: OpenAIStandIn) -> None:
    reply = " ".join(f"word{i}" for i in range(300))
    server.script("gpt-4o-mini", reply, tokens_per_s=2000, prompt_tokens=11)
    model = gpt(server)
    assert isinstance(backend_for(model), process.ProcessBackend)
    events = await collect(model)
    assert text_of(events) == reply
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) < len(split_tokens(reply)) / 3  # many tokens per line from the worker
    usage = next(e for e in events if isinstance(e, Usage))
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 300)
    assert usage.cost_usd is not None and usage.cost_usd > 0  # priced in the worker, from the price table
    assert backend_for(model).cost(model, usage) == usage.cost_usd
    assert events[-1] == Done("stop")
    assert server.completions[-1].headers["authorization"] == f"Bearer {KEY}"  # the key came from the environment


async def test_errors_keep_their_kind_and_retries_happen_in_the_caller(server: OpenAIStandIn) -> None:
    server.script("gpt-4o-mini", "all good")
    server.fail(429, times=1, retry_after=0)
    events = await collect(gpt(server), Params(retries=2, backoff_s=0.01))
    assert text_of(events) == "all good"
    assert len(server.completions) == 2
    server.fail(500, times=5)
    events = await collect(gpt(server), Params(retries=0))
    assert isinstance(events[-1], Error) and events[-1].kind == "server" and events[-1].retryable
    assert KEY not in events[-1].message


async def test_closing_the_stream_cancels_the_call_in_the_worker(server: OpenAIStandIn) -> None:
    server.script("gpt-4o-mini", " ".join(["slow"] * 200), tokens_per_s=20)
    agen = stream(gpt(server), MESSAGES, Params(retries=0))
    async for event in agen:
        if isinstance(event, TextDelta):
            break
    await agen.aclose()
    for _ in range(100):  # the worker closes the HTTP response; the server sees the disconnect
        if server.disconnects:
            break
        await asyncio.sleep(0.05)
    assert server.disconnects == 1


async def test_a_dead_worker_fails_its_calls_and_the_next_call_starts_a_new_one(server: OpenAIStandIn) -> None:
    server.script("gpt-4o-mini", " ".join(["slow"] * 100), tokens_per_s=20)
    agen = stream(gpt(server), MESSAGES, Params(retries=0))
    events = []
    async for event in agen:
        events.append(event)
        if isinstance(event, TextDelta):
            os.kill(process.workers()[0].proc.pid, signal.SIGKILL)
    assert isinstance(events[-1], Error) and events[-1].kind == "connection"
    assert "worker process stopped" in events[-1].message
    server.script("gpt-4o-mini", "back again")
    assert text_of(await collect(gpt(server))) == "back again"


async def test_workers_yield_the_cpu_to_the_workbench(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker runs at a lower CPU priority than the process that started it, so the screen comes first when
    they compete; ``MOOT_WORKER_NICE=0`` keeps it at the same priority."""
    from moot.core.providers.worker import NICE

    ours = os.getpriority(os.PRIO_PROCESS, 0)
    await process.warm(["ollama"])  # answered once the worker is up: its priority is set by then
    assert os.getpriority(os.PRIO_PROCESS, process.workers()[0].proc.pid) == min(19, ours + NICE) > ours
    await process.stop_worker()
    monkeypatch.setenv("MOOT_WORKER_NICE", "0")
    await process.warm(["ollama"])
    assert os.getpriority(os.PRIO_PROCESS, process.workers()[0].proc.pid) == ours


async def test_ollama_figures_cross_the_pipe_exactly() -> None:
    figures = {"total_duration": 1_500_000_000, "load_duration": 500_000_000, "prompt_eval_count": 26,
               "prompt_eval_duration": 125_000_000, "eval_count": 10, "eval_duration": 250_000_000}
    with OllamaStandIn() as s:
        s.add_model("qwen2.5-coder:7b", pieces=["def ", "add", "(a, b):"], figures=dict(figures))
        model = ModelConfig(name="coder", model="ollama/qwen2.5-coder:7b", api_base=s.url)
        events = await collect(model)
        await asyncio.sleep(0)
    assert text_of(events) == "def add(a, b):"
    perf = next(e for e in events if isinstance(e, Perf))
    assert {k: getattr(perf, k) for k in figures} == figures
    assert perf.eval_rate == 40.0
    assert backend_for(model).kind == "ollama"  # type: ignore[attr-defined]


def test_the_workbench_process_never_imports_the_hosted_client() -> None:
    """With the worker in use, a hosted call leaves litellm out of the caller's process."""
    code = """
import asyncio, sys
sys.path.insert(0, "tests")
from standins.openai_server import OpenAIStandIn
from moot.core.config.models import ModelConfig
from moot.core.providers.process import use_worker_process
from moot.core.providers.base import close_backends
from moot.core.providers.stream import stream

async def main():
    use_worker_process()
    with OpenAIStandIn() as s:
        s.script("m", "hello from the worker")
        model = ModelConfig(name="m", model="openai/m", api_base=s.url, api_key_env="MOOT_TEST_KEY")
        text = "".join([getattr(e, "text", "") async for e in stream(model, [{"role": "user", "content": "x"}])])
        await close_backends()
    print(text, "litellm" in sys.modules)

asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.stdout.strip() == "hello from the worker False", out.stderr[-2000:]
