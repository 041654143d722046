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
    assert "3 → 1 proposers" in shape.cut


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
