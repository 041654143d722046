"""The Ollama backend against a stand-in server speaking Ollama's REST API, through the official client."""

from __future__ import annotations

import asyncio
import gc
import json
import time
import warnings

import httpx
import pytest

from moot.core.config.models import ModelConfig
from moot.core.events import Done, Error, Perf, ProviderError, TextDelta, ThinkingDelta, Usage
from moot.core.providers.base import Params, backend_for, close_backends
from moot.core.providers.ollama import (
    OllamaBackend,
    list_models,
    resolve_host,
    running_models,
    server_version,
    show_model,
)
from moot.core.providers.stream import stream
from standins.ollama_server import OllamaStandIn

TAG = "qwen2.5-coder:7b"
PIECES = ["def ", "add", "(a, b):", " return a + b"]
# Durations chosen as exact binary fractions of a second, so the rates are exact floats.
FIGURES = {
    "total_duration": 1_500_000_000,
    "load_duration": 500_000_000,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 125_000_000,  # 0.125 s -> 208 tokens/s
    "eval_count": 10,
    "eval_duration": 250_000_000,  # 0.25 s -> 40 tokens/s
}
MESSAGES = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "add two numbers"},
]


@pytest.fixture
async def server():
    with OllamaStandIn() as s:
        s.add_model(TAG, pieces=list(PIECES), figures=dict(FIGURES))
        yield s
        await close_backends()


def cfg(host: str | None, model: str = f"ollama/{TAG}", **kw) -> ModelConfig:
    return ModelConfig(name="coder", model=model, api_base=host, **kw)


async def collect(model: ModelConfig, params: Params | None = None) -> list:
    return [e async for e in stream(model, MESSAGES, params or Params(retries=0))]


def text_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# -- streaming ---------------------------------------------------------------------------------------------


async def test_text_usage_perf_from_final_line(server: OllamaStandIn) -> None:
    events = await collect(cfg(server.url))
    assert text_of(events) == "".join(PIECES)
    assert [type(e) for e in events[-3:]] == [Usage, Perf, Done]
    assert events[-3] == Usage(prompt_tokens=26, completion_tokens=10)
    perf = events[-2]
    assert (perf.prompt_eval_count, perf.prompt_eval_duration) == (26, 125_000_000)
    assert (perf.eval_count, perf.eval_duration) == (10, 250_000_000)
    assert (perf.load_duration, perf.total_duration) == (500_000_000, 1_500_000_000)
    assert perf.eval_rate == 40.0
    assert perf.prompt_eval_rate == 208.0
    assert perf.ttft_s > 0.0  # filled in by stream(), the backend leaves it at 0
    assert events[-1] == Done("stop")
    assert isinstance(backend_for(cfg(server.url)), OllamaBackend)


async def test_direct_backend_leaves_ttft_zero(server: OllamaStandIn) -> None:
    backend = OllamaBackend()
    try:
        events = [e async for e in backend.stream(cfg(server.url), MESSAGES, Params(max_tokens=100))]
    finally:
        await backend.aclose()
    assert text_of(events) == "".join(PIECES)
    perf = next(e for e in events if isinstance(e, Perf))
    assert perf.ttft_s == 0.0 and perf.eval_rate == 40.0
    assert isinstance(events[-1], Done)


async def test_omitted_zero_fields_become_zero(server: OllamaStandIn) -> None:
    server.add_model(
        "warm:1b",
        pieces=["ok"],
        figures={"total_duration": 9_000_000, "eval_count": 1, "eval_duration": 8_000_000},
    )
    # The wire format really omits them, as Ollama does for a warm model with a cached prompt.
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/chat", json={"model": "warm:1b", "messages": MESSAGES})
    final = json.loads(r.text.strip().splitlines()[-1])
    assert final["done"] is True
    assert not {"load_duration", "prompt_eval_count", "prompt_eval_duration"} & final.keys()

    events = await collect(cfg(server.url, "ollama/warm:1b"))
    perf = next(e for e in events if isinstance(e, Perf))
    assert perf == Perf(eval_count=1, eval_duration=8_000_000, total_duration=9_000_000, ttft_s=perf.ttft_s)
    assert perf.prompt_eval_rate == 0.0 and perf.eval_rate == 125.0
    assert next(e for e in events if isinstance(e, Usage)) == Usage(0, 1)


async def test_options_sent(server: OllamaStandIn) -> None:
    await collect(cfg(server.url), Params(max_tokens=77, temperature=0.25, num_ctx=8192, retries=0))
    await collect(cfg(server.url, num_ctx=None), Params(max_tokens=5, temperature=0.0, retries=0))
    first, second = (r.body for r in server.requests_to("/api/chat"))
    assert first["model"] == TAG and first["stream"] is True
    assert first["messages"] == MESSAGES
    assert first["options"] == {"num_predict": 77, "temperature": 0.25, "num_ctx": 8192}
    assert second["options"] == {"num_predict": 5, "temperature": 0.0}
    await collect(cfg(server.url, num_ctx=None, seed=11), Params(max_tokens=5, temperature=0.0, retries=0))
    assert server.requests_to("/api/chat")[-1].body["options"]["seed"] == 11  # the model's seed, when it has one


async def test_num_ctx_from_model_config(server: OllamaStandIn) -> None:
    await collect(cfg(server.url, num_ctx=16384))
    assert server.requests_to("/api/chat")[0].body["options"]["num_ctx"] == 16384


async def test_num_predict_stops_with_length(server: OllamaStandIn) -> None:
    events = await collect(cfg(server.url), Params(max_tokens=2, retries=0))
    assert text_of(events) == "def add"
    assert events[-1] == Done("length")


async def test_ollama_chat_prefix(server: OllamaStandIn) -> None:
    events = await collect(cfg(server.url, f"ollama_chat/{TAG}"))
    assert text_of(events) == "".join(PIECES)
    assert server.requests_to("/api/chat")[0].body["model"] == TAG


async def test_thinking_deltas(server: OllamaStandIn) -> None:
    server.add_model("qwen3:8b", pieces=["42"], thinking=["Let me", " think."])
    events = await collect(cfg(server.url, "ollama/qwen3:8b"))
    deltas = [e for e in events if isinstance(e, TextDelta | ThinkingDelta)]
    assert deltas == [ThinkingDelta("Let me"), ThinkingDelta(" think."), TextDelta("42")]


# -- errors and retries ------------------------------------------------------------------------------------


async def test_unpulled_model_is_not_found_with_pull_hint(server: OllamaStandIn) -> None:
    events = await collect(cfg(server.url, "ollama/llama3.2:1b"), Params(retries=3, backoff_s=0.01))
    err = events[-1]
    assert isinstance(err, Error) and err.kind == "not_found" and err.status == 404
    assert err.message == f'model "llama3.2:1b" is not pulled on {server.url} (run: ollama pull llama3.2:1b)'
    assert len(server.requests_to("/api/chat")) == 1  # not retried


async def test_bad_request_not_retried(server: OllamaStandIn) -> None:
    server.add_model("bad:1b", fail="bad_request", error="invalid options")
    events = await collect(cfg(server.url, "ollama/bad:1b"), Params(retries=3, backoff_s=0.01))
    err = events[-1]
    assert isinstance(err, Error) and err.kind == "bad_request" and not err.retryable
    assert "invalid options" in err.message
    assert len(server.requests_to("/api/chat")) == 1


async def test_503_once_then_success_is_retried(server: OllamaStandIn) -> None:
    server.models[TAG].fail, server.models[TAG].fail_times = "unavailable", 1
    events = await collect(cfg(server.url), Params(retries=2, backoff_s=0.01))
    assert not any(isinstance(e, Error) for e in events)
    assert text_of(events) == "".join(PIECES) and events[-1] == Done("stop")
    assert len(server.requests_to("/api/chat")) == 2


async def test_503_every_time_gives_up(server: OllamaStandIn) -> None:
    server.models[TAG].fail = "unavailable"
    events = await collect(cfg(server.url), Params(retries=2, backoff_s=0.01))
    err = events[-1]
    assert isinstance(err, Error) and err.kind == "server" and err.retryable and err.status == 503
    assert "server busy" in err.message and "after 3 attempts" in err.message
    assert len(server.requests_to("/api/chat")) == 3


async def test_error_line_mid_stream_after_text(server: OllamaStandIn) -> None:
    server.models[TAG].fail, server.models[TAG].fail_after = "error_mid_stream", 2
    server.models[TAG].error = "llama runner process has terminated"
    events = await collect(cfg(server.url), Params(retries=3, backoff_s=0.01))
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("def "), TextDelta("add")]
    err = events[-1]
    assert isinstance(err, Error) and err.kind == "server" and err.retryable
    assert "llama runner process has terminated" in err.message
    assert len(server.requests_to("/api/chat")) == 1  # text was shown: no retry


async def test_host_down_is_a_quick_connection_error() -> None:
    started = time.monotonic()
    events = await collect(cfg(None))  # no api_base: OLLAMA_HOST (conftest: nothing listens on port 9)
    err = events[-1]
    assert isinstance(err, Error) and err.kind == "connection" and err.retryable
    assert err.message == "Ollama is not reachable at http://127.0.0.1:9 (start it with: ollama serve)"
    assert time.monotonic() - started < 2.0
    await close_backends()


async def test_host_down_then_back_up(server: OllamaStandIn) -> None:
    model = cfg(server.url)
    assert text_of(await collect(model)) == "".join(PIECES)  # leaves a pooled keep-alive connection
    server.stop()
    err = (await collect(model))[-1]
    assert isinstance(err, Error) and err.kind == "connection"
    assert server.url in err.message
    server.start()
    events = await collect(model)
    assert text_of(events) == "".join(PIECES) and events[-1] == Done("stop")


async def test_server_dropping_mid_stream_is_a_connection_error(server: OllamaStandIn) -> None:
    server.models[TAG].delay_s = 0.05
    seen: list = []

    async def consume() -> None:
        async for e in stream(cfg(server.url), MESSAGES, Params(retries=0)):
            seen.append(e)
            if isinstance(e, TextDelta) and len(seen) == 1:
                await asyncio.to_thread(server.stop)

    await asyncio.wait_for(consume(), 5)
    assert seen[0] == TextDelta("def ")
    assert isinstance(seen[-1], Error) and seen[-1].kind == "connection"


def test_one_backend_serves_successive_event_loops() -> None:
    """backend_for() keeps one backend for the process; its pooled connections must not leak across loops."""
    backend = OllamaBackend()

    async def ask(url: str) -> tuple[str, bool]:
        text = text_of([e async for e in backend.stream(cfg(url), MESSAGES, Params(max_tokens=100))])
        return text, (await backend.availability(cfg(url))).usable  # leaves a pooled keep-alive connection

    with OllamaStandIn() as s:
        s.add_model(TAG, pieces=list(PIECES))
        assert asyncio.run(ask(s.url)) == ("".join(PIECES), True)
        assert asyncio.run(ask(s.url)) == ("".join(PIECES), True)


# -- cancellation ------------------------------------------------------------------------------------------


async def test_cancelling_the_task_closes_the_request(server: OllamaStandIn) -> None:
    server.add_model("slow:1b", pieces=[f"t{i} " for i in range(100)], delay_s=0.05)
    got_text = asyncio.Event()

    async def consume() -> None:
        async for e in stream(cfg(server.url, "ollama/slow:1b"), MESSAGES, Params(retries=0)):
            if isinstance(e, TextDelta):
                got_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_text.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.wait_aborted, 2.0)  # would take 5 s to finish on its own
    record = server.streams[-1]
    assert record.aborted and not record.finished and record.pieces_sent < 100


async def test_closing_the_backend_stream_closes_the_request(server: OllamaStandIn) -> None:
    server.add_model("slow:1b", pieces=[f"t{i} " for i in range(100)], delay_s=0.05)
    backend = OllamaBackend()
    agen = backend.stream(cfg(server.url, "ollama/slow:1b"), MESSAGES, Params(max_tokens=1000))
    assert await agen.__anext__() == TextDelta("t0 ")
    await agen.aclose()
    # Deliberately blocking (no await): the HTTP response must be closed by aclose() itself, not later by
    # the event loop's async-generator finaliser.
    assert server.wait_aborted(1.0)
    assert server.streams[-1].aborted
    await backend.aclose()


# -- availability ------------------------------------------------------------------------------------------


async def test_availability_pulled_and_latest_equivalence(server: OllamaStandIn) -> None:
    server.add_model("llama3")  # listed as llama3:latest
    backend = OllamaBackend()
    try:
        assert (await backend.availability(cfg(server.url))).usable
        assert (await backend.availability(cfg(server.url, "ollama/llama3"))).usable
        assert (await backend.availability(cfg(server.url, "ollama/llama3:latest"))).usable
        assert not (await backend.availability(cfg(server.url, "ollama/llama3:8b"))).usable
    finally:
        await backend.aclose()


async def test_availability_not_pulled(server: OllamaStandIn) -> None:
    backend = OllamaBackend()
    a = await backend.availability(cfg(server.url, "ollama/mistral:7b"))
    await backend.aclose()
    assert not a.usable
    assert a.reason == f"not pulled on {server.url}"
    assert a.fix == "ollama pull mistral:7b"


async def test_availability_host_down() -> None:
    backend = OllamaBackend()
    a = await backend.availability(cfg("127.0.0.1:9"))
    await backend.aclose()
    assert not a.usable
    assert a.reason == "Ollama not reachable at http://127.0.0.1:9"
    assert a.fix == "start Ollama (ollama serve) or set [ollama] host / OLLAMA_HOST"


# -- helpers -----------------------------------------------------------------------------------------------


async def test_list_models(server: OllamaStandIn) -> None:
    server.add_model("llama3")
    assert await list_models(server.url) == [TAG, "llama3:latest"]


async def test_running_models(server: OllamaStandIn) -> None:
    assert await running_models(server.url) == []
    entry = server.load(TAG, size_vram=2_000_000_000, context_length=8192)
    [running] = await running_models(server.url)
    assert running == {
        "model": TAG,
        "size": entry["size"],
        "size_vram": 2_000_000_000,
        "context_length": 8192,
        "expires_at": entry["expires_at"],
    }
    server.running.clear()
    assert await running_models(server.url) == []


async def test_server_version_and_show(server: OllamaStandIn) -> None:
    assert await server_version(server.url) == "0.9.0"
    info = await show_model(server.url, TAG)
    assert {"modelfile", "parameters", "template", "details", "model_info", "capabilities"} <= info.keys()
    assert info["details"]["family"] == "qwen2" and info["capabilities"] == ["completion"]
    assert server.requests_to("/api/show")[-1].body == {"model": TAG}
    with pytest.raises(ProviderError) as e:
        await show_model(server.url, "nope:1b")
    assert e.value.kind == "not_found" and "ollama pull nope:1b" in e.value.message


@pytest.mark.parametrize("helper", [list_models, running_models, server_version])
async def test_helpers_raise_connection_when_down(helper) -> None:
    with pytest.raises(ProviderError) as e:
        await helper("http://127.0.0.1:9")
    assert e.value.kind == "connection" and "http://127.0.0.1:9" in e.value.message


async def test_show_raises_connection_when_down() -> None:
    with pytest.raises(ProviderError) as e:
        await show_model("http://127.0.0.1:9", TAG)
    assert e.value.kind == "connection"


# -- host resolution ---------------------------------------------------------------------------------------


def test_resolve_host(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_host(None) == "http://127.0.0.1:9"  # OLLAMA_HOST from conftest
    assert resolve_host("http://gpu-box:11434/") == "http://gpu-box:11434"
    assert resolve_host("gpu-box:8080") == "http://gpu-box:8080"
    assert resolve_host("gpu-box") == "http://gpu-box:11434"
    assert resolve_host("[::1]:8080") == "http://[::1]:8080"
    assert resolve_host("https://ollama.example.com") == "https://ollama.example.com"
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:11500")
    assert resolve_host(None) == "http://0.0.0.0:11500"
    monkeypatch.delenv("OLLAMA_HOST")
    assert resolve_host(None) == "http://127.0.0.1:11434"
    assert resolve_host("") == "http://127.0.0.1:11434"


# -- the stand-in itself (reused by later work) -------------------------------------------------------------


async def test_standin_generate_and_non_streaming(server: OllamaStandIn) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post(
            "/api/generate", json={"model": TAG, "prompt": "hi", "options": {"num_predict": 3}}
        )
        assert r.headers["content-type"] == "application/x-ndjson"
        assert r.headers["transfer-encoding"] == "chunked"
        lines = [json.loads(x) for x in r.text.splitlines()]
        assert [x["response"] for x in lines[:-1]] == PIECES[:3]
        assert lines[-1]["done"] is True and lines[-1]["done_reason"] == "length"
        assert lines[-1]["eval_count"] == 10 and "message" not in lines[-1]
        r = await http.post("/api/chat", json={"model": TAG, "messages": MESSAGES, "stream": False})
        one = r.json()
        assert one["message"] == {"role": "assistant", "content": "".join(PIECES)} and one["done"] is True
        tags = (await http.get("/api/tags")).json()["models"]
        assert (
            tags[0]["name"] == TAG
            and {"format", "family", "families", "parameter_size", "quantization_level"}
            <= tags[0]["details"].keys()
        )
        r = await http.post("/api/chat", json={"model": "ghost", "messages": MESSAGES})
        assert r.status_code == 404
        assert r.json() == {"error": 'model "ghost" not found, try pulling it first'}


# -- cancelled and timed-out calls are closed cleanly, errors read as one line -------------------------------


async def test_timeouts_and_cancellations_at_any_moment_leave_no_warning_and_no_open_request(
    server: OllamaStandIn,
) -> None:
    server.add_model("slow:1b", pieces=[f"t{i} " for i in range(40)], delay_s=0.02)
    model = cfg(server.url, "ollama/slow:1b")
    gc.collect()  # what earlier tests left behind is not this test's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for limit in (0.0005, 0.002, 0.01, 0.03, 0.1):
            events = await collect(model, Params(retries=0, timeout_s=limit))
            assert events[-1] == Error("timeout", f"no answer within {limit:g} s")
        for delay in (0.0, 0.001, 0.005, 0.02, 0.1):
            async def consume() -> None:
                async for _ in stream(model, MESSAGES, Params(retries=0)):
                    pass

            task = asyncio.create_task(consume())
            await asyncio.sleep(delay)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await close_backends()
        await asyncio.sleep(0.05)
        gc.collect()
    problems = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning | ResourceWarning)]
    assert problems == []

    def ended() -> bool:
        return all(r.finished or r.aborted for r in server.streams)

    for _ in range(60):  # every request the server saw ends: answered or abandoned
        if ended():
            break
        await asyncio.sleep(0.05)
    assert ended(), server.streams


async def test_a_server_error_with_escapes_and_newlines_is_one_printable_line(server: OllamaStandIn) -> None:
    server.add_model("odd:1b", fail="bad_request", error="bad \x1b]0;PWNED\x07 options\nsecond line")
    events = await collect(cfg(server.url, "ollama/odd:1b"))
    err = events[-1]
    assert isinstance(err, Error) and err.kind == "bad_request"
    assert err.message == 'Ollama rejected the request for "odd:1b": bad \\x1b]0;PWNED\\x07 options'
    assert err.message.isprintable() and "second line" in err.detail
