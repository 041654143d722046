"""An embedded-only planning run shaped to fit the engine's measured speed."""

from __future__ import annotations

import pytest

from moot.core.config import ModelConfig
from moot.core.ensemble.shape import TARGET_S, Rates, embedded_only, fit, measured_rates, predict
from moot.core.events import Perf
from moot.core.perf.store import record_call
from moot.core.storage import Store

FAST = Rates(eval_rate=80.0, prompt_rate=900.0, samples=5)
SLOW = Rates(eval_rate=20.0, prompt_rate=200.0, samples=5)
CRAWL = Rates(eval_rate=3.0, prompt_rate=30.0, samples=5)


def test_a_fast_engine_keeps_the_run_as_configured() -> None:
    shape = fit(FAST, proposers=3, proposal_tokens=384, context=2048, task_tokens=20)
    assert (shape.proposers, shape.proposal_tokens, shape.context_tokens) == (3, 384, 2048)
    assert shape.cut == () and shape.predicted_s <= TARGET_S
    assert shape.judge_tokens == 512


def test_a_slower_engine_cuts_context_then_answers_then_proposers() -> None:
    shape = fit(SLOW, proposers=3, proposal_tokens=384, context=2048, task_tokens=20)
    assert shape.predicted_s <= TARGET_S
    assert shape.context_tokens <= 600  # the context goes first
    assert shape.proposers >= 2
    assert any("context" in c for c in shape.cut)
    assert shape.note.startswith("shaped for the embedded engine: ")
    assert f"{SLOW.eval_rate:.0f} tok/s" in shape.note


def test_an_engine_too_slow_for_anything_gets_the_smallest_run() -> None:
    shape = fit(CRAWL, proposers=3, proposal_tokens=384, context=2048, task_tokens=20)
    assert (shape.proposers, shape.proposal_tokens, shape.context_tokens, shape.judge_tokens) == (1, 128, 300, 0)
    assert shape.predicted_s > TARGET_S  # said honestly, not hidden
    assert "3 → 1 proposer" in shape.cut


def test_the_prediction_counts_every_call_in_turn() -> None:
    one = predict(FAST, 1, 200, 500, 20)
    two = predict(FAST, 2, 200, 500, 20)
    assert two > 2 * one  # a second proposer and the judge reading both


def test_only_embedded_runs_are_shaped() -> None:
    smol = ModelConfig(name="smollm2", model="local/smollm2")
    assert embedded_only([smol, smol])
    assert not embedded_only([smol, ModelConfig(name="q", model="ollama/qwen")])
    assert not embedded_only([smol, ModelConfig(name="gpt", model="openai/gpt-4o")])
    assert not embedded_only([])


def test_rates_come_from_the_perf_store(tmp_path) -> None:
    store = Store(tmp_path / "m.db")
    smol = ModelConfig(name="smollm2", model="local/smollm2")
    assert measured_rates(smol, store) is None
    for _ in range(3):
        perf = Perf(prompt_eval_count=300, prompt_eval_duration=500_000_000, eval_count=40,
                    eval_duration=1_000_000_000)
        record_call(store, smol, perf, prompt_tokens=300, output_tokens=40, call_id=None, num_ctx=2048,
                    latency_s=1.5)
    rates = measured_rates(smol, store)
    assert rates == pytest.approx(Rates(40.0, 600.0, 3))
    store.close()


# -------------------------------------------------------------------------------------- in the engine

LOCAL_CONFIG = """
[[models]]
name = "tiny"
model = "local/tiny"
max_tokens = 384
"""


@pytest.fixture
def local_scripted():
    """A scripted backend serving ``local/…`` models: the embedded engine, as far as planning can tell."""
    from moot.core.providers import builtin
    from moot.core.providers.base import register_backend
    from scripted import ScriptedBackend

    backend = ScriptedBackend()
    register_backend("local", lambda: backend)
    yield backend
    register_backend("local", builtin.FACTORIES["local"])


def seed(store: Store, model: ModelConfig, eval_rate: float, prompt_rate: float) -> None:
    for _ in range(3):
        perf = Perf(prompt_eval_count=1000, prompt_eval_duration=int(1000 / prompt_rate * 1e9), eval_count=100,
                    eval_duration=int(100 / eval_rate * 1e9))
        record_call(store, model, perf, prompt_tokens=1000, output_tokens=100, call_id=None, num_ctx=8192,
                    latency_s=1.0)


async def test_a_slow_embedded_engine_gets_a_shorter_run(tmp_path, user_config, local_scripted) -> None:
    from moot.core.config import load_config
    from moot.core.ensemble import Ensemble, PlanOptions

    user_config(LOCAL_CONFIG)
    loaded = load_config(tmp_path)
    store = Store(tmp_path / "m.db")
    seed(store, loaded.config.model("tiny"), eval_rate=25.0, prompt_rate=300.0)
    ens = Ensemble(loaded, store, ["tiny"])
    ens.begin("add a greet function", PlanOptions())
    assert len(ens.proposals) == 3  # role-based: three variants of the one model
    shape = await ens.fit(context=2048)
    assert shape is not None and shape.predicted_s <= TARGET_S
    assert len(ens.proposals) == shape.proposers == len(ens.result.proposals) == 2
    local_scripted.default["tiny"] = '{"plan": "do it", "consensus": [], "divergent_approaches": [], ' \
                                     '"resolution_rationale": "", "unique_insights": []}'
    result = await ens.complete()
    calls = local_scripted.calls
    proposer_caps = {params.max_tokens for _, _, params in calls[:-1]}
    assert proposer_caps == {shape.proposal_tokens}
    assert calls[-1][2].max_tokens == shape.judge_tokens  # the judge's share
    assert calls[-1][2].schema["properties"]["plan"]["maxLength"] <= 1000
    assert result.to_json()["shape"]["proposers"] == shape.proposers
    store.close()


async def test_a_run_with_another_kind_of_model_is_not_shaped(tmp_path, user_config, local_scripted) -> None:
    from moot.core.config import load_config
    from moot.core.ensemble import Ensemble, PlanOptions

    user_config(LOCAL_CONFIG + '\n[[models]]\nname = "gpt"\nmodel = "scripted/gpt"\n')
    loaded = load_config(tmp_path)
    store = Store(tmp_path / "m.db")
    seed(store, loaded.config.model("tiny"), eval_rate=15.0, prompt_rate=150.0)
    ens = Ensemble(loaded, store, ["tiny", "gpt"])
    ens.begin("add a greet function", PlanOptions())
    assert await ens.fit(context=2048) is None
    assert ens.result.shape is None and len(ens.proposals) == 2
    store.close()


async def test_an_engine_without_figures_is_measured_by_a_probe_first(tmp_path, user_config, local_scripted) -> None:
    from moot.core.config import load_config
    from moot.core.ensemble import Ensemble, PlanOptions

    user_config(LOCAL_CONFIG)
    loaded = load_config(tmp_path)
    store = Store(tmp_path / "m.db")
    local_scripted.enqueue("tiny", "ok", perf=Perf(prompt_eval_count=300, prompt_eval_duration=300_000_000,
                                                   eval_count=24, eval_duration=300_000_000))
    ens = Ensemble(loaded, store, ["tiny"])
    ens.begin("add a greet function", PlanOptions())
    shape = await ens.fit(context=2048)
    assert shape is not None and shape.rates == Rates(80.0, 1000.0, 1)
    assert len(local_scripted.calls) == 1 and local_scripted.calls[0][2].max_tokens == 24
    store.close()


async def test_a_run_waits_for_the_probe_in_flight_instead_of_queueing_another(tmp_path, local_scripted) -> None:
    import asyncio

    from moot.core.ensemble.shape import engine_rates

    store = Store(tmp_path / "m.db")
    tiny = ModelConfig(name="tiny", model="local/tiny")
    local_scripted.enqueue("tiny", "ok", delay=0.05, perf=Perf(prompt_eval_count=300, prompt_eval_duration=300_000_000,
                                                               eval_count=24, eval_duration=300_000_000))
    first, second = await asyncio.gather(engine_rates(tiny, store), engine_rates(tiny, store))
    assert first == second == Rates(80.0, 1000.0, 1)
    assert len(local_scripted.calls) == 1
    store.close()
