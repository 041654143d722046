"""The hosted backend through litellm's real ``api_base`` path, against the stand-in OpenAI server."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from moot.core.config.models import ModelConfig
from moot.core.events import Done, Error, Event, TextDelta, ThinkingDelta, Usage
from moot.core.providers.base import Params
from moot.core.providers.hosted import HostedBackend, estimate_cost
from moot.core.providers.stream import stream
from standins.openai_server import OpenAIStandIn, split_tokens

KEY = "sk-moot-test-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "Plan a tiny change"}]


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    """litellm caches HTTP clients per event loop; close them before this test's loop goes away."""
    yield
    await HostedBackend().aclose()


@pytest.fixture
def server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as s:
        yield s


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MOOT_TEST_KEY", KEY)
    return KEY


def gpt(server: OpenAIStandIn, model: str = "openai/gpt-4o-mini", name: str = "gpt") -> ModelConfig:
    return ModelConfig(name=name, model=model, api_base=server.url, api_key_env="MOOT_TEST_KEY")


async def collect(model: ModelConfig, params: Params | None = None) -> list[Event]:
    events = [e async for e in stream(model, MESSAGES, params or Params(retries=0))]
    for e in events:  # whatever happened, the key never shows
        assert not (isinstance(e, Error) and KEY in e.message), e
    return events


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_streams_text_usage_and_done(server: OpenAIStandIn, key: str) -> None:
    server.script("gpt-4o-mini", "First, read the code. Then change it.", prompt_tokens=17)
    events = await collect(gpt(server))
    assert text_of(events) == "First, read the code. Then change it."
    assert len([e for e in events if isinstance(e, TextDelta)]) == 7  # one event per streamed token, in order
    assert events[-2:] == [Usage(prompt_tokens=17, completion_tokens=7), Done("stop")]
    body = server.completions[0].body
    assert body["model"] == "gpt-4o-mini" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == MESSAGES


async def test_max_tokens_gives_length(server: OpenAIStandIn, key: str) -> None:
    server.script("gpt-4o-mini", "one two three four five six")
    events = await collect(gpt(server), Params(max_tokens=3, retries=0))
    assert text_of(events) == "one two three"
    assert server.completions[0].body["max_tokens"] == 3
    assert events[-2:] == [Usage(prompt_tokens=8, completion_tokens=3), Done("length")]


async def test_reasoning_becomes_thinking(server: OpenAIStandIn, key: str) -> None:
    server.script("gpt-4o-mini", "Answer.", reasoning="Let me think.")
    events = await collect(gpt(server))
    thinking = [e.text for e in events if isinstance(e, ThinkingDelta)]
    assert "".join(thinking) == "Let me think."
    assert text_of(events) == "Answer."
    assert events.index(next(e for e in events if isinstance(e, ThinkingDelta))) < events.index(
        TextDelta("Answer.")
    )


async def test_authorization_header_carries_key_from_env(server: OpenAIStandIn, key: str) -> None:
    await collect(gpt(server))
    assert server.completions[0].headers["authorization"] == f"Bearer {KEY}"


async def test_self_hosted_without_key_env_never_sends_openai_key(
    server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key-must-stay-home")
    model = ModelConfig(name="box", model="openai/gpt-4o-mini", api_base=server.url)
    events = await collect(model)
    assert events[-1] == Done("stop")
    assert "sk-real-openai" not in server.completions[0].headers.get("authorization", "")


async def test_429_once_then_success_is_retried(server: OpenAIStandIn, key: str) -> None:
    server.fail(429, retry_after=0)
    events = await collect(gpt(server), Params(backoff_s=0.01))
    assert text_of(events) == "Hello from the stand-in server."
    assert events[-1] == Done("stop")
    assert [r.status for r in server.completions] == [429, 200]


async def test_persistent_500_fails_alone(server: OpenAIStandIn, key: str) -> None:
    server.fail(500, times=50, model="gpt-4o-mini")
    server.script("gpt-4o", "The other model is fine.")
    failing, healthy = await asyncio.gather(
        collect(gpt(server), Params(retries=2, backoff_s=0.01)),
        collect(gpt(server, "openai/gpt-4o", "gpt4o"), Params(retries=2, backoff_s=0.01)),
    )
    assert isinstance(failing[-1], Error)
    assert (failing[-1].kind, failing[-1].status, failing[-1].retryable) == ("server", 500, True)
    assert "after 3 attempts" in failing[-1].message
    assert text_of(healthy) == "The other model is fine." and healthy[-1] == Done("stop")
    # moot retried twice; neither litellm nor the OpenAI SDK added retries of their own
    assert len([r for r in server.completions if r.model == "gpt-4o-mini"]) == 3


async def test_timeout(server: OpenAIStandIn, key: str) -> None:
    server.stall(5)
    started = time.monotonic()
    events = await collect(gpt(server), Params(timeout_s=0.3, retries=0))
    assert isinstance(events[-1], Error) and events[-1].kind == "timeout"
    assert time.monotonic() - started < 2


def test_litellm_timeout_maps_to_timeout() -> None:
    """litellm's own timeout (a backstop behind stream()'s deadline) surfaces as a retryable timeout."""
    import litellm

    from moot.core.providers.hosted import map_error

    err = map_error(litellm.Timeout(message="Request timed out.", model="gpt-4o-mini", llm_provider="openai"))
    assert (err.kind, err.retryable) == ("timeout", True)


async def test_connection_refused(key: str) -> None:
    model = ModelConfig(
        name="gone",
        model="openai/gpt-4o-mini",
        api_base=f"http://127.0.0.1:{free_port()}/v1",
        api_key_env="MOOT_TEST_KEY",
    )
    events = await collect(model)
    assert isinstance(events[-1], Error)
    assert (events[-1].kind, events[-1].retryable) == ("connection", True)


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, "bad_request", False),
        (401, "auth", False),
        (403, "auth", False),
        (404, "not_found", False),
        (422, "bad_request", False),
        (429, "rate_limit", True),
        (500, "server", True),
        (502, "server", True),
        (503, "server", True),
    ],
)
async def test_http_errors_are_classified(
    server: OpenAIStandIn, key: str, status: int, kind: str, retryable: bool
) -> None:
    server.fail(status, message="Something specific went wrong.\nTraceback (most recent call last): ...")
    events = await collect(gpt(server))
    host = server.url.removeprefix("http://").removesuffix("/v1")
    message = f"HTTP {status} from {host}: Something specific went wrong."
    assert events[-1] == Error(kind, message, retryable, status)  # type: ignore[arg-type]


async def test_quota_429_is_not_retried(server: OpenAIStandIn, key: str) -> None:
    server.fail(429, message="You exceeded your current quota, please check your plan and billing details.")
    events = await collect(gpt(server), Params(backoff_s=0.01))
    assert isinstance(events[-1], Error) and (events[-1].kind, events[-1].retryable) == ("rate_limit", False)
    assert len(server.completions) == 1


async def test_echoed_key_is_redacted(server: OpenAIStandIn, key: str) -> None:
    server.fail(401, message="Incorrect API key provided: {api_key}. Find your key in your account.")
    events = await collect(gpt(server))
    last = events[-1]
    assert isinstance(last, Error) and last.kind == "auth"
    assert KEY not in last.message and "Incorrect API key provided: ***" in last.message


async def test_missing_key_fails_before_any_request(
    server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOOT_TEST_KEY", raising=False)
    events = await collect(gpt(server), Params(backoff_s=0.01))
    assert isinstance(events[-1], Error) and events[-1].kind == "auth"
    assert "set MOOT_TEST_KEY" in events[-1].message and not events[-1].retryable
    assert server.requests == []


async def test_availability(server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = HostedBackend()
    monkeypatch.delenv("MOOT_TEST_KEY", raising=False)
    missing = await backend.availability(gpt(server))
    assert not missing.usable
    assert missing.reason == "unavailable (set MOOT_TEST_KEY)" and missing.fix == "export MOOT_TEST_KEY=..."
    monkeypatch.setenv("MOOT_TEST_KEY", KEY)
    assert (await backend.availability(gpt(server))).usable
    assert (await backend.availability(ModelConfig(name="box", model="openai/x", api_base=server.url))).usable
    assert not (
        await backend.availability(ModelConfig(name="o", model="openai/gpt-4o"))
    ).usable  # OPENAI_API_KEY
    assert server.requests == []  # no network


def test_cost() -> None:
    backend = HostedBackend()
    known = ModelConfig(name="gpt", model="openai/gpt-4o-mini")
    cost = backend.cost(known, Usage(prompt_tokens=1000, completion_tokens=500))
    assert 0 < cost < 0.01
    assert estimate_cost(known, 1000, 500) == cost
    assert estimate_cost(known, 2000, 1000) == pytest.approx(2 * cost)
    unknown = ModelConfig(name="mystery", model="openai/no-such-model-anywhere")
    assert backend.cost(unknown, Usage(prompt_tokens=1000, completion_tokens=500)) == 0.0
    assert estimate_cost(unknown, 1000, 500) is None


async def test_cancelling_the_consumer_disconnects(server: OpenAIStandIn, key: str) -> None:
    server.script("gpt-4o-mini", " word" * 200, token_delay_s=0.02)  # 4 s if nobody stops it
    seen: list[Event] = []

    async def consume() -> None:
        async for event in stream(gpt(server), MESSAGES, Params(retries=0)):
            seen.append(event)

    task = asyncio.create_task(consume())
    while len(seen) < 3:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.wait_for, lambda: server.disconnects == 1, 2.0)
    assert not server.completions[0].completed
    assert len(seen) < 20


async def test_aclose_closes_the_http_response(server: OpenAIStandIn, key: str) -> None:
    """Closing the backend's generator (no task cancellation involved) must close the connection itself."""
    server.script("gpt-4o-mini", " word" * 200, token_delay_s=0.02)
    agen = HostedBackend().stream(
        gpt(server), MESSAGES, Params(timeout_s=10, max_tokens=1000, temperature=0.0)
    )
    count = 0
    async for _ in agen:
        count += 1
        if count == 3:
            break
    await agen.aclose()
    # wait off the event loop: the socket is really closed on the loop's next turn
    assert await asyncio.to_thread(server.wait_for, lambda: server.disconnects == 1, 1.0)


def test_module_import_does_not_import_litellm() -> None:
    code = "import sys, moot.core.providers.hosted; print('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_standin_speaks_openai_sse(server: OpenAIStandIn) -> None:
    server.script("m1", "Hi there")
    with httpx.Client(timeout=5) as client:
        body = {
            "model": "m1",
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        r = client.post(f"{server.url}/chat/completions", json=body)
        assert r.headers["content-type"].startswith("text/event-stream")
        frames = r.text.split("\n\n")
        assert frames[-2:] == ["data: [DONE]", ""]
        chunks = [json.loads(f.removeprefix("data: ")) for f in frames[:-2]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert [c["choices"][0]["delta"].get("content") for c in chunks[:2]] == ["Hi", " there"]
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert chunks[2]["choices"][0]["finish_reason"] == "stop"
        assert chunks[3]["choices"] == [] and chunks[3]["usage"]["completion_tokens"] == 2
        full = client.post(
            f"{server.url}/chat/completions", json={"model": "m1", "messages": MESSAGES}
        ).json()
        assert full["object"] == "chat.completion" and full["choices"][0]["message"]["content"] == "Hi there"
        server.fail(429)
        limited = client.post(f"{server.url}/chat/completions", json={"model": "m1", "messages": MESSAGES})
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert [m["id"] for m in client.get(f"{server.url}/models").json()["data"]] == ["m1"]
    assert split_tokens(" a  b\nc") == [" a", "  b", "\nc"]


async def test_a_schema_goes_as_response_format_where_the_model_supports_it(server: OpenAIStandIn, key: str) -> None:
    schema = {"type": "object", "properties": {"verdict": {"enum": ["PASS", "BLOCK"]}}, "required": ["verdict"]}
    await collect(gpt(server, "openai/gpt-4o"), Params(retries=0, schema=schema))
    sent = server.completions[-1].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == schema
    # a model the price table does not know may not understand it: the schema is left out
    await collect(gpt(server, "openai/some-unknown-model"), Params(retries=0, schema=schema))
    assert "response_format" not in server.completions[-1].body
    await collect(gpt(server, "openai/gpt-4o"), Params(retries=0))
    assert "response_format" not in server.completions[-1].body


# -- cancelled and timed-out calls are closed cleanly --------------------------------------------------------


async def test_timeouts_and_cancellations_at_any_moment_leave_no_warning_and_no_open_request(
    server: OpenAIStandIn, key: str
) -> None:
    """A deadline or a cancellation may land while litellm's worker thread prepares the request: the request
    it hands back is still closed ("coroutine ... was never awaited" on stderr before), and every request the
    server saw ends, answered or abandoned."""
    server.script("gpt-4o-mini", " word" * 60, token_delay_s=0.01)
    model = gpt(server)
    await collect(model)  # litellm imported and its client made: what is left is the per-call work
    gc.collect()  # what earlier tests left behind is not this test's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for limit in (0.0005, 0.002, 0.005, 0.01, 0.03, 0.1):
            events = await collect(model, Params(retries=0, timeout_s=limit))
            assert events[-1] == Error("timeout", f"no answer within {limit:g} s")
        for delay in (0.0, 0.001, 0.003, 0.01, 0.05):
            async def consume() -> None:
                async for _ in stream(model, MESSAGES, Params(retries=0)):
                    pass

            task = asyncio.create_task(consume())
            await asyncio.sleep(delay)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await HostedBackend().aclose()
        await asyncio.sleep(0.05)
        gc.collect()
    problems = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning | ResourceWarning)]
    assert problems == []
    ended = lambda: all(r.completed or r.aborted for r in server.completions)  # noqa: E731
    assert await asyncio.to_thread(server.wait_for, ended, 3.0), server.completions


async def test_a_call_timed_out_while_litellm_prepares_it_is_not_sent_half_way(
    server: OpenAIStandIn, key: str
) -> None:
    """A call whose limit runs out while litellm prepares its request (the client's import is not counted) is
    dropped cleanly, the first and the next."""
    code = f"""
import asyncio, gc, sys, warnings
sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parent)!r})
warnings.simplefilter("error", RuntimeWarning)
from moot.core.config.models import ModelConfig
from moot.core.providers.base import Params
from moot.core.providers.hosted import HostedBackend
from moot.core.providers.stream import stream

async def main():
    model = ModelConfig(name="g", model="openai/gpt-4o-mini", api_base={server.url!r}, api_key_env="MOOT_TEST_KEY")
    for limit in (0.01, 0.01):
        events = [e async for e in stream(model, [{{"role": "user", "content": "hi"}}], Params(retries=0, timeout_s=limit))]
        print(events[-1].kind)
        gc.collect()
    await HostedBackend().aclose()

asyncio.run(main())
gc.collect()
"""
    out = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-X", "dev", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["timeout", "timeout"]
    assert "never awaited" not in out.stderr and "ResourceWarning" not in out.stderr, out.stderr


async def test_reasoning_effort_reaches_a_model_that_takes_one_and_no_other(server: OpenAIStandIn, key: str) -> None:
    server.script("o3-mini", "Thought through.")
    server.script("gpt-4o-mini", "Plain.")
    assert text_of(await collect(gpt(server, "openai/o3-mini"), Params(retries=0, effort="high"))) == "Thought through."
    assert server.requests[-1].body.get("reasoning_effort") == "high", server.requests[-1].body
    assert text_of(await collect(gpt(server), Params(retries=0, effort="high"))) == "Plain."
    assert "reasoning_effort" not in server.requests[-1].body  # the client says this model takes none


async def test_a_seed_is_sent_only_when_given(server: OpenAIStandIn, key: str) -> None:
    server.script("gpt-4o-mini", "Same again.")
    await collect(gpt(server), Params(retries=0, seed=42))
    assert server.requests[-1].body.get("seed") == 42
    server.script("gpt-4o-mini", "Any.")
    await collect(gpt(server), Params(retries=0))
    assert "seed" not in server.requests[-1].body


async def test_the_first_call_does_not_pay_for_the_client_s_import(server: OpenAIStandIn, key: str) -> None:
    """In a fresh process the first hosted call waits for litellm's import (seconds) without its limit running:
    a 2 s limit is enough for a quick answer."""
    server.script("gpt-4o-mini", "Quick.")
    code = f"""
import asyncio, sys, time
from moot.core.config.models import ModelConfig
from moot.core.events import Queued, Started, TextDelta
from moot.core.providers.base import Params
from moot.core.providers.stream import stream

async def main():
    model = ModelConfig(name="g", model="openai/gpt-4o-mini", api_base={server.url!r}, api_key_env="MOOT_TEST_KEY")
    t0 = time.monotonic()
    events = [e async for e in stream(model, [{{"role": "user", "content": "hi"}}], Params(retries=0, timeout_s=2.0))]
    kinds = [type(e).__name__ for e in events]
    print(kinds[0], kinds[1], "".join(e.text for e in events if isinstance(e, TextDelta)), time.monotonic() - t0 > 0)

asyncio.run(main())
"""
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True,
                                  timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Queued", "Started", "Quick.", "True"], out.stdout
