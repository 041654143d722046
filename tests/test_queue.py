"""A call queued behind others on its engine: its time limit counts from its start, and it says where it waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from moot.core.calls import run_call
from moot.core.config import ModelConfig
from moot.core.events import Done, Error, Event, Queued, Started, TextDelta
from moot.core.providers.base import Backend, Message, Params, register_backend, unregister_backend
from moot.core.providers.embedded import engine_installed, shipped_model_path
from moot.core.providers.stream import stream


class Waiting(Backend):
    """Queued for ``wait`` seconds, then answers after ``think`` seconds."""

    name = "waiting"

    def __init__(self, wait: float, think: float, started: bool = True):
        self.wait, self.think, self.started = wait, think, started

    async def stream(self, model: ModelConfig, messages: list[Message], params: Params) -> AsyncIterator[Event]:
        yield Queued(2)
        await asyncio.sleep(self.wait / 2)
        yield Queued(1)
        await asyncio.sleep(self.wait / 2)
        if self.started:
            yield Started()
        await asyncio.sleep(self.think)
        yield TextDelta("ok")
        yield Done()


MODEL = ModelConfig(name="w", model="waiting/w", timeout_s=0.3, retries=0)


@pytest.fixture
def waiting():
    def install(**kw: float | bool) -> None:
        register_backend("waiting", lambda: Waiting(**kw))  # type: ignore[arg-type]

    yield install
    unregister_backend("waiting")


async def test_a_queued_call_does_not_time_out_while_it_waits(waiting) -> None:
    waiting(wait=0.6, think=0.05)
    events = [e async for e in stream(MODEL, [])]
    assert [type(e) for e in events] == [Queued, Queued, Started, TextDelta, Done]
    assert [e.ahead for e in events if isinstance(e, Queued)] == [2, 1]


async def test_the_limit_still_holds_once_the_call_started(waiting) -> None:
    waiting(wait=0.1, think=1.0)
    events = [e async for e in stream(MODEL, [])]
    assert isinstance(events[-1], Error) and events[-1].kind == "timeout"


async def test_a_backend_that_skips_started_gets_its_limit_from_its_first_answer(waiting) -> None:
    waiting(wait=0.6, think=0.05, started=False)
    events = [e async for e in stream(MODEL, [])]
    assert isinstance(events[-1], Done)


async def test_call_result_counts_latency_from_the_start(waiting) -> None:
    waiting(wait=0.4, think=0.05)
    result = await run_call(MODEL, [])
    assert result.ok and result.queued_s >= 0.35
    assert result.latency_s < result.queued_s  # the wait is not part of the call's own time


@pytest.mark.embedded
@pytest.mark.skipif(not (engine_installed() and shipped_model_path()),
                    reason="the embedded engine is not installed (pip install 'moot[local]')")
async def test_embedded_calls_queue_in_order_and_report_it() -> None:
    smol = ModelConfig(name="smollm2", model="local/smollm2", num_ctx=2048, temperature=0.0)
    # held by a grammar to 1,000 tokens of letters: well past the second call's limit at any speed here (300
    # took under 2.3 s once the engine's threads followed the free cores)
    busy = Params(max_tokens=1000, timeout_s=300, grammar='root ::= [a-z]{2000}')
    first = asyncio.create_task(run_call(smol, [{"role": "user", "content": "Write letters."}], busy))
    await asyncio.sleep(0.3)
    seen: list[Event] = []
    second = await run_call(smol, [{"role": "user", "content": "Say hi."}], Params(max_tokens=2, timeout_s=2.0),
                            on_event=seen.append)
    assert (await first).ok
    assert second.ok, second.error
    assert any(isinstance(e, Queued) and e.ahead == 1 for e in seen)
    assert any(isinstance(e, Started) for e in seen)
    assert second.queued_s > 2.0  # counted from the request, its limit would have run out in the queue
