"""The router's choices for given histories, the shrinking of close requests, and stored decisions."""

from __future__ import annotations

import pytest

from moot.core.config.models import Config
from moot.core.perf.analyse import Analyser
from moot.core.perf.hosts import HostsSnapshot, HostStatus
from moot.core.perf.router import Adjustments, RoutingError, choose, fmt_s, record_decision
from moot.core.perf.store import PerfStore, Sample
from moot.core.storage import Store

HOST = "http://gpu-box:11434"
LOCAL = "ollama/qwen2.5-coder:7b"
NOW = 10_000.0


@pytest.fixture
def store():
    with Store() as s:
        yield s


def make_config(limit: float = 30.0, hosted: dict[str, str] | None = None) -> Config:
    return Config.model_validate({
        "models": [
            {"name": "qwen", "model": LOCAL, "api_base": HOST},
            {"name": "gpt", "model": "openai/gpt-4o"},
            {"name": "smol", "model": "local/smollm2"},
        ],
        "roles": {"backend": "qwen", "frontend": "gpt", "tests": "smol"},
        "router": {"local_max_latency_s": limit, "hosted": {"backend": "gpt"} if hosted is None else hosted},
    })


def history(store: Store, *, prompt_rate: float = 500.0, eval_rate: float = 20.0, cold_load_s: float = 3.0,
            last_used: float = NOW - 10, model: str = LOCAL, host: str = HOST) -> Analyser:
    """Three warm calls and, before them, a cold start; rates exact."""
    perf = PerfStore(store)
    for i, load in enumerate([cold_load_s, 0.01, 0.01, 0.01]):
        perf.record(Sample(host=host, model=model, prompt_tokens=int(prompt_rate), output_tokens=int(eval_rate),
                           prompt_eval_count=int(prompt_rate), prompt_eval_ns=1_000_000_000,
                           eval_count=int(eval_rate), eval_ns=1_000_000_000, load_ns=int(load * 1e9),
                           num_ctx=4096, created_at=last_used - 30 + 10 * i))
    return Analyser(store, clock=lambda: NOW)


def test_local_when_the_prediction_fits(store: Store) -> None:
    an = history(store)
    d = choose("backend", make_config(), an, prompt_tokens=1000, output_tokens=200)  # 2 + 10 s
    assert (d.chosen_alias, d.local_alias, d.hosted_alias) == ("qwen", "qwen", "gpt")
    assert d.local and d.predicted_s == 12.0 and d.limit_s == 30.0 and d.adjustments is None
    assert d.reason == "backend → ollama/qwen2.5-coder:7b: predicted 12 s ≤ 30 s"


def test_hosted_when_the_prediction_is_over_the_limit(store: Store) -> None:
    an = history(store)
    d = choose("backend", make_config(), an, prompt_tokens=1000, output_tokens=800)  # 2 + 40 s
    assert d.chosen_alias == "gpt" and not d.local and d.predicted_s == 42.0
    assert d.reason == "backend → openai/gpt-4o: ollama/qwen2.5-coder:7b predicted 42 s > 30 s"


def test_a_model_that_is_not_loaded_pays_its_load(store: Store) -> None:
    an = history(store, last_used=NOW - 3600)  # idle for an hour: unloaded
    d = choose("backend", make_config(limit=14.0), an, prompt_tokens=1000, output_tokens=200)  # 3 + 2 + 10
    assert d.chosen_alias == "gpt" and d.predicted_s == 15.0
    d = choose("backend", make_config(limit=14.0), an, prompt_tokens=1000, output_tokens=200, loaded=True)
    assert d.chosen_alias == "qwen" and d.predicted_s == 12.0


def test_close_to_the_limit_cuts_the_context_first(store: Store) -> None:
    an = history(store)
    d = choose("backend", make_config(), an, prompt_tokens=4000, output_tokens=400)  # 8 + 20 = 28 s
    assert d.chosen_alias == "qwen" and d.predicted_s == 28.0
    assert d.adjustments == Adjustments(prompt_tokens=2000, output_tokens=400, context_cut=2000, predicted_s=24.0)
    assert d.reason == ("backend → ollama/qwen2.5-coder:7b: predicted 28 s ≤ 30 s, close to the limit: "
                        "context cut by 2000 tokens (4000 → 2000); now predicted 24 s")


def test_close_to_the_limit_then_caps_the_output(store: Store) -> None:
    an = history(store)
    d = choose("backend", make_config(), an, prompt_tokens=1000, output_tokens=500)  # 2 + 25 = 27 s
    assert d.adjustments == Adjustments(prompt_tokens=500, output_tokens=460, context_cut=500, predicted_s=24.0)
    assert d.reason.endswith("context cut by 500 tokens (1000 → 500), output capped at 460 tokens (was 500); "
                             "now predicted 24 s")


def test_shrinking_cuts_only_as_much_as_needed(store: Store) -> None:
    an = history(store)
    d = choose("backend", make_config(), an, prompt_tokens=0, output_tokens=590)  # 29.5 s
    assert d.adjustments == Adjustments(prompt_tokens=0, output_tokens=480, context_cut=0, predicted_s=24.0)
    assert d.reason.endswith("close to the limit: output capped at 480 tokens (was 590); now predicted 24 s")


def test_shrinking_keeps_at_least_half(store: Store) -> None:
    an = history(store, cold_load_s=20.0, last_used=NOW - 3600)  # a long load dominates
    d = choose("backend", make_config(), an, prompt_tokens=200, output_tokens=180)  # 20 + 0.4 + 9 s
    assert d.chosen_alias == "qwen" and d.predicted_s == pytest.approx(29.4)
    assert d.adjustments is not None
    assert (d.adjustments.prompt_tokens, d.adjustments.output_tokens) == (100, 90)
    assert d.adjustments.predicted_s == pytest.approx(24.7)  # above the 24 s target, within the limit


def test_no_measurements_yet_goes_local(store: Store) -> None:
    d = choose("backend", make_config(), Analyser(store), prompt_tokens=100_000, output_tokens=4000)
    assert d.chosen_alias == "qwen" and d.predicted_s is None
    assert d.reason == "backend → ollama/qwen2.5-coder:7b: no measurements yet"


def test_local_down_goes_hosted(store: Store) -> None:
    an = history(store)
    d = choose("backend", make_config(), an, prompt_tokens=10, output_tokens=10, local_up=False)
    assert d.chosen_alias == "gpt" and d.reason == "backend → openai/gpt-4o: ollama/qwen2.5-coder:7b is down"
    an.observe(HostsSnapshot((HostStatus(HOST, False, error="refused"),), NOW))
    assert choose("backend", make_config(), an, prompt_tokens=10, output_tokens=10).chosen_alias == "gpt"
    an.observe(HostsSnapshot((HostStatus(HOST, True, "0.9.0"),), NOW - 3600))  # too old to say anything
    assert choose("backend", make_config(), an, prompt_tokens=10, output_tokens=10).chosen_alias == "qwen"


def test_without_a_hosted_alternative_local_it_is(store: Store) -> None:
    an = history(store)
    cfg = make_config(hosted={})
    slow = choose("backend", cfg, an, prompt_tokens=1000, output_tokens=800)
    assert slow.chosen_alias == "qwen" and slow.hosted_alias is None
    assert slow.reason == ("backend → ollama/qwen2.5-coder:7b: predicted 42 s > 30 s, "
                           "but no hosted alternative is configured")
    down = choose("backend", cfg, an, prompt_tokens=10, output_tokens=10, local_up=False)
    assert down.chosen_alias == "qwen" and "no hosted alternative" in down.reason


def test_roles_without_a_local_model(store: Store) -> None:
    d = choose("frontend", make_config(), Analyser(store), prompt_tokens=10, output_tokens=10)
    assert (d.chosen_alias, d.local_alias) == ("gpt", None)
    assert d.reason == "frontend → openai/gpt-4o: no local model for this role"
    d = choose("docs", make_config(hosted={"docs": "gpt"}), Analyser(store), prompt_tokens=1, output_tokens=1)
    assert d.chosen_alias == "gpt"
    with pytest.raises(RoutingError, match="docs"):
        choose("docs", make_config(), Analyser(store), prompt_tokens=1, output_tokens=1)


def test_embedded_models_route_on_their_own_figures(store: Store) -> None:
    an = history(store, model="local/smollm2", host="embedded", eval_rate=100.0)
    d = choose("tests", make_config(hosted={"tests": "gpt"}), an, prompt_tokens=500, output_tokens=1000)
    assert d.chosen_alias == "smol" and d.predicted_s == 11.0
    assert d.reason == "tests → local/smollm2: predicted 11 s ≤ 30 s"


def test_decisions_are_stored(store: Store) -> None:
    an = history(store)
    cfg = make_config()
    shrunk = choose("backend", cfg, an, prompt_tokens=4000, output_tokens=400)
    hosted = choose("backend", cfg, an, prompt_tokens=1000, output_tokens=800)
    first = record_decision(store, shrunk, "run-1", "t1")
    second = record_decision(PerfStore(store), hosted, "run-1", "t2")
    assert second > first
    rows = PerfStore(store).decisions("run-1")
    assert [r["task_id"] for r in rows] == ["t2", "t1"]
    t1 = rows[1]
    assert (t1["role"], t1["chosen"], t1["local_alias"], t1["hosted_alias"]) == ("backend", "qwen", "qwen", "gpt")
    assert (t1["prompt_tokens"], t1["output_tokens"], t1["predicted_s"], t1["limit_s"]) == (4000, 400, 28.0, 30.0)
    assert t1["reason"] == shrunk.reason
    assert t1["adjustments"] == {"prompt_tokens": 2000, "output_tokens": 400, "context_cut": 2000,
                                 "predicted_s": 24.0}
    assert rows[0]["adjustments"] is None and rows[0]["chosen"] == "gpt"
    assert shrunk.to_dict()["adjustments"] == t1["adjustments"]


def test_seconds_format() -> None:
    assert [fmt_s(x) for x in (12.0, 30.0, 4.5, 4.0, 0.25)] == ["12 s", "30 s", "4.5 s", "4 s", "0.2 s"]


def test_a_pooled_local_model_is_predicted_by_its_best_host(store: Store) -> None:
    """A pool's slow first host would send the role to the hosted model; its faster second host keeps it local."""
    slow, fast = "http://slow:11434", "http://fast:11434"
    history(store, eval_rate=5.0, host=slow)  # 200 tokens: 2 + 40 s
    an = history(store, eval_rate=20.0, host=fast)  # 2 + 10 s
    config = make_config()
    config.models[0].pool = [slow, fast]
    config.models[0].api_base = slow
    d = choose("backend", config, an, prompt_tokens=1000, output_tokens=200)
    assert d.chosen_alias == "qwen" and d.predicted_s == 12.0
