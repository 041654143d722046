"""The ensemble engine against the scripted backend: isolation, anonymity, ranking, judge, budget, storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SCRIPTED_CONFIG
from moot.core.config import load_config
from moot.core.ensemble import Ensemble, PlanOptions, StrategyError
from moot.core.ensemble.budget import Budget
from moot.core.ensemble.judge import parse_synthesis
from moot.core.ensemble.ranking import borda, parse_ranking
from moot.core.ensemble.strategies import resolve
from moot.core.events import ProviderError
from moot.core.providers.base import Params
from moot.core.storage import Store

FAST = Params(backoff_s=0.001)
JUDGE_REPLY = """## Plan
1. Do the thing.
2. Test it.

## Consensus
- All plans change `cli.py`.
- Plans A and B add a test.

## Divergent approaches
- Plan A uses argparse, Plan B uses click.

## Resolution rationale
Argparse is already a dependency.

## Unique insights
- Plan C noticed the config file needs the flag too.
"""


@pytest.fixture
def loaded(tmp_path: Path, user_config):
    user_config(SCRIPTED_CONFIG)
    return load_config(tmp_path)


@pytest.fixture
def store():
    s = Store()
    yield s
    s.close()


def run(loaded, store, task="add a flag", usable=("alpha", "beta", "gamma"), **opts):
    ens = Ensemble(loaded, store, list(usable))
    return ens, ens.plan(task, PlanOptions(params=FAST, **opts))


async def test_diverse_runs_every_model_and_the_judge(scripted, loaded, store) -> None:
    scripted.enqueue("alpha", "plan by alpha")
    scripted.enqueue("beta", "plan by beta")
    scripted.enqueue("gamma", "plan by gamma")
    scripted.enqueue("alpha", JUDGE_REPLY)  # alpha is the judge
    _, coro = run(loaded, store)
    result = await coro
    assert result.ok and result.strategy == "diverse"
    assert sorted(p.label for p in result.proposals) == ["A", "B", "C"]
    assert result.plan.startswith("1. Do the thing.")
    assert result.synthesis is not None
    assert result.synthesis.consensus == ["All plans change `cli.py`.", "Plans A and B add a test."]
    assert result.synthesis.divergence == ["Plan A uses argparse, Plan B uses click."]
    assert result.synthesis.resolution == "Argparse is already a dependency."
    assert result.synthesis.unique_insights == ["Plan C noticed the config file needs the flag too."]


async def test_judge_sees_anonymised_plans_in_label_order(scripted, loaded, store) -> None:
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"secret plan text of {name}")
    scripted.enqueue("alpha", JUDGE_REPLY)
    _, coro = run(loaded, store)
    result = await coro
    judge_prompt = scripted.calls[-1][1][-1]["content"]
    for name in ("alpha", "beta", "gamma"):
        assert f"model {name}" not in judge_prompt and f"({name})" not in judge_prompt
    by_label = {p.label: p for p in result.proposals}
    positions = [judge_prompt.index(f"=== Plan {lbl} ===\nsecret plan text of {by_label[lbl].proposer.model.name}")
                 for lbl in "ABC"]
    assert positions == sorted(positions)


async def test_one_failure_stays_alone(scripted, loaded, store) -> None:
    scripted.enqueue("alpha", "plan a")
    for _ in range(4):
        scripted.enqueue("beta", error=("server", True))
    scripted.enqueue("gamma", "plan c")
    scripted.enqueue("alpha", JUDGE_REPLY)
    _, coro = run(loaded, store)
    result = await coro
    statuses = {p.proposer.model.name: p.status for p in result.proposals}
    assert statuses == {"alpha": "done", "beta": "failed", "gamma": "done"}
    beta = next(p for p in result.proposals if p.proposer.model.name == "beta")
    assert beta.error is not None and beta.error.startswith("server:") and beta.label == "C"
    assert result.synthesis is not None


async def test_single_survivor_is_the_plan(scripted, loaded, store) -> None:
    scripted.enqueue("alpha", error=("auth", False))
    scripted.enqueue("beta", "the only plan")
    scripted.enqueue("gamma", error=("not_found", False))
    _, coro = run(loaded, store)
    result = await coro
    assert result.plan == "the only plan" and result.judge is None
    assert any("survived" in n for n in result.notes)


async def test_no_survivor_fails_with_every_error(scripted, loaded, store) -> None:
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, error=("auth", False))
    _, coro = run(loaded, store)
    result = await coro
    assert not result.ok
    assert all(p.error and p.error.startswith("auth") for p in result.proposals)
    assert store.run(result.run_id)["status"] == "failed"


async def test_judge_failure_falls_back_to_a_proposal(scripted, loaded, store) -> None:
    scripted.enqueue("alpha", "plan a")
    scripted.enqueue("beta", "plan b")
    scripted.enqueue("gamma", "plan c")
    scripted.enqueue("alpha", error=("bad_request", False))
    _, coro = run(loaded, store)
    result = await coro
    assert result.ok and result.plan in ("plan a", "plan b", "plan c")
    assert any("judge" in n and "failed" in n for n in result.notes)


async def test_rank_runs_borda_without_self_votes(scripted, loaded, store) -> None:
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"plan {name}")
    # every ranker puts whatever plans it saw in alphabetical order; its own is never shown to it
    for name in ("alpha", "beta", "gamma"):
        scripted.default[name] = "RANKING: A > B > C"
    _, coro = run(loaded, store, rank=True)
    result = await coro
    r = result.ranking
    assert r is not None
    for voter, order in r.ballots.items():
        assert voter not in order and len(order) == 2
    # A is ranked by B and C (first both times: 1+1), B by A (first: 1) and C (second: 0), C gets 0+0
    assert r.scores == {"A": 2, "B": 1, "C": 0} and r.order == ["A", "B", "C"]
    rank_prompts = [c for c in scripted.calls if "RANKING:" in c[1][-1]["content"]]
    assert len(rank_prompts) == 3
    assert "Peer ranking of these plans" in scripted.calls[-1][1][-1]["content"]


async def test_cancel_one_proposer(scripted, loaded, store) -> None:
    import asyncio

    scripted.enqueue("alpha", "plan a")
    scripted.enqueue("beta", hang=True)
    scripted.enqueue("gamma", "plan c")
    scripted.enqueue("alpha", JUDGE_REPLY)
    ens, coro = run(loaded, store)
    task = asyncio.create_task(coro)
    await asyncio.sleep(0.05)
    ens.cancel(1)
    result = await task
    assert [p.status for p in result.proposals] == ["done", "cancelled", "done"]
    assert result.synthesis is not None
    rows = store.calls(result.run_id)
    assert {r["model_alias"]: r["status"] for r in rows if r["phase"] == "propose"}["beta"] == "cancelled"


async def test_every_call_is_logged(scripted, loaded, store) -> None:
    scripted.enqueue("alpha", "plan a")
    scripted.enqueue("beta", "plan b")
    scripted.enqueue("gamma", "plan c")
    scripted.enqueue("alpha", JUDGE_REPLY)
    _, coro = run(loaded, store, task="add --verbose")
    result = await coro
    rows = store.calls(result.run_id)
    assert sorted(r["phase"] for r in rows) == ["judge", "propose", "propose", "propose"]
    for r in rows:
        assert r["status"] == "done" and r["latency_s"] is not None and r["messages"]
    assert store.run(result.run_id)["status"] == "done"


async def test_budget_stops_calls_before_exceeding(scripted, loaded, store, monkeypatch) -> None:
    from moot.core.ensemble import engine

    monkeypatch.setattr(engine, "worst_case_usd", lambda model, messages, max_tokens: 0.4)
    scripted.cost_per_call = 0.35
    _, coro = run(loaded, store, max_usd=1.0)
    result = await coro
    statuses = sorted(p.status for p in result.proposals)
    assert statuses == ["done", "done", "failed"]  # two fit in $1.00 at $0.40 each, the third does not start
    refused = next(p for p in result.proposals if p.status == "failed")
    assert refused.error is not None and refused.error.startswith("budget:")
    # $0.70 spent; the judge could cost another $0.40: refused as well, a proposal stands in
    assert result.judge is not None and result.judge.error is not None and result.judge.error.kind == "budget"
    assert len(scripted.calls) == 2


def test_budget_reserve_and_settle() -> None:
    b = Budget(1.0)
    r = b.reserve("a", 0.6)
    with pytest.raises(ProviderError):
        b.reserve("b", 0.5)
    b.settle(r, 0.1)
    assert b.spent == 0.1 and b.reserved == 0.0
    b.reserve("b", 0.5)
    assert Budget(None).reserve("x", 1e9) == 1e9


def test_strategies(loaded) -> None:
    cfg = loaded.config
    usable = ["alpha", "beta", "gamma"]
    assert [(p.model.name, p.variant) for p in resolve("diverse", cfg, usable)] == [
        ("alpha", "default"), ("beta", "default"), ("gamma", "default")]
    rb = resolve("role-based", cfg, usable)
    assert {p.model.name for p in rb} == {"alpha"}
    assert [p.variant for p in rb] == ["architect", "security-engineer", "test-engineer"]
    moa = resolve("self-moa", cfg, usable)
    assert len(moa) == 4 and len({p.temperature for p in moa}) == 4
    assert len(resolve("consensus", cfg, usable)) == 3
    assert [(p.model.name, p.variant) for p in resolve("x", cfg, usable, models=["beta"], variants=["architect", "backend"])] == [
        ("beta", "architect"), ("beta", "backend")]
    assert len(resolve("diverse", cfg, ["alpha"])) == 3  # one usable model: falls back to its variants
    with pytest.raises(StrategyError, match="unknown strategy"):
        resolve("nope", cfg, usable)
    with pytest.raises(StrategyError, match="unknown model"):
        resolve("diverse", cfg, usable, models=["zeta"])
    with pytest.raises(StrategyError, match="no usable model"):
        resolve("diverse", cfg, [])


def test_parse_synthesis_tolerates_formats() -> None:
    s = parse_synthesis("**Consensus:**\n* one\n* two\n\n### 3. Unique Insights\n1. three\n")
    assert s.consensus == ["one", "two"] and s.unique_insights == ["three"]
    plain = parse_synthesis("Just a plan with no headings.")
    assert plain.plan == "Just a plan with no headings." and plain.consensus == []
    assert parse_synthesis("## Consensus\nNone.\n").consensus == []


def test_parse_ranking() -> None:
    assert parse_ranking("Plan B is best.\nRANKING: B > A > C", "ABC") == ["B", "A", "C"]
    assert parse_ranking("ranking: c, a", "ABC") == ["C", "A", "B"]
    assert parse_ranking("I prefer Plan C, then Plan A.", "AC") == ["C", "A"]
    assert parse_ranking("no idea", "ABC") is None


def test_borda_drops_self_votes() -> None:
    r = borda({"A": ["A", "B", "C"], "B": ["C", "A"], "C": ["A", "B"]}, ["A", "B", "C"])
    assert r.ballots["A"] == ["B", "C"]
    # A's ballot (own vote dropped) B>C: B+1; B's: C>A: C+1; C's: A>B: A+1 -> a three-way tie, broken by label
    assert r.scores == {"A": 1, "B": 1, "C": 1}
    assert r.order == ["A", "B", "C"] and r.notes


async def test_user_variants_inline_and_from_file(scripted, tmp_path, user_config, store) -> None:
    folder = user_config("").parent / "perspectives"  # beside the user's config file
    folder.mkdir()
    (folder / "dba.md").write_text("You are a database administrator.\n")
    user_config(SCRIPTED_CONFIG + '\n[variants.poet]\nprompt = "You write plans as haiku."\n'
                '[variants.dba]\nfile = "perspectives/dba.md"\n'
                '[strategies.mine]\nmembers = [{ model = "beta", variant = "poet" }, { model = "gamma", variant = "dba" }]\n')
    loaded = load_config(tmp_path)
    ens = Ensemble(loaded, store, ["alpha", "beta", "gamma"])
    result = await ens.plan("t", PlanOptions(strategy="mine", params=FAST))
    systems = {name: msgs[0]["content"] for name, msgs, _ in scripted.calls[:2]}
    assert systems == {"beta": "You write plans as haiku.", "gamma": "You are a database administrator."}
    assert [p.proposer.variant for p in result.proposals] == ["poet", "dba"]


async def test_budget_uses_each_backends_price_for_the_worst_case(scripted, loaded, store) -> None:
    scripted.price_per_token = 0.001  # worst case per proposer: (prompt + 4096 max_tokens) * $0.001 > $4
    for name in ("alpha", "beta", "gamma"):  # slow enough that all three want to start while one runs
        scripted.enqueue(name, "a plan in a few words", delay=0.05)
    _, coro = run(loaded, store, max_usd=5.0)
    result = await coro
    assert sorted(p.status for p in result.proposals) == ["done", "failed", "failed"]
    assert len(scripted.calls) == 1
    assert result.totals()["cost_usd"] < 5.0


async def test_retry_one_proposer_then_judge_again(scripted, loaded, store) -> None:
    scripted.enqueue("alpha", "plan a")
    for _ in range(4):
        scripted.enqueue("beta", error=("server", True))
    scripted.enqueue("gamma", error=("auth", False))
    ens = Ensemble(loaded, store, ["alpha", "beta", "gamma"])
    result = ens.begin("t", PlanOptions(params=FAST))
    await ens.propose()
    await ens.synthesise()
    ens.finish()
    assert result.judge is None and any("survived" in n for n in result.notes)
    scripted.enqueue("beta", "plan b, second try")
    scripted.enqueue("alpha", JUDGE_REPLY)
    await ens.retry(1)
    await ens.synthesise()
    ens.finish()
    assert [p.status for p in result.proposals] == ["done", "done", "failed"]
    assert result.synthesis is not None and not any("survived" in n for n in result.notes)
    assert store.run(result.run_id)["status"] == "done"


@pytest.mark.parametrize(("models", "variants", "name"), [
    (["alpha"], ["architect", "backend", "test-engineer"], "role-based"),  # was labelled "diverse: 3 proposers"
    (["alpha", "beta"], None, "diverse"),
    (["alpha"], None, "self-moa"),
    (None, ["architect", "backend"], "role-based"),
])
def test_proposers_chosen_by_hand_are_named_for_what_they_are(loaded, store, models, variants, name) -> None:
    usable = ["alpha", "beta", "gamma"]
    assert Ensemble(loaded, store, usable).begin(
        "add a flag", PlanOptions(models=models, variants=variants)).strategy == name
    assert Ensemble(loaded, store, usable).begin(
        "add a flag", PlanOptions(strategy="consensus", models=models, variants=variants)
    ).strategy == "consensus"  # named on the command line: kept
