"""Distillation: a model's digest of the plan, kept with the run, and what each context strategy hands a task."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_agents_execute import block, carry_out, make_config, reply, tasks

from gitrepo import make_repo
from moot.context.distill import DistillError, distill, stored
from moot.core.config.models import ModelConfig
from moot.core.storage import Store

PLAN = "1. Make x.txt say ok.\n2. Keep src/app.py as it is.\n" + "Some reasoning about why. " * 40
DIGEST = "## Key decisions\n- x.txt says ok\n## Constraints\n- src/app.py unchanged\n## Risks\n- none"


@pytest.fixture
def store():
    s = Store()
    yield s
    s.close()


def alpha() -> ModelConfig:
    return ModelConfig(name="alpha", model="scripted/alpha")


async def test_distillation_is_kept_with_the_run_and_asked_once(scripted, store: Store) -> None:
    store.start_run("r1", "exec", "t", None, None)
    scripted.enqueue("alpha", DIGEST)
    found = await distill(PLAN, alpha(), store=store, run_id="r1")
    assert found.text == DIGEST and found.tokens < found.source_tokens
    again = await distill(PLAN, alpha(), store=store, run_id="r1")
    assert again == found and len(scripted.calls) == 1
    assert stored(store, "r1", "plan") == found
    prompt = scripted.calls[0][1][0]["content"]
    assert "Key decisions" in prompt and "Make x.txt say ok." in prompt
    [call] = store.calls("r1")
    assert (call["phase"], call["reply"]) == ("distill", DIGEST)


async def test_a_failed_distillation_says_why(scripted, store: Store) -> None:
    scripted.enqueue("alpha", error=("auth", False))
    with pytest.raises(DistillError, match="alpha could not distil the plan: auth"):
        await distill(PLAN, alpha(), store=store)


@pytest.mark.parametrize(("strategy", "sees_digest", "sees_plan"),
                         [("distilled", True, False), ("scoped", False, True), ("fresh", False, False)])
async def test_each_strategy_hands_the_task_what_it_promises(scripted, store: Store, tmp_path: Path,
                                                             strategy: str, sees_digest: bool,
                                                             sees_plan: bool) -> None:
    repo = make_repo(tmp_path / "repo", {"x.txt": "no\n", "src/app.py": "def f():\n    return 1\n"})
    config = make_config(context={"strategy": strategy}, roles={"planner": "gamma"})
    scripted.enqueue("gamma", DIGEST)
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "ok\n")))
    run = await carry_out(config, store, repo, tasks({"id": "t1", "title": "say ok", "files": ["x.txt"]}))
    assert run.ok
    task_prompt = next(m for name, m, _ in scripted.calls if name == "alpha")[-1]["content"]
    assert ("x.txt says ok" in task_prompt) is sees_digest
    assert ("the plan: make x ok" in task_prompt) is sees_plan
    assert (stored(store, run.run_id, "plan") is not None) is sees_digest
