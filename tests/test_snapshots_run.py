"""Snapshots of carrying out a plan, at 120×34 on the scripted models in a temporary git repository: the task
list before and during a run, and the diff review unified and side by side.

Run with ``--snapshot-update`` after an intended change, then look at the SVGs before committing them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_tui_run import PLAN, REVIEW_DOC, config_text, edit_reply, fake_run, make_project, until

from gitrepo import hermetic_git  # noqa: F401  (an autouse fixture)
from moot.tui.screens.review import ReviewScreen
from moot.tui.screens.run import RunScreen
from moot.tui.widgets.tasks import TaskList

SIZE = (120, 34)
TASK = "make the greeting friendlier"
TASKS = {"tasks": [
    {"id": "t1", "title": "Greet with a comma", "role": "backend", "files": ["src/app.py"],
     "description": "`greet()` returns `hello, NAME!` instead of `hello NAME`."},
    {"id": "t2", "title": "Test the greeting", "role": "tests", "files": ["tests/test_app.py"],
     "depends_on": ["t1"], "description": "A pytest test for `greet()`."},
    {"id": "t3", "title": "Document the greeting in the README", "role": "docs", "files": ["README.md"],
     "description": "One sentence in the README."},
]}
STREAMING = ("I will add a test for the new greeting.\n\ntests/test_app.py\n<<<<<<< SEARCH\n=======\n"
             "import app\n\n\ndef test_greet():\n    assert app.greet('bob') == 'hello, bob!'\n>>>>>>> REPLACE\n")
STALL_AFTER = 16
"""Words of the streaming answer sent before it stalls (a fixed mid-stream state)."""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The workbench's project directory as a git repository (see ``test_tui_run``)."""
    return make_project(tmp_path, monkeypatch)


@pytest.fixture
def fixed_git_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits made during a test get the same dates, hence the same ids, every time."""
    for var in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(var, "2026-01-01T12:00:00+00:00")


def config(scripted: Any) -> str:
    """The scripted config with tests carried out by beta (so the task list shows two models)."""
    return config_text().replace('backend = "alpha"\n', 'backend = "alpha"\ntests = "beta"\n')


async def split(pilot: Any) -> RunScreen:
    await pilot.app.push_screen(RunScreen(plan=PLAN, task=TASK))
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()  # the task list laid out with its rows, the first task's output shown
    screen = pilot.app.screen
    assert isinstance(screen, RunScreen) and screen.phase == "confirm"
    return screen


def test_task_list_before_execution(snap_compare, workbench, scripted, repo: Path, fixed_git_dates) -> None:
    """The run screen after the planner split the plan, before anything is carried out. Header "Run
    20260101-000000-e001 · make the greeting friendlier"; the status line says 3 tasks, 1 candidate, and how
    to change a role (r), a model (m), the candidates (c) and that Enter carries them out. The table lists t1
    "Greet with a comma" (backend, alpha), t2 "Test the greeting" (tests, beta), t3 "Document the greeting in
    the README" (docs, alpha), each "· queued" in muted grey with an empty Tries column; the cursor is on t1.
    Below, the Output box titled "t1 · alpha · queued" shows t1's bold title, its description, its file
    `src/app.py` and, in italics, why it was routed so. The footer lists Carry out, Role, Model, Candidates
    and Cancel."""
    scripted.enqueue("alpha", json.dumps(TASKS))

    async def run_before(pilot: Any) -> None:
        await split(pilot)

    assert snap_compare(workbench(config(scripted)), terminal_size=SIZE, run_before=run_before)


def test_task_list_mid_run(snap_compare, workbench, scripted, repo: Path, fixed_git_dates) -> None:
    """The same run while it is carried out, stopped at a fixed point: t1 "✓ done" in green with 1 try; t2
    "▶ running" in blue with 2 tries (beta's first answer had no edits and was sent back); t3 "· queued".
    The status line reads "Carrying out the tasks on moot/20260101-000000-e001: 1/3 done · t2 · beta · 16 tok ·
    0 s · Esc interrupts" (the task under way, its tokens so far and its seconds on a frozen clock).
    The Output box, titled "t2 · beta · running", shows beta's first answer, a quoted "↻ retry 1: the answer
    contained no SEARCH/REPLACE edits", then the second answer streaming: a sentence, the path
    tests/test_app.py and the start of a SEARCH/REPLACE block inside a code block (no heading made of
    "======="). The footer lists only Interrupt."""
    scripted.enqueue("alpha", json.dumps(TASKS))
    scripted.enqueue("alpha", edit_reply('    return "hello " + name\n', '    return f"hello, {name}!"\n'))
    scripted.enqueue("beta", "I think the tests are fine as they are.")
    scripted.enqueue("beta", STREAMING, hang_after=STALL_AFTER)
    shown = " ".join(STREAMING.split(" ")[:STALL_AFTER]).rstrip()

    async def run_before(pilot: Any) -> None:
        screen = await split(pilot)
        await pilot.press("enter")
        tasks = screen.query_one(TaskList)
        await until(pilot, lambda: tasks.items.get((0, "t2")) is not None
                    and tasks.items[(0, "t2")].output.rstrip().endswith(shown))
        await pilot.pause(0.2)

    assert snap_compare(workbench(config(scripted)), terminal_size=SIZE, run_before=run_before)


def review_app(workbench: Any, repo: Path) -> Any:
    app = workbench(config_text())
    fake_run(app.store, repo, review=REVIEW_DOC)
    return app


async def open_review(pilot: Any) -> None:
    await pilot.app.push_screen(ReviewScreen("20260101-000000-f001"))
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_review_unified(snap_compare, workbench, repo: Path, fixed_git_dates) -> None:
    """The diff review of a finished run, src/app.py shown unified after its first hunk was accepted (y).
    Header "Review · run 20260101-000000-f001 · make the greeting friendlier"; the summary names the branch,
    3 files +4 −3, tests passed, "1/4 accepted, 0 rejected" and "F5 commits them to main". Left, the Files
    list, one line each: "· +1 −1 README.md", "◐ +2 −2 src/app.py" (half-decided, in yellow, highlighted),
    "· +1 −0 src/extra.py (new)". Middle, the diff titled "src/app.py · unified" (subtitle "u: side by
    side"): the first hunk's header
    ends "✓ accepted" in green; old and new line numbers in grey; the removed `return "hello " + name` on
    the removed colour (red) and the added f-string on the added colour (green), both syntax-highlighted;
    the second hunk's header (the cursor hunk, bold on a lighter band, a yellow bar to its left) ends
    "· undecided". Right, the Reviewer · gamma panel: a yellow CONCERN badge, the summary, and three findings
    (src/app.py:18, README.md:3, and one without a file). The compact footer lists Accept, Reject, Accept
    file, Reject file, Accept all, Reject all, Apply and Back, then Quit and Help, none cut off."""

    async def run_before(pilot: Any) -> None:
        await open_review(pilot)
        await pilot.press("right_square_bracket", "y")
        await pilot.pause()

    assert snap_compare(review_app(workbench, repo), terminal_size=SIZE, run_before=run_before)


def test_review_side_by_side_with_findings(snap_compare, workbench, repo: Path, fixed_git_dates) -> None:
    """The same review side by side, after the first finding (src/app.py:18) was followed from the reviewer
    panel and the first hunk rejected (n): the diff is titled "src/app.py · side by side"; each row shows the
    old line number and code on the left and the new ones on the right of a grey "│"; the greeting line red
    on the left facing green on the right; the first hunk's header ends "✗ rejected" in red; the cursor bar
    is on the second hunk, whose `print(greet(...))` line is long enough to fold onto a second row on the
    right without being cut. The file list shows "◐" for src/app.py (one rejected, one undecided). The
    reviewer panel is unchanged beside the diff."""

    async def run_before(pilot: Any) -> None:
        await open_review(pilot)
        await pilot.press("u")
        pilot.app.screen.query_one("#reviewer-findings").focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("up", "n")
        await pilot.pause()

    assert snap_compare(review_app(workbench, repo), terminal_size=SIZE, run_before=run_before)
