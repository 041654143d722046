"""The perf store, the analyser, reload detection and moot's stable num_ctx, against the stand-in Ollama server."""

from __future__ import annotations

import logging

import pytest

from conftest import sql
from moot.core.calls import CallContext, run_call
from moot.core.config.models import ModelConfig
from moot.core.events import Perf
from moot.core.perf import num_ctx as num_ctx_mod
from moot.core.perf import reload
from moot.core.perf.analyse import Analyser, quantile, spread
from moot.core.perf.store import PerfStore, Sample, record_call
from moot.core.providers.base import Params, close_backends
from moot.core.storage import Store
from standins.ollama_server import OllamaStandIn

TAG = "qwen2.5-coder:7b"
MODEL = f"ollama/{TAG}"
# Exact binary fractions of a second, so the rates are exact floats.
FIGURES = {
    "total_duration": 1_500_000_000,
    "load_duration": 500_000_000,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 125_000_000,  # 208 tokens/s
    "eval_count": 10,
    "eval_duration": 250_000_000,  # 40 tokens/s
}
MESSAGES = [{"role": "user", "content": "add two numbers"}]
HOST = "http://gpu-box:11434"


@pytest.fixture
async def server():
    with OllamaStandIn() as s:
        s.add_model(TAG, figures=dict(FIGURES))
        yield s
        await close_backends()


@pytest.fixture
def store():
    with Store() as s:
        yield s


def coder(url: str, **kw) -> ModelConfig:
    return ModelConfig(name="coder", model=MODEL, api_base=url, **kw)


async def call(model: ModelConfig, store: Store, params: Params | None = None, phase: str = "propose"):
    return await run_call(model, MESSAGES, params or Params(retries=0), ctx=CallContext(store, None, phase))


def sample(t: float, *, eval_rate: float = 20.0, prompt_rate: float = 500.0, load_s: float = 0.01,
           num_ctx: int | None = 4096, model: str = MODEL, host: str = HOST, **kw) -> Sample:
    """A sample whose rates are exact: counts per one second of evaluation."""
    return Sample(host=host, model=model, prompt_tokens=int(prompt_rate), output_tokens=int(eval_rate),
                  num_ctx=num_ctx, prompt_eval_count=int(prompt_rate), prompt_eval_ns=1_000_000_000,
                  eval_count=int(eval_rate), eval_ns=1_000_000_000, load_ns=int(load_s * 1e9),
                  created_at=t, **kw)


# -- recording from the call path -------------------------------------------------------------------------


async def test_a_local_call_records_exact_rates_with_its_call_id(server: OllamaStandIn, store: Store) -> None:
    result = await call(coder(server.url), store)
    assert result.ok
    [s] = PerfStore(store).samples()
    [row] = sql(store, "SELECT id FROM calls")
    assert (s.host, s.model, s.source, s.call_id) == (server.url, MODEL, "call", row["id"])
    assert (s.prompt_tokens, s.output_tokens) == (26, 10)
    assert (s.prompt_eval_ns, s.eval_ns, s.load_ns, s.total_ns) == (125_000_000, 250_000_000, 500_000_000,
                                                                     1_500_000_000)
    assert s.eval_rate == 40.0 and s.prompt_eval_rate == 208.0 and s.load_s == 0.5
    assert s.latency_s is not None and s.ttft_s is not None and not s.reloaded


async def test_omitted_fields_leave_their_rate_out(server: OllamaStandIn, store: Store) -> None:
    server.add_model("warm:1b", figures={"total_duration": 9_000_000, "eval_count": 1, "eval_duration": 8_000_000})
    model = ModelConfig(name="warm", model="ollama/warm:1b", api_base=server.url)
    await call(model, store)
    await call(model, store)
    [s, _] = PerfStore(store).samples("ollama/warm:1b", server.url)
    assert (s.prompt_eval_count, s.prompt_eval_ns, s.load_ns) == (0, 0, 0)
    assert s.prompt_eval_rate is None and s.eval_rate == 125.0
    st = Analyser(store).stats("ollama/warm:1b", server.url)
    assert st is not None and st.samples == 2
    assert st.prompt_eval_rate is None
    assert st.eval_rate is not None and (st.eval_rate.median, st.eval_rate.p5, st.eval_rate.p95) == (125.0,) * 3
    assert st.load_s is not None and st.load_s.median == 0.0


async def test_failed_calls_record_nothing(server: OllamaStandIn, store: Store) -> None:
    missing = await call(ModelConfig(name="x", model="ollama/nope:1b", api_base=server.url), store)
    assert missing.error is not None and missing.error.kind == "not_found"
    server.models[f"{TAG}"].fail, server.models[TAG].fail_after = "error_mid_stream", 1
    broken = await call(coder(server.url), store)
    assert broken.error is not None and broken.error.kind == "server"
    assert PerfStore(store).samples() == []
    assert len(sql(store, "SELECT id FROM calls")) == 2  # both calls are still logged


async def test_a_perf_store_failure_never_breaks_a_call(server: OllamaStandIn, store: Store, monkeypatch,
                                                        caplog) -> None:
    def broken(self, sample, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(PerfStore, "record", broken)
    with caplog.at_level(logging.WARNING, logger="moot.perf"):
        result = await call(coder(server.url), store)
    assert result.ok and result.text == "Hello, world!"
    assert "disk full" in caplog.text


async def test_hosted_calls_record_nothing(scripted, store: Store) -> None:
    scripted.enqueue("alpha", "hi", perf=Perf(eval_count=5, eval_duration=1_000_000_000))
    await run_call(ModelConfig(name="alpha", model="scripted/alpha"), MESSAGES, ctx=CallContext(store))
    assert PerfStore(store).samples() == []


def test_embedded_figures_are_kept_under_host_embedded(store: Store) -> None:
    perf = Perf(prompt_eval_count=64, prompt_eval_duration=250_000_000, eval_count=16, eval_duration=500_000_000)
    s = record_call(store, ModelConfig(name="smol", model="local/smollm2"), perf, prompt_tokens=80,
                    output_tokens=16, call_id=None, num_ctx=8192, latency_s=0.8)
    assert s is not None and s.host == "embedded" and s.prompt_tokens == 80
    assert (s.prompt_eval_rate, s.eval_rate) == (256.0, 32.0)
    assert [x.host for x in PerfStore(store).samples("local/smollm2")] == ["embedded"]


# -- the analyser ------------------------------------------------------------------------------------------


def test_quantiles_interpolate_linearly() -> None:
    assert quantile([10.0, 20.0, 30.0, 40.0, 50.0], 0.05) == pytest.approx(12.0)
    assert quantile([10.0, 20.0, 30.0, 40.0, 50.0], 0.95) == pytest.approx(48.0)
    one = spread([7.0])
    assert one is not None and (one.median, one.p5, one.p95, one.n) == (7.0, 7.0, 7.0, 1)
    assert spread([None, None]) is None


def test_stats_over_the_most_recent_samples_only(store: Store) -> None:
    perf = PerfStore(store)
    perf.record(sample(1.0, eval_rate=1000.0))  # old: falls outside the window
    for i, rate in enumerate([10.0, 20.0, 30.0, 40.0, 50.0]):
        perf.record(sample(10.0 + i, eval_rate=rate))
    st = Analyser(store, window=5, clock=lambda: 20.0).stats(MODEL, HOST)
    assert st is not None and st.samples == 5 and st.last_at == 14.0 and st.num_ctx == 4096
    assert st.eval_rate is not None
    assert (st.eval_rate.median, st.eval_rate.p5, st.eval_rate.p95) == pytest.approx((30.0, 12.0, 48.0))
    assert st.to_json()["eval_rate"] == {"median": 30.0, "p5": 12.0, "p95": 48.0}
    assert set(st.to_json()) == {"model", "host", "samples", "eval_rate", "prompt_eval_rate", "load_s"}
    assert Analyser(store).stats(MODEL, "http://elsewhere:11434") is None


def test_prediction_from_medians_with_and_without_load(store: Store) -> None:
    perf = PerfStore(store)
    perf.record(sample(100.0, load_s=3.0))  # the cold start
    for t in (110.0, 120.0, 130.0):
        perf.record(sample(t))
    an = Analyser(store, clock=lambda: 140.0)
    warm = an.predict(MODEL, HOST, 1000, 100, loaded=True)
    assert warm is not None
    assert warm.seconds == 7.0 and warm.load_s == 0.0  # 1000/500 + 100/20
    assert (warm.low, warm.high) == (7.0, 7.0)
    cold = an.predict(MODEL, HOST, 1000, 100, loaded=False)
    assert cold is not None and cold.seconds == 10.0 and "load 3.0 s" in cold.basis
    assert an.predict(MODEL, HOST, 1000, 100).seconds == 7.0  # used 10 s ago: still loaded
    later = Analyser(store, clock=lambda: 130.0 + 301)
    assert later.predict(MODEL, HOST, 1000, 100).seconds == 10.0  # idle past keep-alive: unloaded
    assert an.predict("ollama/other:1b", HOST, 1000, 100) is None


def test_prediction_interval_uses_the_slow_and_fast_ends(store: Store) -> None:
    perf = PerfStore(store)
    for i, rate in enumerate([10.0, 20.0, 30.0, 40.0, 50.0]):
        perf.record(sample(1000.0 + i, eval_rate=rate, prompt_rate=1000.0))
    p = Analyser(store).predict(MODEL, HOST, 0, 120, loaded=True)
    assert p is not None
    assert p.seconds == 4.0 and p.low == pytest.approx(120 / 48) and p.high == pytest.approx(10.0)


# -- reload detection --------------------------------------------------------------------------------------


def test_a_warm_models_jumping_load_time_is_a_reload(store: Store, caplog) -> None:
    perf = PerfStore(store)
    for t in (1000.0, 1010.0, 1020.0):
        assert not perf.record(sample(t, load_s=0.01)).reloaded
    with caplog.at_level(logging.WARNING, logger="moot.perf"):
        s = perf.record(sample(1030.0, load_s=4.0, num_ctx=8192))
    assert s.reloaded
    assert s.reload_reason == (f"{MODEL} reloaded on {HOST}: load 4.00 s against a warm 0.01 s; "
                               "last used 10 s before; num_ctx changed 4096 → 8192")
    assert s.reload_reason in caplog.text
    [stored] = perf.reloads()
    assert stored.id == s.id and stored.reloaded and stored.reload_reason == s.reload_reason
    st = Analyser(store).stats(MODEL, HOST)
    assert st is not None and st.reloads == 1 and st.cold_load_s is not None and st.cold_load_s.median == 4.0


def test_a_load_after_the_model_expired_is_not_a_reload(store: Store) -> None:
    perf = PerfStore(store)
    perf.record(sample(1000.0, load_s=0.01))
    assert not perf.record(sample(4600.0, load_s=4.0)).reloaded
    assert not perf.record(sample(4700.0, load_s=4.0), was_loaded=False).reloaded  # the host said unloaded


def test_a_load_when_the_host_listed_the_model_loaded_is_a_reload(store: Store) -> None:
    s = PerfStore(store).record(sample(1000.0, load_s=2.5), was_loaded=True)
    assert s.reloaded and s.reload_reason == f"{MODEL} reloaded on {HOST}: load 2.50 s; it was loaded before the call"


def test_small_jitter_in_a_warm_load_time_is_not_a_load() -> None:
    assert not reload.is_load(150_000_000, 10_000_000)  # under the 0.2 s floor
    assert not reload.is_load(400_000_000, 100_000_000)  # under five times the baseline
    assert reload.is_load(600_000_000, 100_000_000)
    assert reload.warm_baseline_ns([10, 30, 4_000_000_000, 20]) == 20


async def test_reload_detected_on_the_wire(server: OllamaStandIn, store: Store) -> None:
    server.models[TAG].figures = {**FIGURES, "load_duration": 5_000_000}
    model = coder(server.url, num_ctx=4096)
    await call(model, store)
    await call(model, store)
    server.models[TAG].next_figures.append({**FIGURES, "load_duration": 3_000_000_000})
    await call(model, store)
    newest, *older = PerfStore(store).samples(MODEL, server.url)
    assert newest.reloaded and "load 3.00 s against a warm 0.01 s" in (newest.reload_reason or "")
    assert not any(s.reloaded for s in older)


# -- moot's stable num_ctx ---------------------------------------------------------------------------------


def sent_num_ctx(server: OllamaStandIn) -> list[int | None]:
    return [(r.body.get("options") or {}).get("num_ctx") for r in server.requests_to("/api/chat")]


async def test_first_num_ctx_is_learned_then_sent_on_every_call(server: OllamaStandIn, store: Store) -> None:
    server.models[TAG].figures = None  # derived figures, no load time of their own
    server.models[TAG].load_ns = 2_000_000_000  # the stand-in loads like a server: on first use, on a new num_ctx
    model = coder(server.url)
    for _ in range(3):
        assert (await call(model, store)).ok
    assert sent_num_ctx(server) == [None, 4096, 4096]  # the server's own default, then held
    assert store.get_pref("num_ctx", f"{server.url} {MODEL}") == 4096
    samples = PerfStore(store).samples(MODEL, server.url)
    assert [s.load_ns for s in samples] == [0, 0, 2_000_000_000]
    assert [s.num_ctx for s in samples] == [4096, 4096, 4096] and not any(s.reloaded for s in samples)
    # a later process remembers it from the prefs, and even a caller asking for another size does not move it
    num_ctx_mod.forget_all()
    await call(model, store, Params(num_ctx=16384, retries=0))
    assert sent_num_ctx(server)[-1] == 4096


async def test_a_model_already_loaded_keeps_its_context_size(server: OllamaStandIn, store: Store) -> None:
    server.models[TAG].figures = None
    server.models[TAG].load_ns = 2_000_000_000
    server.load(TAG, context_length=8192)  # loaded by someone else
    await call(coder(server.url), store)
    assert sent_num_ctx(server) == [8192]
    [s] = PerfStore(store).samples()
    assert s.load_ns == 0 and s.num_ctx == 8192


async def test_configured_num_ctx_is_sent_every_time(server: OllamaStandIn, store: Store) -> None:
    model = coder(server.url, num_ctx=16384)
    await call(model, store)
    await call(model, store, Params(num_ctx=2048, retries=0))
    assert sent_num_ctx(server) == [16384, 16384]
    assert not server.requests_to("/api/ps")  # nothing to find out


async def test_backend_sends_the_remembered_num_ctx_without_a_store(server: OllamaStandIn, store: Store) -> None:
    server.models[TAG].figures = None
    server.models[TAG].load_ns = 1_000_000_000
    await call(coder(server.url), store)  # learns 4096
    await run_call(coder(server.url), MESSAGES, Params(retries=0))  # no store at all
    assert sent_num_ctx(server) == [None, 4096]


async def test_embedded_models_settle_on_the_engine_default(store: Store) -> None:
    book = num_ctx_mod.NumCtxBook(store)
    assert await book.resolve(ModelConfig(name="smol", model="local/tiny", path="/x.gguf")) == 4096
    assert await book.resolve(ModelConfig(name="smol", model="local/tiny", path="/x.gguf"), 8192) == 4096
    assert await book.resolve(ModelConfig(name="smol", model="local/smollm2", num_ctx=8192)) == 8192
    assert store.get_pref("num_ctx", "embedded local/tiny") == 4096


async def test_a_server_that_never_lists_the_model_is_not_asked_again(server: OllamaStandIn, store: Store) -> None:
    model = coder(server.url)
    await call(model, store)
    await call(model, store)
    assert len(server.requests_to("/api/ps")) == 2  # before and after the first call, then never
    assert sent_num_ctx(server) == [None, None]  # the server's default, every time
