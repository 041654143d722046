"""``moot run``, ``review``, ``accept``, ``reject`` and ``undo`` in temporary repositories, on scripted models."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from gitrepo import git, hermetic_git, make_repo, snapshot  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.cli.main import main

TEST_CMD = (
    f'"{sys.executable}" -c "import sys; t = open(\'x.txt\').read(); print(\'x.txt holds\', repr(t)); '
    "sys.exit(0 if t == 'ok\\n' else 1)\""
)

CONFIG = """
[[models]]
name = "alpha"
model = "scripted/alpha"
timeout_s = 60

[[models]]
name = "beta"
model = "scripted/beta"
timeout_s = 60

[[models]]
name = "gamma"
model = "scripted/gamma"
timeout_s = 60

[roles]
judge = "alpha"
planner = "alpha"
backend = "alpha"
"""

PLAN = "# Make x ok\n\nChange x.txt so that it says ok.\n"


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def task_list(*tasks: dict[str, Any]) -> str:
    return "```json\n" + json.dumps({"tasks": [{"role": "backend", **t} for t in tasks]}) + "\n```"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_config) -> Path:
    user_config(CONFIG)
    work = make_repo(tmp_path / "repo", {"x.txt": "no\n", "y.txt": "why\n"})
    monkeypatch.chdir(work)
    (tmp_path / "plan.md").write_text(PLAN)
    return work


def configure(user_config, **extra: str) -> None:
    text = CONFIG
    if "reviewer" in extra:
        text = text.replace('backend = "alpha"\n', f'backend = "alpha"\nreviewer = "{extra["reviewer"]}"\n')
    if "test_command" in extra:
        text += f"\n[project]\ntest_command = {json.dumps(extra['test_command'])}\n"
    if "agents" in extra:
        text += f"\n[agents]\n{extra['agents']}\n"
    user_config(text)


def run_json(capsys, *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["run", *argv, "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else {}, out.err


def one_task(scripted, text: str = "ok\n") -> None:
    scripted.enqueue("alpha", task_list({"id": "t1", "title": "make x ok", "files": ["x.txt"]}))
    scripted.enqueue("alpha", "Done.\n\n" + block("x.txt", "no\n", text))


# -------------------------------------------------------------------------------------------------- run


def test_run_json_document(scripted, repo, tmp_path, capsys, user_config) -> None:
    configure(user_config, reviewer="gamma", test_command=TEST_CMD)
    one_task(scripted)
    scripted.enqueue("gamma", "VERDICT: PASS\nSUMMARY: fine\nFINDINGS:\n- none\n")
    before = snapshot(repo)
    code, doc, err = run_json(capsys, "--plan", str(tmp_path / "plan.md"), "--yes")
    assert code == 0, err
    assert set(doc) == {"run_id", "branch", "tasks", "tests", "review", "warnings", "workflow"}
    wf = doc["workflow"]  # the plan is given: the workshop is not needed; the rest of feature-build runs
    assert wf["workflow"] == "feature-build" and wf["state"] == "done"
    assert [(p["name"], p["state"]) for p in wf["phases"]] == [
        ("workshop", "skipped"), ("plan", "done"), ("decompose", "done"), ("execute", "done"),
        ("integrate", "done"), ("audit", "done")]
    assert wf["phases"][1]["meta"] == {"given": True} and wf["phases"][3]["child_run"] == doc["run_id"]
    assert doc["warnings"] == []  # no file of moot's, the shell's, CI's or git's was changed
    assert doc["branch"] == f"moot/{doc['run_id']}"
    assert doc["tasks"] == [{"id": "t1", "title": "make x ok", "role": "backend", "model": "alpha",
                             "status": "done", "commit": doc["tasks"][0]["commit"], "error": None}]
    assert set(doc["tests"]) == {"command", "passed", "output_tail"} and doc["tests"]["passed"] is True
    assert doc["review"] == {"model": "gamma", "verdict": "PASS", "findings": []}
    assert "t1  [backend → alpha] make x ok" in err and "tests passed" in err
    assert snapshot(repo) == before


def test_run_plans_the_task_first(scripted, repo, capsys) -> None:
    """``moot run TASK`` is the feature-build workflow: a workshop, a plan, its tasks, a summary and an audit."""
    for phase in ("workshop", "plan"):  # three proposers, and alpha judges
        scripted.enqueue("alpha", f"{phase} a")
        scripted.enqueue("beta", f"{phase} b")
        scripted.enqueue("gamma", f"{phase} c")
        scripted.enqueue("alpha", f"## {phase}\nChange x.txt to ok.\n")
    one_task(scripted)
    code, doc, err = run_json(capsys, "make x ok", "--yes")
    assert code == 0 and doc["tasks"][0]["status"] == "done"
    assert [p["state"] for p in doc["workflow"]["phases"]] == ["done"] * 6  # feature-build, whole
    decompose = next(msgs for name, msgs, _ in scripted.calls[8:] if name == "alpha")
    assert "Change x.txt to ok." in decompose[-1]["content"]
    assert "workflow feature-build: workshop → plan → decompose → execute → integrate → audit" in err
    assert main(["history", "--json"]) == 0
    kinds = sorted((r["kind"], r["status"]) for r in json.loads(capsys.readouterr().out))
    assert kinds == [("exec", "done"), ("plan", "done"), ("plan", "done"), ("workflow", "done")]


def test_a_planner_that_cannot_split_the_plan_gets_it_as_one_task(scripted, repo, tmp_path, capsys) -> None:
    """Two replies that are no task list: the whole plan becomes one task, said on stderr, and is carried out."""
    scripted.enqueue("alpha", "1. change x\n2. done")
    scripted.enqueue("alpha", '{"tasks": []}')
    scripted.enqueue("alpha", "Done.\n\n" + block("x.txt", "no\n", "ok\n"))
    code, doc, err = run_json(capsys, "--plan", str(tmp_path / "plan.md"), "--yes")
    assert code == 0
    assert "alpha gave no valid task list after one retry" in err and "the whole plan is one task instead" in err
    assert [(t["id"], t["title"], t["status"]) for t in doc["tasks"]] == [("t1", "Make x ok", "done")]
    work = scripted.calls[2][1][-1]["content"]
    assert "Change x.txt so that it says ok." in work


def test_failing_tests_exit_1(scripted, repo, tmp_path, capsys, user_config) -> None:
    configure(user_config, test_command=TEST_CMD, agents="debug_limit = 0")
    one_task(scripted, "nope\n")
    code, doc, err = run_json(capsys, "--plan", str(tmp_path / "plan.md"))
    assert code == 1 and doc["tests"]["passed"] is False and "x.txt holds 'nope\\n'" in doc["tests"]["output_tail"]
    assert "| x.txt holds 'nope\\n'" in err  # the output is shown


def test_confirmation_declined_changes_nothing(scripted, repo, tmp_path, capsys, monkeypatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    one_task(scripted)
    assert main(["run", "--plan", str(tmp_path / "plan.md")]) == 1
    assert "[Y/n]" in capsys.readouterr().err
    assert git(repo, "branch", "--list", "moot/*") == "" and len(scripted.calls) == 1


def test_usage_errors_exit_2(repo, tmp_path, capsys, monkeypatch) -> None:
    assert main(["run"]) == 2
    assert main(["run", "x", "--plan", str(tmp_path / "plan.md")]) == 2
    assert main(["run", "--plan", str(tmp_path / "missing.md")]) == 2
    assert main(["run", "x", "--candidates", "9"]) == 2
    assert main(["review", "nope"]) == 2
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    assert main(["run", "x", "--yes"]) == 2
    assert "not inside a git repository" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- review/accept/undo


def _ready_run(scripted, capsys, tmp_path: Path) -> dict[str, Any]:
    scripted.enqueue("alpha", task_list({"id": "t1", "title": "x", "files": ["x.txt"]},
                                        {"id": "t2", "title": "y", "files": ["y.txt"]}))
    scripted.enqueue("alpha", block("x.txt", "no\n", "ok\n"))
    scripted.enqueue("alpha", block("y.txt", "why\n", "because\n"))
    code, doc, _ = run_json(capsys, "--plan", str(tmp_path / "plan.md"))
    assert code == 0
    return doc


def test_review_accept_and_undo(scripted, repo, tmp_path, capsys) -> None:
    (repo / "notes.txt").write_text("my own work\n")  # untracked, and must survive
    doc = _ready_run(scripted, capsys, tmp_path)
    run_id = doc["run_id"]
    assert main(["review", run_id[:17]]) == 0
    shown = capsys.readouterr().out
    assert "modified  x.txt  +1 -1" in shown and "-no\n+ok" in shown
    assert main(["review", run_id, "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert [(f["path"], f["added"], f["removed"]) for f in files] == [("x.txt", 1, 1), ("y.txt", 1, 1)]
    assert files[0]["hunks"][0]["lines"] == ["-no", "+ok"]

    base = git(repo, "rev-parse", "HEAD").strip()
    assert main(["accept", run_id]) == 0
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("moot: Make x ok\n") and f"Moot-Run: {run_id}" in message
    assert (repo / "x.txt").read_text() == "ok\n" and (repo / "notes.txt").read_text() == "my own work\n"
    assert git(repo, "branch", "--list", "moot/*") == ""
    assert run_id not in git(repo, "worktree", "list")
    assert main(["accept", run_id]) == 2  # accepted already
    capsys.readouterr()

    assert main(["undo"]) == 0
    assert run_id in capsys.readouterr().out
    assert (repo / "x.txt").read_text() == "no\n" and (repo / "y.txt").read_text() == "why\n"
    assert git(repo, "diff", base, "HEAD") == ""


def test_accept_some_files_only(scripted, repo, tmp_path, capsys) -> None:
    doc = _ready_run(scripted, capsys, tmp_path)
    assert main(["accept", doc["run_id"], "--files", "nope.txt"]) == 2
    assert main(["accept", doc["run_id"], "--files", "y.txt"]) == 0
    assert (repo / "y.txt").read_text() == "because\n" and (repo / "x.txt").read_text() == "no\n"


def test_accept_refuses_a_dirty_tree_and_loses_nothing(scripted, repo, tmp_path, capsys) -> None:
    doc = _ready_run(scripted, capsys, tmp_path)
    (repo / "x.txt").write_text("my edit\n")
    assert main(["accept", doc["run_id"]]) == 1
    err = capsys.readouterr().err
    assert "uncommitted changes in x.txt" in err
    assert (repo / "x.txt").read_text() == "my edit\n" and (repo / "y.txt").read_text() == "why\n"
    assert git(repo, "branch", "--list", "--format=%(refname:short)", "moot/*").split() == [doc["branch"]]


def test_reject_removes_the_worktree_and_the_branch(scripted, repo, tmp_path, capsys, moot_env) -> None:
    doc = _ready_run(scripted, capsys, tmp_path)
    before = snapshot(repo)
    assert main(["reject", doc["run_id"]]) == 0
    assert doc["branch"] in capsys.readouterr().out
    assert git(repo, "branch", "--list", "moot/*") == ""
    assert not (moot_env / "worktrees" / doc["run_id"]).exists()
    assert snapshot(repo) == before
    assert main(["reject", doc["run_id"]]) == 2


def test_candidates_and_picking_the_other(scripted, repo, tmp_path, capsys, user_config) -> None:
    configure(user_config, test_command=TEST_CMD, agents="debug_limit = 0")
    scripted.enqueue("alpha", task_list({"id": "t1", "title": "x", "files": ["x.txt"]}))
    scripted.enqueue("alpha", block("x.txt", "no\n", "ok\n"))
    scripted.enqueue("beta", block("x.txt", "no\n", "ok\n") + block("y.txt", "why\n", "why not\n"))
    code, doc, err = run_json(capsys, "--plan", str(tmp_path / "plan.md"), "--candidates", "2")
    assert code == 0
    assert [(c["model"], c["winner"]) for c in doc["candidates"]] == [("alpha", True), ("beta", False)]
    assert "carried out by each of alpha, beta" in err
    assert main(["accept", f"{doc['run_id']}-1"]) == 0  # the user picks beta's
    assert (repo / "y.txt").read_text() == "why not\n"
    assert git(repo, "branch", "--list", "moot/*") == ""


# ----------------------------------------------------------------------------------------- kill, resume

DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from scripted import ScriptedBackend
backend = ScriptedBackend.install()
backend.enqueue("alpha", {tasks!r})
backend.enqueue("alpha", {first!r})
backend.enqueue("alpha", "x", hang=True)
from moot.cli.main import main
sys.exit(main(["run", "--plan", {plan!r}, "--yes"]))
"""


def killed_in_the_second_task(repo: Path, tmp_path: Path) -> list[str]:
    """``moot run --plan`` of two tasks in a process of its own, killed once the second task is under way; the
    lines it had written to stderr."""
    tasks = task_list({"id": "t1", "title": "x", "files": ["x.txt"]},
                      {"id": "t2", "title": "y", "files": ["y.txt"], "depends_on": ["t1"]})
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(tests=str(ROOT / "tests"), tasks=tasks, first=block("x.txt", "no\n", "ok\n"),
                                    plan=str(tmp_path / "plan.md")))
    proc = subprocess.Popen([sys.executable, str(driver)], cwd=repo, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "t2: alpha working" in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return seen


def test_a_killed_run_is_listed_interrupted_and_resumes(scripted, repo, tmp_path, capsys) -> None:
    seen = killed_in_the_second_task(repo, tmp_path)
    run_id = next(line.split()[2].rstrip(":") for line in seen if line.startswith("moot: run "))

    assert main(["history", "--json"]) == 0
    statuses = {r["id"]: r["status"] for r in json.loads(capsys.readouterr().out)}
    assert statuses[run_id] == "interrupted"

    scripted.enqueue("alpha", block("y.txt", "why\n", "because\n"))
    assert main(["run", "--resume", run_id, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(t["id"], t["status"]) for t in doc["tasks"]] == [("t1", "done"), ("t2", "done")]
    assert len(scripted.calls) == 1  # only t2 was asked again
    assert git(repo, "show", f"{doc['branch']}:y.txt") == "because\n"
    assert main(["run", "--resume", run_id]) == 2  # nothing left to resume


def test_a_killed_workflow_resumes_its_branch_run_where_it_stopped(scripted, repo, tmp_path, capsys) -> None:
    """``moot run --resume`` of the workflow run goes on with the branch run its execute phase had begun (the
    task done stays done), then the phases after it."""
    killed_in_the_second_task(repo, tmp_path)
    assert main(["history", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    workflow = next(r["id"] for r in rows if r["kind"] == "workflow")
    branch_run = next(r["id"] for r in rows if r["kind"] == "exec")

    scripted.enqueue("alpha", block("y.txt", "why\n", "because\n"))
    assert main(["run", "--resume", workflow, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["run_id"] == branch_run  # the same branch run, carried on
    assert [(t["id"], t["status"]) for t in doc["tasks"]] == [("t1", "done"), ("t2", "done")]
    assert [p["state"] for p in doc["workflow"]["phases"]] == ["skipped"] + ["done"] * 5
    assert git(repo, "show", f"{doc['branch']}:y.txt") == "because\n"
    work = [msgs[-1]["content"] for _, msgs, _ in scripted.calls]
    assert len(work) == 4 and "y.txt" in work[0]  # t2, then integrate and the audit's two reviews
    assert main(["run", "--resume", workflow]) == 0  # done already: shown again, nothing asked
    assert len(scripted.calls) == 4 and f"run {branch_run} ready" in capsys.readouterr().out


def test_an_interrupted_run_can_be_rejected(scripted, repo, tmp_path, capsys) -> None:
    import asyncio

    from moot.agents import execute as x
    from moot.agents import runs
    from moot.agents.routing import route
    from moot.agents.tasks import Task
    from moot.core.config import load_config
    from moot.core.storage import Store

    config = load_config(repo).config
    scripted.enqueue("alpha", "x", hang=True)
    store = Store()

    async def start_and_cancel() -> str:
        run_id = x.begin(store, repo, "t", "p")
        job = asyncio.create_task(x.execute(config, store, run_id, route([Task(id="t1", title="x")], config)))
        while not scripted.calls:
            await asyncio.sleep(0)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        return run_id

    run_id = asyncio.run(start_and_cancel())
    run = runs.load(store, run_id)
    store.close()
    assert run is not None and run.state == "interrupted"
    assert main(["reject", run_id]) == 0
    assert git(repo, "branch", "--list", "moot/*") == ""


BLOCK_REVIEW = "VERDICT: BLOCK\nSUMMARY: it deletes the data\nFINDINGS:\n- x.txt:1: the old value is lost\n"


def test_a_reviewer_s_block_stops_accept_unless_forced(scripted, repo, tmp_path, capsys, user_config) -> None:
    from moot.agents import runs
    from moot.core.storage import Store

    configure(user_config, reviewer="gamma")
    one_task(scripted)
    scripted.enqueue("gamma", BLOCK_REVIEW)
    code, doc, _ = run_json(capsys, "--plan", str(tmp_path / "plan.md"), "--yes")
    assert code == 0 and doc["review"]["verdict"] == "BLOCK"
    before = snapshot(repo)
    assert main(["accept", doc["run_id"]]) == 1
    err = capsys.readouterr().err
    assert "the reviewer (gamma) says BLOCK; nothing was changed" in err
    assert "- x.txt:1: the old value is lost" in err and "--force` accepts it anyway" in err
    assert snapshot(repo) == before
    assert main(["accept", doc["run_id"], "--force"]) == 0
    out = capsys.readouterr()
    assert "accepted run" in out.out and "override is stored with the run" in out.err
    assert (repo / "x.txt").read_text() == "ok\n"
    with Store() as store:
        run = runs.load(store, doc["run_id"])
        assert run is not None and run.chosen is not None and run.chosen.review is not None
        assert run.chosen.review["overridden"]["verdict"] == "BLOCK"


def test_a_concern_accepts_as_before(scripted, repo, tmp_path, capsys, user_config) -> None:
    configure(user_config, reviewer="gamma")
    one_task(scripted)
    scripted.enqueue("gamma", "VERDICT: CONCERN\nSUMMARY: a nit\nFINDINGS:\n- x.txt:1: tidy it\n")
    code, doc, _ = run_json(capsys, "--plan", str(tmp_path / "plan.md"), "--yes")
    assert code == 0 and main(["accept", doc["run_id"]]) == 0
