"""The execution engine on scripted models in temporary repositories: tasks as commits on the run's branch,
edits sent back, tests deciding, candidates competing, the reviewer, and resuming an interrupted run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import sql
from gitrepo import git, hermetic_git, make_repo, snapshot  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.agents import events as xe
from moot.agents import execute as x
from moot.agents import runs
from moot.agents.routing import route
from moot.agents.tasks import Task
from moot.core.config.models import Config
from moot.core.storage import Store

#: Passes when x.txt holds exactly "ok"; says what it found otherwise.
TEST_CMD = (
    f'"{sys.executable}" -c "import sys; t = open(\'x.txt\').read(); print(\'x.txt holds\', repr(t)); '
    "sys.exit(0 if t == 'ok\\n' else 1)\""
)


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def reply(*blocks: str) -> str:
    return "Here is the change.\n\n" + "\n".join(blocks)


def make_config(**sections: Any) -> Config:
    data: dict[str, Any] = {
        "models": [{"name": n, "model": f"scripted/{n}", "timeout_s": 60} for n in ("alpha", "beta", "gamma")],
        "roles": {"backend": "alpha", "tests": "beta"},
        "context": {"default_budget": 2000},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return Config.model_validate(data)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"x.txt": "no\n", "src/app.py": "def f():\n    return 1\n"})


@pytest.fixture
def store():
    s = Store()
    yield s
    s.close()


def tasks(*specs: dict[str, Any]) -> list[Task]:
    return [Task(**{"role": "backend", **spec}) for spec in specs]


async def carry_out(config: Config, store: Store, repo: Path, task_list: list[Task],
                    models: list[str] | None = None, events: list[Any] | None = None) -> runs.ExecRun:
    run_id = x.begin(store, repo, "the task", "the plan: make x ok")
    sink = events.append if events is not None else None
    return await x.execute(config, store, run_id, route(task_list, config), models=models, on_progress=sink)


def branch_log(repo: Path, run: runs.ExecRun, candidate: int = 0) -> list[str]:
    c = run.candidate(candidate)
    assert c is not None
    return git(repo, "log", "--format=%s|%(trailers:key=Moot-Model,valueonly)", f"{run.base_sha}..{c.branch}",
               "--reverse").replace("\n\n", "\n").strip().splitlines()


def show(repo: Path, branch: str, path: str) -> str:
    return git(repo, "show", f"{branch}:{path}")


# ----------------------------------------------------------------------------------------------- tasks


async def test_tasks_become_commits_while_the_users_tree_stays_identical(scripted, repo, store) -> None:
    (repo / "src" / "app.py").write_text("def f():\n    return 'my uncommitted work'\n")
    before = snapshot(repo)
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "ok\n")))
    scripted.enqueue("alpha", reply(block("src/app.py", "    return 1\n", "    return 2\n"),
                                    block("src/new.py", "", "NEW = True\n")))
    events: list[Any] = []
    run = await carry_out(make_config(), store, repo, tasks(
        {"id": "t1", "title": "make x ok", "files": ["x.txt"]},
        {"id": "t2", "title": "return two", "files": ["src/app.py"]},
    ), events=events)
    assert snapshot(repo) == before
    assert run.state == "ready" and run.ok and run.status == "done"
    c = run.chosen
    assert c is not None and c.branch == f"moot/{run.run_id}"
    assert [t.status for t in c.tasks] == ["done", "done"]
    assert branch_log(repo, run) == ["moot: make x ok|alpha", "moot: return two|alpha"]
    assert show(repo, c.branch, "x.txt") == "ok\n"
    assert show(repo, c.branch, "src/app.py") == "def f():\n    return 2\n"
    assert show(repo, c.branch, "src/new.py") == "NEW = True\n"
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunDone"
    assert kinds.count("TaskQueued") == 2 and kinds.count("TaskDone") == 2 and "TaskText" in kinds
    done = [e for e in events if isinstance(e, xe.TaskDone)]
    assert done[1].files == ("src/app.py", "src/new.py") and done[0].commit == c.tasks[0].commit
    # t2 listed only src/app.py: the new file is allowed, and said
    assert done[1].unlisted == ("src/new.py",) and done[0].unlisted == ()
    # the task's prompt carries the task, the plan and the scoped context (the pinned file, whole)
    prompt = scripted.calls[0][1][-1]["content"]
    assert "make x ok" in prompt and "the plan: make x ok" in prompt and "x.txt" in prompt and "no" in prompt
    calls = store.calls(run.run_id)
    assert [(c["phase"], c["label"]) for c in calls] == [("execute", "t1"), ("execute", "t2")]


async def test_dependency_order_and_skipping_after_a_failed_dependency(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("made.txt", "", "first\n")))  # t1, listed second, runs first
    scripted.enqueue("alpha", reply(block("made.txt", "first\n", "second\n")))  # t2 edits what t1 made
    scripted.enqueue("alpha", "I would rather not.")  # t3 fails: no edits
    config = make_config(agents={"edit_retries": 0})
    run = await carry_out(config, store, repo, tasks(
        {"id": "t2", "title": "edit it", "depends_on": ["t1"]},
        {"id": "t1", "title": "make it"},
        {"id": "t3", "title": "refuse"},
        {"id": "t4", "title": "after the refusal", "depends_on": ["t3"]},
    ))
    c = run.chosen
    assert c is not None
    status = {t.task_id: (t.status, t.error) for t in c.tasks}
    assert [t.task_id for t in c.tasks] == ["t1", "t2", "t3", "t4"]
    assert status["t1"][0] == status["t2"][0] == "done"
    assert status["t3"] == ("failed", "the answer contained no SEARCH/REPLACE edits")
    assert status["t4"][0] == "skipped" and "t3 (failed)" in (status["t4"][1] or "")
    assert show(repo, c.branch, "made.txt") == "second\n"
    assert run.state == "failed" and not run.ok


async def test_a_failing_search_is_sent_back_and_then_fixed(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "nope\n", "ok\n")))
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "ok\n")))
    events: list[Any] = []
    run = await carry_out(make_config(), store, repo, tasks({"id": "t1", "title": "fix x"}), events=events)
    assert run.ok and len(scripted.calls) == 2
    second = scripted.calls[1][1]
    assert second[-2]["role"] == "assistant" and "nope" in second[-2]["content"]
    assert second[-1]["role"] == "user" and "no_match" in second[-1]["content"]
    retry = next(e for e in events if isinstance(e, xe.TaskRetrying))
    assert retry.attempt == 1 and "x.txt: no_match" in retry.reason
    assert len(branch_log(repo, run)) == 1
    stored = runs.load(store, run.run_id)
    assert stored is not None and [t.attempts for t in stored.candidates[0].tasks] == [2]  # shown when reopened


async def test_whitespace_differences_in_search_still_match(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("src/app.py", "  return 1   \n", "  return 3\n")))
    run = await carry_out(make_config(), store, repo, tasks({"id": "t1", "title": "three"}))
    assert run.ok and len(scripted.calls) == 1
    assert show(repo, f"moot/{run.run_id}", "src/app.py") == "def f():\n    return 3\n"


async def test_a_task_fails_after_the_retries_and_leaves_nothing_behind(scripted, repo, store) -> None:
    for _ in range(3):
        scripted.enqueue("alpha", reply(block("x.txt", "ok\n", "yes\n"), block("made.txt", "", "partial\n")))
    run = await carry_out(make_config(agents={"edit_retries": 2}), store, repo, tasks({"id": "t1", "title": "x"}))
    c = run.chosen
    assert c is not None and len(scripted.calls) == 3
    assert c.tasks[0].status == "failed" and "x.txt: no_match" in (c.tasks[0].error or "")
    assert branch_log(repo, run) == []
    assert c.worktree is not None and not (Path(c.worktree) / "made.txt").exists()
    assert git(Path(c.worktree), "status", "--porcelain") == ""


async def test_a_refused_path_is_reported_and_not_written(scripted, repo, store, tmp_path) -> None:
    scripted.enqueue("alpha", reply(block("../escape.txt", "", "out\n"), block(".git/hooks/x", "", "bad\n")))
    run = await carry_out(make_config(agents={"edit_retries": 0}), store, repo, tasks({"id": "t1", "title": "x"}))
    c = run.chosen
    assert c is not None and c.tasks[0].status == "failed"
    error = c.tasks[0].error or ""
    assert "../escape.txt: refused" in error and ".git/hooks/x: refused" in error
    assert c.worktree is not None
    assert not (Path(c.worktree).parent / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()


async def test_a_model_error_fails_the_task(scripted, repo, store) -> None:
    scripted.enqueue("alpha", error=("auth", False))
    run = await carry_out(make_config(), store, repo, tasks({"id": "t1", "title": "x"}))
    c = run.chosen
    assert c is not None and c.tasks[0].status == "failed"
    assert (c.tasks[0].error or "").startswith("alpha failed: auth")


async def test_routed_models_carry_out_their_tasks(scripted, repo, store) -> None:
    scripted.enqueue("beta", reply(block("tests/test_x.py", "", "def test_x():\n    pass\n")))
    run = await carry_out(make_config(), store, repo, tasks(
        {"id": "t1", "title": "a test", "role": "tests", "files": ["tests/test_x.py"]}))
    assert run.ok and [name for name, _, _ in scripted.calls] == ["beta"]
    assert branch_log(repo, run) == ["moot: a test|beta"]


# ----------------------------------------------------------------------------------------------- tests


async def test_passing_tests_make_the_run_ready(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "ok\n")))
    events: list[Any] = []
    run = await carry_out(make_config(project={"test_command": TEST_CMD}), store, repo,
                          tasks({"id": "t1", "title": "x"}), events=events)
    assert run.ok and run.state == "ready"
    doc = run.to_json()
    assert doc["tests"]["passed"] is True and "x.txt holds 'ok\\n'" in doc["tests"]["output_tail"]
    assert any(isinstance(e, xe.TestOutput) and "x.txt holds" in e.line for e in events)


async def test_the_debug_cycle_hands_the_failure_to_the_tasks_model(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "nearly\n")))
    scripted.enqueue("alpha", reply(block("x.txt", "nearly\n", "ok\n")))
    run = await carry_out(make_config(project={"test_command": TEST_CMD}), store, repo,
                          tasks({"id": "t1", "title": "x"}))
    assert run.ok
    debug_prompt = scripted.calls[1][1][-1]["content"]
    assert "x.txt holds 'nearly\\n'" in debug_prompt
    assert branch_log(repo, run) == ["moot: x|alpha", "moot: fix tests (round 1)|alpha"]
    assert [c["phase"] for c in store.calls(run.run_id)] == ["execute", "debug"]


async def test_escalation_gets_one_try_after_the_debug_limit(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "nearly\n")))
    scripted.enqueue("alpha", reply(block("x.txt", "nearly\n", "closer\n")))  # debug round 1: still wrong
    scripted.enqueue("gamma", reply(block("x.txt", "closer\n", "ok\n")))
    config = make_config(project={"test_command": TEST_CMD}, agents={"debug_limit": 1, "escalation": "gamma"})
    events: list[Any] = []
    run = await carry_out(config, store, repo, tasks({"id": "t1", "title": "x"}), events=events)
    assert run.ok
    assert branch_log(repo, run) == ["moot: x|alpha", "moot: fix tests (round 1)|alpha",
                                     "moot: fix tests (escalation)|gamma"]
    debug = [e for e in events if isinstance(e, xe.DebugStarted)]
    assert [(d.model, d.escalation) for d in debug] == [("alpha", False), ("gamma", True)]


async def test_tests_still_failing_fail_the_run(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "nearly\n")))
    scripted.enqueue("alpha", "no idea")
    config = make_config(project={"test_command": TEST_CMD}, agents={"debug_limit": 1, "edit_retries": 0})
    run = await carry_out(config, store, repo, tasks({"id": "t1", "title": "x"}))
    assert run.state == "failed" and not run.ok
    assert run.to_json()["tests"]["passed"] is False
    assert [t["status"] for t in run.to_json()["tasks"]] == ["done"]


async def test_debug_goes_to_the_model_that_last_changed_the_failing_file(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "nearly\n")))
    scripted.enqueue("beta", reply(block("tests/test_y.py", "", "Y = 1\n")))
    scripted.enqueue("alpha", reply(block("x.txt", "nearly\n", "ok\n")))
    run = await carry_out(make_config(project={"test_command": TEST_CMD}), store, repo, tasks(
        {"id": "t1", "title": "x"}, {"id": "t2", "title": "y", "role": "tests"}))
    assert run.ok and [name for name, _, _ in scripted.calls] == ["alpha", "beta", "alpha"]


# ------------------------------------------------------------------------------------------ candidates


async def test_candidates_the_tests_decide(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "wrong\n")))
    scripted.enqueue("beta", reply(block("x.txt", "no\n", "ok\n"), block("extra.txt", "", "a\nb\nc\n")))
    config = make_config(project={"test_command": TEST_CMD}, agents={"debug_limit": 0})
    run = await carry_out(config, store, repo, tasks({"id": "t1", "title": "x"}), models=["alpha", "beta"])
    assert [c.model_alias for c in run.candidates] == ["alpha", "beta"]
    assert run.winner == 1 and run.ok
    assert [c.branch for c in run.candidates] == [f"moot/{run.run_id}", f"moot/{run.run_id}-1"]
    assert show(repo, run.candidates[0].branch, "x.txt") == "wrong\n"
    doc = run.to_json()
    assert doc["branch"] == f"moot/{run.run_id}-1" and doc["tests"]["passed"] is True
    assert [(c["model"], c["winner"], c["tests"]["passed"]) for c in doc["candidates"]] == [
        ("alpha", False, False), ("beta", True, True)]


async def test_candidates_tie_broken_by_the_smaller_diff(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "ok\n"), block("extra.txt", "", "a\nb\n")))
    scripted.enqueue("beta", reply(block("x.txt", "no\n", "ok\n")))
    config = make_config(project={"test_command": TEST_CMD})
    run = await carry_out(config, store, repo, tasks({"id": "t1", "title": "x"}), models=["alpha", "beta"])
    assert [c.diff_lines for c in run.candidates] == [4, 2]
    assert run.winner == 1
    runs.set_winner(store, run.run_id, 0)  # the user picks the other
    picked = runs.load(store, run.run_id)
    assert picked is not None and picked.chosen is not None and picked.chosen.model_alias == "alpha"


def test_candidate_models_are_distinct_and_must_exist() -> None:
    config = make_config()
    assert x.candidate_models(config, 3) == ["alpha", "beta", "gamma"]
    with pytest.raises(x.ExecuteError, match="4 candidates need 4 different models"):
        x.candidate_models(config, 4)


# -------------------------------------------------------------------------------------------- reviewer


async def test_the_reviewers_verdict_is_stored(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "ok\n")))
    scripted.enqueue("gamma", "VERDICT: CONCERN\nSUMMARY: works\nFINDINGS:\n- x.txt:1: say why it is ok\n")
    run = await carry_out(make_config(roles={"reviewer": "gamma"}), store, repo, tasks({"id": "t1", "title": "x"}))
    review = run.to_json()["review"]
    assert review["model"] == "gamma" and review["verdict"] == "CONCERN"
    assert review["findings"] == [{"file": "x.txt", "line": 1, "text": "say why it is ok"}]
    assert "+ok" in scripted.calls[-1][1][-1]["content"]  # the reviewer read the branch's diff
    assert store.calls(run.run_id)[-1]["phase"] == "review"


async def test_no_reviewer_configured_means_no_review(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "ok\n")))
    run = await carry_out(make_config(), store, repo, tasks({"id": "t1", "title": "x"}))
    assert run.to_json()["review"] is None and len(scripted.calls) == 1


# ------------------------------------------------------------------------------------- interrupt, resume


async def test_a_cancelled_run_is_interrupted_and_resumes_where_it_stopped(scripted, repo, store) -> None:
    config = make_config()
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "ok\n")))
    scripted.enqueue("alpha", reply(block("half.txt", "", "half\n")), hang_after=1)
    started = asyncio.Event()

    def watch(ev: Any) -> None:
        if isinstance(ev, xe.TaskText) and ev.task_id == "t2":
            started.set()

    run_id = x.begin(store, repo, "the task", "the plan")
    routed = route(tasks({"id": "t1", "title": "one"}, {"id": "t2", "title": "two", "depends_on": ["t1"]}), config)
    job = asyncio.create_task(x.execute(config, store, run_id, routed, on_progress=watch))
    await started.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    run = runs.load(store, run_id)
    assert run is not None and run.state == "interrupted" and run.status == "interrupted" and run.resumable
    c = run.chosen
    assert c is not None and [t.status for t in c.tasks] == ["done", "interrupted"]
    assert c.worktree is not None and Path(c.worktree).is_dir()

    scripted.enqueue("alpha", reply(block("two.txt", "", "two\n")))
    events: list[Any] = []
    done = await x.execute(config, store, run_id[:12], on_progress=events.append)
    assert done.state == "ready" and done.ok
    assert [name for name, _, _ in scripted.calls] == ["alpha", "alpha", "alpha"]  # t1 was not asked again
    assert branch_log(repo, done) == ["moot: one|alpha", "moot: two|alpha"]
    assert isinstance(events[0], xe.RunStarted) and events[0].resumed
    assert any(isinstance(e, xe.TaskDone) and e.resumed and e.task_id == "t1" for e in events)
    with pytest.raises(x.ExecuteError, match="only an interrupted run"):
        await x.execute(config, store, run_id)


async def test_resume_keeps_a_commit_made_just_before_the_process_died(scripted, repo, store) -> None:
    config = make_config()
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "ok\n")))
    scripted.enqueue("alpha", reply(block("y.txt", "", "y\n")))
    run = await carry_out(config, store, repo, tasks({"id": "t1", "title": "one"}, {"id": "t2", "title": "two"}))
    # as if killed between t2's commit and its record: t2 still running, the process gone
    sql(store, "UPDATE exec_tasks SET status = 'running', commit_sha = NULL WHERE task_id = 't2'")
    sql(store, "UPDATE exec_runs SET state = 'executing', pid = ?", (_dead_pid(),))
    assert runs.mark_stale(store) == [run.run_id]
    done = await x.execute(config, store, run.run_id)
    assert done.ok and len(scripted.calls) == 2
    assert [t.commit for t in done.candidates[0].tasks] == [t.commit for t in run.candidates[0].tasks]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_mark_stale_leaves_a_run_another_live_process_carries_out(repo, store) -> None:
    live = x.begin(store, repo, "live", "plan")
    dead = x.begin(store, repo, "dead", "plan")
    runs.release(store, live)
    runs.release(store, dead)
    sql(store, "UPDATE exec_runs SET pid = ? WHERE run_id = ?", (os.getppid(), live))
    sql(store, "UPDATE exec_runs SET pid = ? WHERE run_id = ?", (_dead_pid(), dead))
    store.mark_interrupted()  # what every CLI start does to 'running' runs
    assert runs.mark_stale(store) == [dead]
    a, b = runs.load(store, live), runs.load(store, dead)
    assert a is not None and a.live and a.status == "running" and not a.resumable
    assert b is not None and b.state == "interrupted" and b.status == "interrupted" and b.resumable


def test_begin_refuses_outside_a_repository(tmp_path, store) -> None:
    from moot.agents.worktree import WorktreeError

    with pytest.raises(WorktreeError, match="not inside a git repository"):
        x.begin(store, tmp_path, "t", "p")


async def test_a_local_model_edits_under_a_grammar_of_its_files(store: Store, tmp_path: Path) -> None:
    """The embedded engine's answer is decoded under the edit grammar built from the task's files, at a low
    temperature; other models answer freely. An answer cut by the token cap inside its REPLACE still applies."""
    from moot.core.providers import builtin
    from moot.core.providers.base import register_backend
    from scripted import ScriptedBackend

    repo = make_repo(tmp_path / "r", {"src/app.py": "def f():\n    return 1\n"})
    local = ScriptedBackend()
    register_backend("local", lambda: local)
    try:
        config = Config.model_validate({
            "models": [{"name": "tiny", "model": "local/tiny", "max_tokens": 200, "temperature": 0.9}],
            "roles": {"backend": "tiny"}, "context": {"default_budget": 500},
        })
        cut = "Adding g.\n\nsrc/app.py\n<<<<<<< SEARCH\ndef f():\n    return 1\n=======\ndef f():\n    return 1\n\n\ndef g():\n    ret"
        local.enqueue("tiny", cut, finish="length")
        run = await carry_out(config, store, repo, tasks({"id": "t1", "title": "add g", "files": ["src/app.py"]}))
        _, messages, params = local.calls[0]
        assert params.grammar and '"src/app.py' in params.grammar and params.temperature == 0.2
        c = run.candidate(0)
        assert c is not None and [t.status for t in c.tasks] == ["done"]
        assert show(repo, c.branch, "src/app.py") == "def f():\n    return 1\n\n\ndef g():\n"
    finally:
        register_backend("local", builtin.FACTORIES["local"])


async def test_escalation_needs_evidence_not_only_a_failure(scripted, repo, store) -> None:
    silent = f'"{sys.executable}" -c "import sys; sys.exit(0 if open(\'x.txt\').read() == \'ok\\n\' else 1)"'
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "nearly\n")))
    scripted.enqueue("alpha", reply(block("x.txt", "nearly\n", "closer\n")))
    config = make_config(project={"test_command": silent}, agents={"debug_limit": 1, "escalation": "gamma"})
    events: list[Any] = []
    run = await carry_out(config, store, repo, tasks({"id": "t1", "title": "x"}), events=events)
    assert not run.ok and "gamma" not in [n for n, *_ in scripted.calls]
    notes = [e.text for e in events if isinstance(e, xe.Note)]
    assert any("no escalation to gamma: the failing tests printed nothing to go on" in n for n in notes)


async def test_escalation_comes_after_the_cycles_the_thresholds_say(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "nearly\n")))
    scripted.enqueue("alpha", reply(block("x.txt", "nearly\n", "closer\n")))
    scripted.enqueue("gamma", reply(block("x.txt", "closer\n", "ok\n")))
    config = make_config(project={"test_command": TEST_CMD}, agents={"debug_limit": 5, "escalation": "gamma"},
                         thresholds={"debug_escalation_after_cycles": 1})
    run = await carry_out(config, store, repo, tasks({"id": "t1", "title": "x"}))
    assert run.ok
    assert branch_log(repo, run) == ["moot: x|alpha", "moot: fix tests (round 1)|alpha",
                                     "moot: fix tests (escalation)|gamma"]


async def test_effort_policy_reaches_each_kind_of_call(scripted, repo, store) -> None:
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "nearly\n")))
    scripted.enqueue("alpha", reply(block("x.txt", "nearly\n", "closer\n")))
    scripted.enqueue("gamma", reply(block("x.txt", "closer\n", "ok\n")))
    scripted.enqueue("beta", "VERDICT: PASS\nSUMMARY: fine\nFINDINGS:\n- none\n")
    config = make_config(project={"test_command": TEST_CMD}, agents={"debug_limit": 1, "escalation": "gamma"},
                         roles={"backend": "alpha", "tests": "beta", "reviewer": "beta"},
                         effort_policy={"implementation": "low", "debugging": "medium",
                                        "debugging_escalated": "high", "review": "medium"})
    await carry_out(config, store, repo, tasks({"id": "t1", "title": "x"}))
    assert [(n, p.effort) for n, _, p in scripted.calls] == [("alpha", "low"), ("alpha", "medium"),
                                                             ("gamma", "high"), ("beta", "medium")]
