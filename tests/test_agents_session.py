"""The run session: the one lifecycle of an execution run (begin, split, route, candidates, carry out, cancel,
resume) that the command line and the workbench both drive, with its states recorded as enums; and which
process carries a run out, told by its pid and when that process started."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from test_agents_execute import block, make_config, reply

from conftest import sql
from gitrepo import hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.agents import events as xe
from moot.agents import execute as x
from moot.agents import runs
from moot.agents.runs import RunState, TaskState
from moot.agents.session import RunSession
from moot.agents.tasks import DecomposeError
from moot.core.storage import Store


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo", {"x.txt": "no\n"})


@pytest.fixture
def store():
    s = Store()
    yield s
    s.close()


TASKS = {"tasks": [{"id": "t1", "title": "make x ok", "role": "backend", "description": "x.txt says ok",
                    "files": ["x.txt"]}]}


async def test_a_new_run_from_plan_to_branch(scripted, repo, store) -> None:
    config = make_config()
    scripted.enqueue("alpha", json.dumps(TASKS))  # the planner (alpha, the first model) splits the plan
    scripted.enqueue("alpha", reply(block("x.txt", "no\n", "ok\n")))
    events: list[object] = []
    session = RunSession(config, store, repo, on_event=events.append)
    run_id = session.begin("make x ok", "1. make x ok")
    assert runs.load(store, run_id).state == RunState.DECOMPOSING
    assert await session.split() is None
    assert [rt.task.id for rt in session.routed] == ["t1"] and session.routed[0].alias == "alpha"
    session.reroute({"t1": (None, "beta")})
    assert session.routed[0].alias == "beta" and "override" in session.routed[0].reason
    session.reroute({"t1": (None, "alpha")})
    run = await session.carry_out()
    assert run.state == RunState.READY and session.state == RunState.READY
    assert run.candidates[0].tasks[0].status == TaskState.DONE
    assert isinstance(events[0], xe.RunStarted) and isinstance(events[-1], xe.RunDone)
    assert not runs.load(store, run_id).live  # released


async def test_a_failed_split_closes_the_run_with_its_reason(scripted, repo, store) -> None:
    scripted.enqueue("alpha", error=("auth", False))
    session = RunSession(make_config(), store, repo)
    run_id = session.begin("t", "the plan")
    with pytest.raises(DecomposeError):
        await session.split()
    run = runs.load(store, run_id)
    assert run.state == RunState.FAILED and "auth" in (run.error or "") and not run.live
    assert store.run(run_id)["status"] == "failed"


async def test_cancelled_before_the_tasks_changes_nothing(scripted, repo, store) -> None:
    scripted.enqueue("alpha", json.dumps(TASKS))
    session = RunSession(make_config(), store, repo)
    run_id = session.begin("t", "the plan")
    await session.split()
    session.cancel()
    assert runs.load(store, run_id).state == RunState.CANCELLED
    assert scripted.calls[-1][0] == "alpha" and len(scripted.calls) == 1  # only the planner was asked


async def test_candidates_need_as_many_models(scripted, repo, store) -> None:
    scripted.enqueue("alpha", json.dumps(TASKS))
    session = RunSession(make_config(), store, repo)
    session.begin("t", "the plan")
    await session.split()
    session.set_candidates(2)
    assert session.models == ["alpha", "beta"]
    with pytest.raises(x.ExecuteError, match="4 candidates need 4 different models"):
        session.set_candidates(4)
    assert session.candidates == 2  # unchanged


def test_states_are_stored_as_their_values(repo, store) -> None:
    run_id = x.begin(store, repo, "t", "p", state=RunState.DECOMPOSING)
    [row] = sql(store, "SELECT state FROM exec_runs WHERE run_id = ?", (run_id,))
    assert row[0] == "decomposing"
    runs.set_state(store, run_id, RunState.READY)
    assert store.run(run_id)["status"] == "done"
    assert RunState.EXECUTING.status == "running" and RunState.INTERRUPTED.status == "interrupted"


def test_a_run_is_live_while_this_process_holds_it(repo, store) -> None:
    run_id = x.begin(store, repo, "t", "p")
    assert runs.load(store, run_id).live
    runs.release(store, run_id)
    assert not runs.load(store, run_id).live and runs.load(store, run_id).resumable


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="the system gives no process start times")
def test_a_pid_given_to_another_process_is_not_taken_for_the_run_s(repo, store) -> None:
    run_id = x.begin(store, repo, "t", "p")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:  # a live process holds the recorded pid, but it started later than the one that recorded the run
        sql(store, "UPDATE exec_runs SET pid = ?, pid_started = ? WHERE run_id = ?",
            (other.pid, runs.process_started(other.pid) - 1, run_id))
        assert not runs.load(store, run_id).live
        assert runs.mark_stale(store) == [run_id]
        sql(store, "UPDATE exec_runs SET state = 'executing', pid = ?, pid_started = ? WHERE run_id = ?",
            (other.pid, runs.process_started(other.pid), run_id))
        assert runs.load(store, run_id).live  # the very process that recorded it
    finally:
        other.kill()
        other.wait()
