"""Local models that get better with use: outcomes recorded, tasks sized, query shapes chosen by a bandit (with
exploration), the hosted planner told the local figures, and a task carried out on the Ollama stand-in in the
shape chosen."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest

from gitrepo import make_repo
from moot.agents import events as xe
from moot.agents import execute as x
from moot.agents import runs
from moot.agents.landing import local_brief_for, split_plan
from moot.agents.routing import route
from moot.agents.tasks import Task
from moot.core.config.models import Config, ModelConfig
from moot.core.perf import shapes as sh
from moot.core.perf.store import PerfStore, Sample, host_of
from moot.core.providers.base import close_backends
from moot.core.storage import Store
from standins.ollama_server import OllamaStandIn

TAG = "coder:1b"
LOCAL = f"ollama/{TAG}"
EDIT = "x.txt\n<<<<<<< SEARCH\nno\n=======\nok\n>>>>>>> REPLACE\n"
QWEN = ModelConfig(name="qwen", model=LOCAL, num_ctx=16384)


@pytest.fixture
def store():
    with Store() as s:
        yield s


def outcome(shape: sh.Shape, ok: bool, *, size: str = "small", role: str = "backend", **kw: Any) -> sh.Outcome:
    return sh.Outcome(LOCAL, "http://h", role, shape.key, size, parsed=True, applied=ok, **kw)


def small(store: Store) -> sh.TaskSize:
    return sh.size_task(store, "backend", files=1, context_tokens=500)


# -------------------------------------------------------------------------------------------- the pieces


def test_a_shape_has_a_key_and_words() -> None:
    shape = sh.Shape(2000, 600, "terse", split=True, constrained=False)
    assert sh.Shape.from_key(shape.key) == shape
    assert shape.describe() == "2k context, terse, output 600, file by file, unconstrained"


def test_a_task_is_sized_by_its_files_context_and_past_output(store: Store) -> None:
    assert small(store).bucket == "small" and small(store).expected_output == sh.DEFAULT_OUTPUT
    assert sh.size_task(store, "backend", files=2, context_tokens=2000).bucket == "medium"
    assert sh.size_task(store, "backend", files=5, context_tokens=9000).bucket == "large"
    for n in (100, 120, 140):  # small backend tasks took about 120 tokens of answer
        sh.record_outcome(store, outcome(sh.SHAPES[0], True, output_tokens=n))
    size = small(store)
    assert size.expected_output == 120 and "~120 output tokens" in size.describe()


def test_outcomes_are_settled_by_the_tests_and_the_review(store: Store) -> None:
    sh.record_outcome(store, outcome(sh.SHAPES[1], True, run_id="r1"))
    sh.record_outcome(store, outcome(sh.SHAPES[1], True, run_id="r2"))
    sh.settle_run(store, "r1", tests_passed=False, verdict="PASS")
    sh.settle_run(store, "r2", tests_passed=True, verdict="BLOCK")
    sh.record_outcome(store, outcome(sh.SHAPES[1], True, run_id="r3", candidate=0))
    sh.record_outcome(store, outcome(sh.SHAPES[1], True, run_id="r3", candidate=1))
    sh.settle_run(store, "r3", tests_passed=True, verdict="PASS", candidate=0)
    sh.settle_run(store, "r3", tests_passed=False, candidate=1)  # each candidate's own tests
    [row] = sh.shape_table(store, LOCAL, "backend")[1:2]
    assert (row.tried, row.succeeded) == (4, 1)  # failed tests and a BLOCK are no success
    doc = sh.summary(store)
    [m] = doc["models"]
    assert m["by_shape"][sh.SHAPES[1].key] == {"tried": 4, "succeeded": 1, "recent": [0, 0, 1, 0]}
    assert m["recent"] == [0, 0, 1, 0] and m["by_size"]["small"]["tried"] == 4
    assert sh.SHAPES[3].short() == "2k terse 600 split" and sh.SHAPES[6].short() == "2k full 1200 free"


def test_the_bandit_prefers_what_worked_and_still_explores(store: Store) -> None:
    good, bad = sh.SHAPES[1], sh.SHAPES[4]
    for _ in range(12):
        sh.record_outcome(store, outcome(good, True))
        sh.record_outcome(store, outcome(bad, False))
    rng = random.Random(7)
    picks = [sh.choose_shape(store, QWEN, "backend", small(store), predict=lambda s: 5.0, limit_s=30, rng=rng)
             for _ in range(200)]
    chosen = [p.shape for p in picks]
    assert chosen.count(good) > 100 and chosen.count(bad) < 5
    assert any(p.explored for p in picks)  # untried shapes are still sampled now and then
    best = next(p for p in picks if p.shape == good)
    assert best.describe() == ("qwen, 2k context, terse, output 600: 12 of 12 recent backend tasks (small) at this "
                               "shape applied and passed, predicted 5 s")
    assert best.local and best.to_json()["tried"] == 12


def test_shapes_that_do_not_fit_the_limit_or_the_window_are_not_chosen(store: Store) -> None:
    rng = random.Random(1)
    slow_big = {s for s in sh.SHAPES if s.context >= 4000}
    picks = {sh.choose_shape(store, QWEN, "backend", small(store), limit_s=30, rng=rng,
                             predict=lambda s: 60.0 if s in slow_big else 5.0).shape for _ in range(100)}
    assert picks and not picks & slow_big
    tiny = QWEN.model_copy(update={"num_ctx": 2048})  # room for 1.5k of context at most
    picks = {sh.choose_shape(store, tiny, "backend", small(store), predict=lambda s: 1.0, limit_s=30,
                             rng=rng).shape for _ in range(50)}
    assert all(s.context <= 1536 for s in picks)


def test_when_nothing_works_locally_the_choice_says_so(store: Store) -> None:
    for shape in sh.SHAPES:
        for _ in range(15):
            sh.record_outcome(store, outcome(shape, False))
    choice = sh.choose_shape(store, QWEN, "backend", small(store), predict=lambda s: 5.0, limit_s=30,
                             rng=random.Random(3))
    assert not choice.local and "the hosted model is better" in choice.describe()


# -------------------------------------------------------------------------------- the planner's brief


async def test_a_hosted_planner_is_told_the_local_models_figures(scripted, tmp_path: Path, store: Store) -> None:
    config = Config.model_validate({
        "models": [{"name": "alpha", "model": "scripted/alpha"}, {"name": "qwen", "model": LOCAL, "num_ctx": 8192}],
        "roles": {"planner": "alpha", "backend": "qwen"}})
    qwen = config.model("qwen")
    assert qwen is not None
    PerfStore(store).record(Sample(host=host_of(qwen), model=LOCAL, eval_count=40, eval_ns=10 ** 9,
                                   prompt_eval_count=100, prompt_eval_ns=10 ** 8, num_ctx=8192))
    for ok in (True, True, False):
        sh.record_outcome(store, outcome(sh.SHAPES[1], ok))
    brief = local_brief_for(config, store, config.model("alpha"))  # type: ignore[arg-type]
    assert "qwen (ollama/coder:1b): 40 tokens/s, a 8192-token window; succeeded: small tasks 2 of 3" in brief
    assert local_brief_for(config, store, config.model("qwen")) == ""  # a local planner is not told
    repo = make_repo(tmp_path / "repo", {"x.txt": "no\n"})
    scripted.enqueue("alpha", '```json\n{"tasks": [{"id": "t1", "title": "x", "role": "backend"}]}\n```')
    store.start_run("r", "exec", "t", None, None)
    await split_plan(config, store, repo, "r", "Make x ok.")
    assert brief in scripted.calls[0][1][-1]["content"]


# ------------------------------------------------------------------------------------------- a real task


async def test_a_local_task_runs_in_its_shape_and_its_outcome_is_kept(tmp_path: Path, store: Store) -> None:
    with OllamaStandIn() as server:
        server.add_model(TAG, pieces=["Done.\n\n", EDIT])
        repo = make_repo(tmp_path / "repo", {"x.txt": "no\n", "y.txt": "why\n"})
        config = Config.model_validate({
            "models": [{"name": "coder", "model": LOCAL, "api_base": server.url, "retries": 0, "num_ctx": 8192}],
            "roles": {"backend": "coder", "planner": "coder"},
            "project": {"test_command": f'"{sys.executable}" -c "print(open(\'x.txt\').read())"'}})
        events: list[Any] = []
        run_id = x.begin(store, repo, "make x ok", "the plan")
        run = await x.execute(config, store, run_id, route([Task(id="t1", title="make x ok", role="backend",
                                                                 files=["x.txt"])], config), on_progress=events.append)
        await close_backends()
    assert run.ok
    speed, routed = [e for e in events if isinstance(e, xe.TaskRouted)]  # the speed rule's, then the shape's
    assert "no measurements yet" in speed.reason and (speed.kind, routed.kind) == ("speed", "shape")
    assert routed.reason.startswith("coder, ") and "no backend task (small) tried at this shape yet" in routed.reason
    [chat] = server.requests_to("/api/chat")
    shape = next(s for s in sh.SHAPES if s.describe() in routed.reason)
    assert chat.body["options"]["num_predict"] == shape.output  # the shape's output cap was sent
    doc = sh.summary(store)
    [m] = doc["models"]
    assert (m["tried"], m["succeeded"], m["role"]) == (1, 1, "backend")
    assert doc["runs"] == [{"run_id": run_id, "tasks": 1, "local_tasks": 1, "share": 1.0, "planner": "coder"}]
    assert runs.load(store, run_id).state == "ready"  # type: ignore[union-attr]
    [kept] = sh._outcomes(store, LOCAL)
    assert (kept.parsed, kept.applied, kept.tests_passed, kept.escalated) == (True, True, True, False)
    assert kept.reason == routed.reason and kept.run_id == run_id and kept.candidate == 0


def test_before_any_record_the_usual_shape_is_used(store: Store) -> None:
    """A model's first task in a role is asked the way moot always asked (no gamble on a first run)."""
    for seed in range(20):
        choice = sh.choose_shape(store, QWEN, "backend", small(store), predict=lambda s: 5.0, limit_s=30,
                                 rng=random.Random(seed))
        assert choice.shape == sh.USUAL and not choice.explored and choice.local
    assert "(the usual shape, until there is a record)" in choice.describe()
    sh.record_outcome(store, outcome(sh.USUAL, True))
    shapes = {sh.choose_shape(store, QWEN, "backend", small(store), predict=lambda s: 5.0, limit_s=30,
                              rng=random.Random(seed)).shape for seed in range(40)}
    assert len(shapes) > 1  # with a record, the others are tried too


async def test_a_local_planner_s_task_list_and_a_local_reviewer_s_verdict_are_outcomes(store: Store) -> None:
    from moot.agents.review import review_diff
    from moot.agents.tasks import decompose
    from moot.core.calls import CallContext

    tasks = '{"tasks": [{"title": "make x ok", "role": "backend", "files": ["x.txt"]}]}'
    with OllamaStandIn() as server:
        server.add_model(TAG, pieces=[tasks])
        model = ModelConfig(name="coder", model=LOCAL, api_base=server.url, retries=0)
        store.start_run("r", "exec", "t", None, None)
        found = await decompose("Make x ok.", model, ctx=CallContext(store, "r"))
        server.add_model(TAG, pieces=['{"verdict": "PASS", "summary": "fine", "findings": []}'])
        review = await review_diff("-no\n+ok\n", "Make x ok.", model, ctx=CallContext(store, "r"))
        await close_backends()
    assert found.tasks and review.verdict == "PASS"
    kept = {o.role: o for o in sh._outcomes(store, LOCAL)}
    assert kept["decompose"].parsed and kept["decompose"].success and kept["decompose"].applied is None
    assert kept["review"].parsed and kept["review"].success
    assert {m["role"] for m in sh.summary(store)["models"]} == {"decompose", "review"}


async def test_a_host_that_is_down_teaches_nothing_about_the_shape(tmp_path: Path, store: Store) -> None:
    repo = make_repo(tmp_path / "repo", {"x.txt": "no\n"})
    config = Config.model_validate({
        "models": [{"name": "coder", "model": LOCAL, "api_base": "http://127.0.0.1:9", "retries": 0}],
        "roles": {"backend": "coder", "planner": "coder"}})
    run_id = x.begin(store, repo, "make x ok", "the plan")
    run = await x.execute(config, store, run_id, route([Task(id="t1", title="make x ok", role="backend",
                                                             files=["x.txt"])], config))
    await close_backends()
    assert not run.ok and sh._outcomes(store, LOCAL) == []
