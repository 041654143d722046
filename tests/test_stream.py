"""The one call path: events in order, retries with backoff only before text, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import random

import pytest

from moot.core.config import ModelConfig
from moot.core.events import Done, Error, Perf, TextDelta, Usage
from moot.core.providers.base import Params
from moot.core.providers.stream import backoff_delay, stream

FAST = Params(backoff_s=0.001)


def model(name: str = "alpha", **kw: object) -> ModelConfig:
    return ModelConfig(name=name, model=f"scripted/{name}", **kw)  # type: ignore[arg-type]


async def collect(m: ModelConfig, params: Params = FAST) -> list[object]:
    return [ev async for ev in stream(m, [{"role": "user", "content": "hi"}], params)]


async def test_events_in_order_and_end_with_done(scripted) -> None:
    scripted.enqueue("alpha", "one two three")
    events = await collect(model())
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["one", " two", " three"]
    assert isinstance(events[-2], Usage) and events[-2].completion_tokens == 3
    assert events[-1] == Done("stop")


async def test_retryable_error_is_retried_then_succeeds(scripted) -> None:
    scripted.enqueue("alpha", error=("rate_limit", True))
    scripted.enqueue("alpha", error=("server", True))
    scripted.enqueue("alpha", "finally")
    events = await collect(model())
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "finally"
    assert len(scripted.calls) == 3


async def test_retries_are_bounded_and_say_how_many(scripted) -> None:
    for _ in range(5):
        scripted.enqueue("alpha", error=("server", True))
    events = await collect(model(retries=2))
    assert len(scripted.calls) == 3
    last = events[-1]
    assert isinstance(last, Error) and last.kind == "server" and "after 3 attempts" in last.message


async def test_non_retryable_error_is_not_retried(scripted) -> None:
    scripted.enqueue("alpha", error=("auth", False))
    events = await collect(model())
    assert len(scripted.calls) == 1
    assert isinstance(events[-1], Error) and events[-1].kind == "auth"


async def test_error_after_text_is_not_retried(scripted) -> None:
    scripted.enqueue("alpha", "a b c d", error=("server", True), error_after=2)
    events = await collect(model())
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a", " b"]
    assert isinstance(events[-1], Error) and len(scripted.calls) == 1


async def test_timeout_fails_the_call(scripted) -> None:
    scripted.enqueue("alpha", hang=True)
    events = await collect(model(timeout_s=0.05, retries=0))
    assert isinstance(events[-1], Error) and events[-1].kind == "timeout"
    assert scripted.cancelled == ["alpha"]  # the backend's stream was really stopped


async def test_cancelling_the_consumer_stops_the_backend(scripted) -> None:
    scripted.enqueue("alpha", " ".join(["w"] * 1000), delay=0.01)
    seen: list[object] = []

    async def consume() -> None:
        async for ev in stream(model(), [{"role": "user", "content": "hi"}], FAST):
            seen.append(ev)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert scripted.cancelled == ["alpha"]
    assert 0 < len(seen) < 1000


async def test_unknown_backend_is_an_error_event() -> None:
    events = await collect(ModelConfig(name="x", model="local/nonexistent"))
    assert isinstance(events[-1], Error) and events[-1].kind == "unavailable"
    assert "path" in events[-1].message


async def test_ttft_is_filled_into_perf(scripted) -> None:
    scripted.enqueue("alpha", "a b", delay=0.02, perf=Perf(eval_count=2, eval_duration=1_000_000_000))
    perf = next(e for e in await collect(model()) if isinstance(e, Perf))
    assert perf.ttft_s >= 0.02 and perf.eval_rate == 2.0


def test_backoff_grows_exponentially_with_jitter() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 1.0, rng) for n in range(4)]
    for n, d in enumerate(delays):
        assert 0.5 * 2**n <= d <= 1.5 * 2**n
    assert backoff_delay(20, 1.0, rng) <= 45.0  # capped (30 s, jittered)


def test_perf_rates_from_nanoseconds() -> None:
    p = Perf(prompt_eval_count=26, prompt_eval_duration=130_000_000, eval_count=290, eval_duration=4_709_213_000,
             load_duration=5_025_959, total_duration=5_043_500_667)
    assert p.prompt_eval_rate == pytest.approx(200.0)
    assert p.eval_rate == pytest.approx(290 / 4.709213)
    s = p.summary()
    assert s["load_s"] == pytest.approx(0.005026, abs=1e-6) and s["total_s"] == pytest.approx(5.043501, abs=1e-6)
    assert Perf().eval_rate == 0.0


# ------------------------------------------------------------------------------------------ reply caps


def test_reply_caps_follow_max_tokens_and_role() -> None:
    from moot.core.providers.stream import (
        BYTES_PER_TOKEN,
        MIN_REPLY_TOKENS,
        REPLY_CAP_FACTOR,
        REPLY_CAP_FACTORS,
        ReplyCaps,
        reply_caps,
    )

    caps = reply_caps(Params(max_tokens=1000))
    assert caps.tokens == REPLY_CAP_FACTOR * 1000 and caps.bytes == caps.tokens * BYTES_PER_TOKEN
    assert reply_caps(Params(max_tokens=1000, role="review")).tokens == REPLY_CAP_FACTORS["review"] * 1000
    assert reply_caps(Params(max_tokens=1, role="propose")).tokens == MIN_REPLY_TOKENS
    assert reply_caps(Params(max_tokens=1000, max_reply_tokens=7, max_reply_bytes=9)) == ReplyCaps(7, 9)
    resolved = Params(role="judge", max_reply_tokens=7, max_reply_bytes=9).resolve(model())
    assert (resolved.role, resolved.max_reply_tokens, resolved.max_reply_bytes) == ("judge", 7, 9)


@pytest.mark.hostile
async def test_a_reply_past_its_token_cap_is_cut(scripted) -> None:
    scripted.enqueue("alpha", " ".join(["word"] * 50))
    events = await collect(model(), Params(backoff_s=0.001, max_reply_tokens=5))
    assert len([e for e in events if isinstance(e, TextDelta)]) == 5
    assert events[-2] == Usage(completion_tokens=5)
    assert events[-1] == Error("server", "the reply passed 5 tokens: cut")


@pytest.mark.hostile
async def test_a_reply_past_its_byte_cap_is_cut_inside_a_piece(scripted) -> None:
    scripted.enqueue("alpha", "aaaa bbbb cccc dddd")
    events = await collect(model(), Params(backoff_s=0.001, max_reply_bytes=7))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "aaaa bb"
    assert events[-1] == Error("server", "the reply passed 7 bytes: cut")


@pytest.mark.hostile
async def test_a_cut_never_splits_a_character(scripted) -> None:
    scripted.enqueue("alpha", "é" * 10)
    events = await collect(model(), Params(backoff_s=0.001, max_reply_bytes=5))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "éé"
    assert isinstance(events[-1], Error) and "5 bytes" in events[-1].message
