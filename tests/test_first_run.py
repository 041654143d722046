"""The first run on the embedded default, for real: SmolLM2 splits a plan into a task list valid by its schema,
then makes an edit under the edit grammar, which applies and is committed on the run's branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrepo import git, hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.agents import execute as x
from moot.agents.landing import split_plan
from moot.agents.routing import route
from moot.core.config.models import Config
from moot.core.providers.embedded import engine_installed, shipped_model_path
from moot.core.storage import Store

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(not (engine_installed() and shipped_model_path()),
                       reason="the embedded engine is not installed (pip install 'moot[local]')"),
]

APP = 'def add(a, b):\n    return a + b\n\n\ndef main():\n    print(add(1, 2))\n'
PLAN = "1. Add a function greet(name) to app.py that returns 'Hello, ' + name.\n2. Call it from main()."


@pytest.mark.parametrize("temperature", [0.0, 0.8])
async def test_small_model_splits_the_plan_and_its_edit_applies(tmp_path: Path, temperature: float) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": APP, "README.md": "# calc\n"})
    config = Config.model_validate({
        "models": [{"name": "smollm2", "model": "local/smollm2", "num_ctx": 4096, "max_tokens": 300,
                    "temperature": temperature}],
        "context": {"default_budget": 800},
        "agents": {"edit_retries": 0},  # one answer each: it has to apply the first time
    })
    with Store() as store:
        run_id = x.begin(store, repo, "add greet", PLAN)
        tasks, note = await split_plan(config, store, repo, run_id, PLAN)
        assert note is None  # a task list, not the whole plan as one task
        assert tasks and all(t.id == f"t{i + 1}" for i, t in enumerate(tasks))
        assert all(set(t.files) <= {"app.py", "README.md"} for t in tasks)
        run = await x.execute(config, store, run_id, route(tasks, config))
        candidate = run.candidate(0)
        assert candidate is not None
        states = {t.task_id: (t.status, t.error) for t in candidate.tasks}
        assert all(status == "done" for status, _ in states.values()), states
        changed = git(repo, "diff", "--name-only", run.base_sha, candidate.branch).split()
        assert changed, "every task committed, so something changed"
        assert len(git(repo, "rev-list", f"{run.base_sha}..{candidate.branch}").split()) == len(tasks)
