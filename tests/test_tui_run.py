"""Carrying out a plan in the workbench, in temporary git repositories with the scripted models: the task list
(checked, edited, then live), the tests and the reviewer, the diff review (hunks accepted and landed, a dirty
tree refused, everything rejected), and an interrupted run resumed from the history."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Log, Static

from gitrepo import git, hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.agents import events as xe
from moot.agents import execute as x
from moot.agents import runs
from moot.agents import worktree as wtree
from moot.tui.screens.history import HistoryScreen
from moot.tui.screens.main import MainScreen
from moot.tui.screens.review import ReviewScreen
from moot.tui.screens.run import RunScreen
from moot.tui.screens.run_dialogs import ConfirmScreen, PickScreen
from moot.tui.widgets.review import Choices, FileList, HunkView, ReviewerPanel
from moot.tui.widgets.review.hunkview import highlight_lines
from moot.tui.widgets.tasks import ExecProgress, TaskList
from moot.tui.widgets.tasks.fence import EditFencer, fenced

APP_PY = '''"""A tiny app."""

import sys


def greet(name):
    return "hello " + name


def count(items):
    total = 0
    for item in items:
        total += 1
    return total


def main():
    print(greet(sys.argv[1]))
'''
GREET_OLD, GREET_NEW = '    return "hello " + name\n', '    return f"hello, {name}!"\n'
MAIN_OLD = "    print(greet(sys.argv[1]))\n"
MAIN_NEW = '    print(greet(sys.argv[1] if len(sys.argv) > 1 else "world"))\n'
CHECK_PY = '''import sys
sys.path.insert(0, "src")
import app
print("greet:", app.greet("bob"))
sys.exit(0 if app.greet("bob") == "hello, bob!" else 1)
'''
README = "# tiny\n\nSays hello.\n"
FILES = {"src/app.py": APP_PY, "check.py": CHECK_PY, "README.md": README}

PLAN = "## Plan\n1. Greet with a comma in `src/app.py`.\n2. Default the name in `main()`.\n"
JUDGE = PLAN + "\n## Consensus\n- a friendlier greeting\n"
TASKS = {"tasks": [
    {"id": "t1", "title": "Greet with a comma", "role": "backend", "files": ["src/app.py"],
     "description": "greet() says hello, NAME!"},
    {"id": "t2", "title": "Default the name in main", "role": "backend", "files": ["src/app.py"],
     "depends_on": ["t1"], "description": "main() works without an argument."},
]}
REVIEW = ("VERDICT: CONCERN\nSUMMARY: Works, but main() has no test.\nFINDINGS:\n"
          "- src/app.py:18: main() is not covered by a test\n")


def config_text(accept: str = "commit") -> str:
    """The scripted models, a planner, a reviewer and a real test command."""
    test_cmd = f'"{sys.executable}" check.py'
    text = f"""
[[models]]
name = "alpha"
model = "scripted/alpha"

[[models]]
name = "beta"
model = "scripted/beta"

[[models]]
name = "gamma"
model = "scripted/gamma"

[roles]
judge = "alpha"
planner = "alpha"
backend = "alpha"
reviewer = "gamma"

[project]
test_command = '{test_cmd}'

[agents]
debug_limit = 0
edit_retries = 1
accept = "{accept}"
"""
    return text


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def edit_reply(search: str, replace: str) -> str:
    return "Here is the change.\n\n" + block("src/app.py", search, replace)


def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project directory of the workbench fixture as a git repository, and run ids that do not depend on
    the clock."""
    from itertools import count

    from moot.agents import execute

    ids = count(1)  # execution runs only: planning runs keep the workbench fixture's ids
    monkeypatch.setattr(execute, "new_run_id", lambda: f"20260101-000000-e{next(ids):03d}")
    return make_repo(tmp_path / "project", FILES)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_project(tmp_path, monkeypatch)


async def settle(pilot: Any, rounds: int = 3) -> None:
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def until(pilot: Any, check: Any, timeout: float = 10.0) -> None:
    """Wait (pausing the test, not the app) until ``check()`` holds."""
    waited = 0.0
    while not check():
        if waited > timeout:
            raise AssertionError("timed out waiting for the screen")
        await pilot.pause(0.05)
        waited += 0.05


def fake_run(store: Any, repo: Path, run_id: str = "20260101-000000-f001", *, candidates: int = 1,
             review: dict[str, Any] | None = None, state: str = "ready",
             task_files: list[str] | None = None) -> runs.ExecRun:
    """A finished run recorded the way the engine records it, with a real branch and worktree per candidate:
    ``src/app.py`` changed in two far-apart hunks, ``README.md`` changed, ``src/extra.py`` added."""
    run_id = x.begin(store, repo, "make the greeting friendlier", PLAN, run_id=run_id)
    for n in range(candidates):
        wt = wtree.create(repo, run_id, n)
        app_py = APP_PY.replace(GREET_OLD, GREET_NEW if n == 0 else '    return "hi " + name\n')
        (wt.path / "src" / "app.py").write_text(app_py.replace(MAIN_OLD, MAIN_NEW))
        (wt.path / "README.md").write_text(README.replace("Says hello.", "Says hello, politely."))
        (wt.path / "src" / "extra.py").write_text("EXTRA = True\n")
        sha = wtree.commit(wt, "moot: greet", "alpha", task_id="t1")
        alias = ("alpha", "beta")[n] if candidates > 1 else None
        runs.add_candidate(store, run_id, n, alias, wt.branch, str(wt.path))
        runs.add_tasks(store, run_id, n, [runs.TaskRow("t1", 0, "Greet with a comma", "backend", alias or "alpha",
                                                       files=list(task_files or []))])
        runs.set_task(store, run_id, n, "t1", "done", commit=sha)
        tests = {"command": "python check.py", "passed": n == 0, "exit_code": 0 if n == 0 else 1,
                 "output_tail": "greet: hello, bob!", "duration_s": 0.1}
        runs.set_candidate(store, run_id, n, status="done", head_sha=sha, diff_lines=wtree.diff_lines(wt),
                           tests=tests, review=review)
    runs.set_winner(store, run_id, 0)
    runs.set_state(store, run_id, state)
    runs.release(store, run_id)
    loaded = runs.load(store, run_id)
    assert loaded is not None
    return loaded


REVIEW_DOC = {"model": "gamma", "verdict": "CONCERN", "summary": "Works, but main() has no test.",
              "findings": [{"file": "src/app.py", "line": 18, "text": "main() is not covered by a test"},
                           {"file": "README.md", "line": 3, "text": "say which greeting"},
                           {"file": None, "line": None, "text": "Consider a CHANGELOG entry."}]}


def branches(repo: Path) -> str:
    return git(repo, "branch", "--list", "--format=%(refname:short)", "moot/*").strip()


def stored(run_id: str) -> runs.ExecRun:
    """The run as recorded (read with a store of its own: the app's is closed when its test ends)."""
    from moot.core.storage import Store

    with Store() as store:
        run = runs.load(store, run_id)
    assert run is not None
    return run


def table_states(screen: Any) -> dict[str, str]:
    return {item.task_id: item.state for item in screen.query_one(TaskList).items.values()}


# ------------------------------------------------------------------------------------------- pure parts


def test_edit_blocks_are_fenced_while_streaming() -> None:
    answer = "Here it is.\n\n" + block("a.py", "x = 1\n", "x = 2\n") + "Done."
    fencer = EditFencer()
    pieces = [fencer.feed(answer[i:i + 3]) for i in range(0, len(answer), 3)]
    out = "".join(pieces) + fencer.finish()
    assert out == fenced(answer)
    assert "```\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n" in out
    assert out.startswith("Here it is.\n\na.py\n") and out.endswith("Done.")
    # a block the model fenced itself is left alone; an unfinished one is closed at the end
    own = "```python\n" + block("a.py", "", "y\n") + "```\n"
    assert fenced(own) == own
    assert fenced("<<<<<<< SEARCH\nx\n").endswith("x\n```\n")


def test_choices_give_the_selection_accept_takes() -> None:
    from moot.agents.hunks import parse_diff

    diff = (
        "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a\n+b\n@@ -9 +9 @@\n-c\n+d\n"
        "diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+n\n"
    )
    choices = Choices(parse_diff(diff))
    assert choices.selection() == {} and choices.counts() == (0, 0, 3)
    choices.set_hunk("m.py", 1, True)
    choices.set_hunk("new.py", 0, True)
    assert choices.selection() == {"m.py": {1}, "new.py": None}
    assert choices["m.py"].state == "partial" and choices["new.py"].state == "accepted"
    choices.set_hunk("m.py", 0, True)
    assert choices.selection()["m.py"] is None
    choices.set_file("m.py", False)
    assert choices["m.py"].state == "rejected" and list(choices.selection()) == ["new.py"]
    choices.set_all(True)
    assert choices.counts() == (3, 0, 3)


def test_highlighting_keeps_every_line() -> None:
    lines = ['s = """one', "", 'two"""', "\tx = 1"]
    out = highlight_lines(lines, "python")
    assert [c.plain for c in out] == ['s = """one', "", 'two"""', "    x = 1"]
    assert out[0].spans  # highlighted, not plain
    assert len(highlight_lines(["a\rb", "c"], "python")) == 2  # a stray carriage return splits nothing


# ------------------------------------------------------------------------------------------- the flow


async def test_plan_to_landed_hunk(workbench, scripted, repo: Path) -> None:
    """Choose a plan, F10, change one task's model, carry it out, watch the tests and the reviewer, then accept
    one hunk of two and land it as a commit with the run's trailer."""
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"{name} plan")
    scripted.enqueue("alpha", JUDGE)
    scripted.enqueue("alpha", json.dumps(TASKS))  # the planner splits the plan
    scripted.enqueue("alpha", edit_reply(GREET_OLD, GREET_NEW), delay=0.001)  # t1
    scripted.enqueue("beta", edit_reply(MAIN_OLD, MAIN_NEW))  # t2, after the user gives it to beta
    scripted.enqueue("gamma", REVIEW)
    seen: list[Any] = []
    app = workbench(config_text())
    async with app.run_test(size=(120, 34), message_hook=seen.append) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"make the greeting friendlier", "enter")
        await settle(pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        await pilot.press("f5")
        assert main.chosen is not None
        await pilot.press("f10")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.phase == "confirm"
        run_id = screen.run_id
        assert run_id == "20260101-000000-e001"
        tasks = screen.query_one(TaskList)
        assert [(i.task_id, i.role, i.model) for i in tasks.items.values()] == [
            ("t1", "backend", "alpha"), ("t2", "backend", "alpha")]
        assert "greet() says hello" in tasks.output.markdown_of((0, "t1"))

        await pilot.press("down", "m")
        assert isinstance(app.screen, PickScreen)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.screen is screen
        assert [i.model for i in tasks.items.values()] == ["alpha", "beta"]
        assert screen.routed[1].alias == "beta" and "override" in screen.routed[1].reason

        await pilot.press("enter")
        await settle(pilot)
        assert screen.phase == "done", screen.query_one("#run-status", Static).content
        assert table_states(screen) == {"t1": "done", "t2": "done"}
        assert tasks.items[(0, "t2")].model == "beta" and tasks.items[(0, "t1")].attempts == 1
        assert "hello, {name}!" in tasks.items[(0, "t1")].output
        events = [m.event for m in seen if isinstance(m, ExecProgress)]
        kinds = [(type(e).__name__, getattr(e, "task_id", None)) for e in events]
        assert kinds.index(("TaskStarted", "t1")) < kinds.index(("TaskDone", "t1")) \
            < kinds.index(("TaskStarted", "t2")) < kinds.index(("TaskDone", "t2")) \
            < kinds.index(("TestsStarted", None)) < kinds.index(("TestsDone", None)) \
            < kinds.index(("ReviewStarted", None)) < kinds.index(("ReviewDone", None)) < kinds.index(("RunDone", None))
        assert next(e for e in events if isinstance(e, xe.TestsDone)).passed
        log = screen.query_one("#run-tests", Log)
        assert any("greet: hello, bob!" in line for line in log.lines)
        assert "CONCERN · 1 finding" in str(screen.query_one("#run-review", Static).content)

        await pilot.press("enter")
        await settle(pilot)
        review = app.screen
        assert isinstance(review, ReviewScreen)
        assert review.files.path == "src/app.py" and review.diff.blocks == 2
        await pilot.press("y", "n")
        assert review.choices is not None and review.choices.selection() == {"src/app.py": {0}}
        await pilot.press("f5")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)

    assert (repo / "src" / "app.py").read_text() == APP_PY.replace(GREET_OLD, GREET_NEW)
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("moot: make the greeting friendlier") and f"Moot-Run: {run_id}" in message
    assert git(repo, "status", "--porcelain") == ""
    assert branches(repo) == ""
    final = stored(run_id)
    assert final.state == "accepted" and final.accepted_sha


async def test_without_a_chosen_plan_f10_says_so(workbench, repo: Path) -> None:
    app = workbench(config_text())
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert any("F10 carries it out" in n.message for n in app._notifications)


# ------------------------------------------------------------------------------------------- the review


async def open_review(pilot: Any, run_id: str) -> ReviewScreen:
    await pilot.app.push_screen(ReviewScreen(run_id))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen)
    return screen


async def test_review_shows_files_counts_views_and_findings(workbench, repo: Path) -> None:
    app = workbench(config_text())
    run = fake_run(app.store, repo, review=REVIEW_DOC)
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await open_review(pilot, run.run_id)
        files = screen.query_one(FileList)
        prompts = [str(files.get_option_at_index(i).prompt) for i in range(files.option_count)]
        assert prompts == ["· +1 −1 README.md", "· +2 −2 src/app.py", "· +1 −0 src/extra.py (new)"]
        assert "3 files +4 −3 · tests passed · 0/4 accepted" in str(screen.query_one("#review-summary", Static).content)
        panel = screen.query_one(ReviewerPanel)
        assert panel.border_title == "Reviewer · gamma"
        assert "CONCERN" in str(panel.query_one("#reviewer-verdict", Static).content)

        await pilot.press("right_square_bracket")
        assert files.path == "src/app.py"
        view = screen.query_one(HunkView)
        assert view.blocks == 2 and view.cursor == 0
        await pilot.press("down")
        assert view.cursor == 1
        await pilot.press("u")
        assert view.side_by_side and "side by side" in str(view.border_title)

        # a finding leads to its file and line
        await pilot.press("right_square_bracket")  # away from app.py first
        panel.query_one("#reviewer-findings").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert files.path == "src/app.py" and view.cursor == 1 and app.focused is view

        await pilot.press("Y")
        assert screen.choices is not None and screen.choices["src/app.py"].state == "accepted"
        await pilot.press("a")
        assert screen.choices.counts() == (4, 0, 4)
        await pilot.press("escape")
        assert not isinstance(app.screen, ReviewScreen)
    assert branches(repo) == f"moot/{run.run_id}"


async def test_a_dirty_tree_is_refused_and_nothing_changes(workbench, repo: Path) -> None:
    app = workbench(config_text())
    run = fake_run(app.store, repo, review=REVIEW_DOC)
    mine = APP_PY + "\n# my own work in progress\n"
    (repo / "src" / "app.py").write_text(mine)
    head = git(repo, "rev-parse", "HEAD")
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await open_review(pilot, run.run_id)
        await pilot.press("a", "f5", "y")
        await settle(pilot)
        assert app.screen is screen
        message = screen.query_one("#review-message", Static)
        assert message.display
        text = str(message.content)
        assert text.startswith("Nothing was changed: you have uncommitted changes in src/app.py.")
        assert "Commit or stash them" in text
        assert not screen.query_one("#review-body").loading
    assert (repo / "src" / "app.py").read_text() == mine
    assert not (repo / "src" / "extra.py").exists()
    assert (repo / "README.md").read_text() == README
    assert git(repo, "rev-parse", "HEAD") == head
    record = stored(run.run_id)
    assert record.state == "ready"
    assert branches(repo) == f"moot/{run.run_id}"


async def test_uncommitted_mode_lands_the_files_without_a_commit(workbench, repo: Path) -> None:
    app = workbench(config_text(accept="uncommitted"))
    run = fake_run(app.store, repo)
    head = git(repo, "rev-parse", "HEAD")
    async with app.run_test(size=(120, 34)) as pilot:
        await open_review(pilot, run.run_id)
        await pilot.press("Y", "f5", "y")  # README.md only
        await settle(pilot)
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "README.md").read_text() == README.replace("Says hello.", "Says hello, politely.")
    assert (repo / "src" / "app.py").read_text() == APP_PY


async def test_reject_all_removes_the_branch_and_the_worktree(workbench, repo: Path) -> None:
    app = workbench(config_text())
    run = fake_run(app.store, repo)
    worktree = wtree.worktree_path(run.run_id)
    assert worktree.is_dir()
    async with app.run_test(size=(120, 34)) as pilot:
        await open_review(pilot, run.run_id)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert branches(repo) == ""
    assert not worktree.exists()
    assert run.run_id not in git(repo, "worktree", "list")
    record = stored(run.run_id)
    assert record.state == "rejected"
    assert (repo / "src" / "app.py").read_text() == APP_PY


async def test_the_other_candidate_can_be_picked(workbench, repo: Path) -> None:
    app = workbench(config_text())
    run = fake_run(app.store, repo, candidates=2)
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await open_review(pilot, run.run_id)
        line = screen.query_one("#review-candidates", Static)
        assert line.display
        text = str(line.content)
        assert "▶ 0 alpha · tests passed" in text and "winner" in text and "1 beta · tests failed" in text
        await pilot.press("c")
        await settle(pilot)
        assert screen.cand is not None and screen.cand.candidate == 1
        assert "▶ 1 beta · tests failed" in str(line.content)
        await pilot.press("a", "f5", "y")
        await settle(pilot)
    assert 'return "hi " + name' in (repo / "src" / "app.py").read_text()
    record = stored(run.run_id)
    assert record.winner == 1 and record.state == "accepted"


# ------------------------------------------------------------------------------------------- resuming


async def test_an_interrupted_run_is_listed_and_resumed(workbench, scripted, repo: Path) -> None:
    scripted.enqueue("alpha", json.dumps(TASKS))
    scripted.enqueue("alpha", edit_reply(GREET_OLD, GREET_NEW))
    scripted.enqueue("alpha", "Working on main", hang_after=2)  # t2 stalls mid-answer
    app = workbench(config_text())
    async with app.run_test(size=(120, 34)) as pilot:
        await app.push_screen(RunScreen(plan=PLAN, task="make the greeting friendlier"))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.phase == "confirm"
        await pilot.press("enter")
        await until(pilot, lambda: table_states(screen).get("t2") == "running"
                    and "Working" in screen.query_one(TaskList).items[(0, "t2")].output)
        await pilot.press("escape")
        await settle(pilot)
        assert screen.phase == "interrupted"
        assert table_states(screen) == {"t1": "done", "t2": "interrupted"}
        run_id = screen.run_id
        assert run_id is not None
        record = runs.load(app.store, run_id)
        assert record is not None and record.state == "interrupted" and record.resumable

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("f3")
        await settle(pilot)
        history = app.screen
        assert isinstance(history, HistoryScreen)
        table = history.query_one("#history-table", DataTable)
        row = [str(c) for c in table.get_row_at(0)]
        assert row[1] == "interrupted" and row[5] == "make the greeting friendlier"
        await pilot.press("r")
        await settle(pilot)
        resumed = app.screen
        assert isinstance(resumed, RunScreen) and resumed.phase == "interrupted"
        assert table_states(resumed) == {"t1": "done", "t2": "interrupted"}
        items = resumed.query_one(TaskList).items
        assert (items[(0, "t1")].attempts, items[(0, "t2")].attempts) == (1, 1)  # the Tries column, reopened

        scripted.enqueue("alpha", edit_reply(MAIN_OLD, MAIN_NEW))
        await pilot.press("enter")
        await settle(pilot)
        assert resumed.phase == "done" and table_states(resumed) == {"t1": "done", "t2": "done"}
        assert "already done by the interrupted run" in resumed.query_one(TaskList).output.markdown_of((0, "t1"))
    record = stored(run_id)
    assert record.state == "ready"


async def test_history_rejects_an_interrupted_run(workbench, repo: Path) -> None:
    app = workbench(config_text())
    run = fake_run(app.store, repo, state="interrupted")
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        row = [str(c) for c in app.screen.query_one("#history-table", DataTable).get_row_at(0)]
        assert row[1] == "rejected"
    assert branches(repo) == ""
    record = stored(run.run_id)
    assert record.state == "rejected"


async def test_the_review_marks_a_file_no_task_listed(workbench, repo: Path) -> None:
    """The task listed src/app.py; the run also changed README.md and added src/extra.py: allowed, and marked."""
    app = workbench(config_text())
    run = fake_run(app.store, repo, task_files=["src/app.py"])
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await open_review(pilot, run.run_id)
        files = screen.query_one(FileList)
        prompts = [str(files.get_option_at_index(i).prompt) for i in range(files.option_count)]
        assert prompts[1] == "· +2 −2 src/app.py"
        for i in (0, 2):
            assert "⚠" in prompts[i] and "changed outside the files its tasks listed" in prompts[i]


async def test_two_candidates_carry_out_the_plan_and_the_review_offers_both(workbench, scripted, repo: Path) -> None:
    scripted.enqueue("alpha", json.dumps(TASKS))
    for name in ("alpha", "gamma"):  # the candidates: the routed model first, then the next [roles] model
        scripted.enqueue(name, edit_reply(GREET_OLD, GREET_NEW))
        scripted.enqueue(name, edit_reply(MAIN_OLD, MAIN_NEW))
    scripted.default["gamma"] = REVIEW  # the reviewer, once per candidate
    app = workbench(config_text())
    async with app.run_test(size=(120, 34)) as pilot:
        await app.push_screen(RunScreen(plan=PLAN, task="make the greeting friendlier"))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await pilot.press("r")
        assert isinstance(app.screen, PickScreen)
        await pilot.press("down", "enter")  # backend -> tests
        await pilot.pause()
        assert screen.routed[0].role == "tests" and "chosen by override" in screen.routed[0].reason
        await pilot.press("c")
        assert screen.session.candidates == 2 and screen.models == ["alpha", "gamma"]
        assert "2 candidates (alpha, gamma" in str(screen.query_one("#run-status", Static).content)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.phase == "done"
        tasks = screen.query_one(TaskList)
        assert sorted(tasks.items) == [(0, "t1"), (0, "t2"), (1, "t1"), (1, "t2")]
        assert {i.model for i in tasks.items.values() if i.candidate == 1} == {"gamma"}
        assert tasks.table.several and str(tasks.table.get_row_at(2)[1]) == "1·t1"
        await pilot.press("enter")
        await settle(pilot)
        review = app.screen
        assert isinstance(review, ReviewScreen)
        assert "0 alpha · tests passed" in str(review.query_one("#review-candidates", Static).content)
        assert "1 gamma · tests passed" in str(review.query_one("#review-candidates", Static).content)


async def test_escape_before_the_run_starts_cancels_it(workbench, scripted, repo: Path) -> None:
    scripted.enqueue("alpha", json.dumps(TASKS))
    app = workbench(config_text())
    async with app.run_test(size=(120, 34)) as pilot:
        await app.push_screen(RunScreen(plan=PLAN, task="make the greeting friendlier"))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.phase == "confirm"
        run_id = screen.run_id
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert run_id is not None and stored(run_id).state == "cancelled"
    assert branches(repo) == ""


BLOCK_DOC = {"model": "gamma", "verdict": "BLOCK", "summary": "It drops the old greeting.",
             "findings": [{"file": "src/app.py", "line": 18, "text": "the old greeting is lost"}]}


async def test_a_block_verdict_asks_before_f5_lands_anything(workbench, repo: Path) -> None:
    app = workbench(config_text())
    run = fake_run(app.store, repo, review=BLOCK_DOC)
    head = git(repo, "rev-parse", "HEAD")
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await open_review(pilot, run.run_id)
        await pilot.press("a", "f5")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.title_text == "The reviewer (gamma) says BLOCK"
        assert "src/app.py:18: the old greeting is lost" in dialog.text and dialog.yes == "Accept anyway"
        await pilot.press("n")  # no: nothing lands
        await settle(pilot)
        assert app.screen is screen and git(repo, "rev-parse", "HEAD") == head
        await pilot.press("f5", "y")  # accept anyway
        await settle(pilot)
        await until(pilot, lambda: git(repo, "rev-parse", "HEAD") != head)
        stored = runs.load(app.store, run.run_id)
        assert stored is not None and stored.state == "accepted"
        assert stored.chosen is not None and stored.chosen.review is not None
        assert stored.chosen.review["overridden"]["verdict"] == "BLOCK"


def test_snapshot_of_the_block_dialog(workbench, repo: Path, snap_compare) -> None:
    """At 80x24: the dialog "The reviewer (gamma) says BLOCK" over the review, with the summary "It drops the old
    greeting.", the finding "- src/app.py:18: the old greeting is lost", what would land, the line "Accepting
    anyway is stored with the run." and the buttons Accept anyway (red) and Cancel."""
    app = workbench(config_text())
    run = fake_run(app.store, repo, review=BLOCK_DOC)

    async def run_before(pilot: Any) -> None:
        await open_review(pilot, run.run_id)
        await pilot.press("a", "f5")
        await settle(pilot)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
