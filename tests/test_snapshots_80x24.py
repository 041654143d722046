"""Every screen at 80x24, the smallest terminal moot promises to work in: nothing that matters is cut off, every
button is in reach, and the review's diff keeps most of the width.

Each screen is reached as in its own snapshot file (at 120x34); run with ``--snapshot-update`` after an intended
change, then look at the SVGs before committing them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from test_snapshots_history import seed, settle, utc  # noqa: F401  (utc: a fixture)
from test_snapshots_main import PLAN_A, PLAN_B, PLAN_C, _type_task
from test_snapshots_perf import CONFIG as PERF_CONFIG
from test_snapshots_perf import fill_store, fixed_hosts  # noqa: F401  (a fixture)
from test_snapshots_run import TASKS, config, fixed_git_dates, open_review, repo, review_app, split  # noqa: F401
from test_snapshots_screens import ALPHA, BETA, GAMMA
from test_snapshots_screens import JUDGE as SCREENS_JUDGE
from test_snapshots_trust import HOSTILE
from test_tui_context import make_project

from gitrepo import hermetic_git  # noqa: F401  (an autouse fixture)
from moot.core.discovery import ModelStatus
from moot.core.perf.store import PerfStore
from moot.core.providers.base import Availability
from moot.tui.screens.context import ContextChoice
from moot.tui.screens.edit_plan import EditPlanScreen
from moot.tui.screens.run_view import RunViewScreen
from moot.tui.widgets.perf import PerfPanel

SIZE = (80, 24)
JUDGE = "## Plan\n1. Add the flag.\n\n## Consensus\n- a flag\n"


def test_main_idle(workbench, snap_compare) -> None:
    """The empty workbench: the header on one line (project, models usable, strategy), the prompt, the hint
    where proposals will appear, the synthesis pane waiting, and a footer whose keys fit the width."""
    assert snap_compare(workbench(), terminal_size=SIZE)


def test_main_done_as_tabs(workbench, scripted, snap_compare) -> None:
    """A finished run at 80 columns: the proposals are tabs (1 alpha·default, 2 beta·default, 3 gamma·default),
    one plan shown in full width with its lettered title, the synthesis below with the task in its border."""
    scripted.enqueue("alpha", PLAN_A)
    scripted.enqueue("beta", PLAN_B)
    scripted.enqueue("gamma", PLAN_C)
    scripted.enqueue("alpha", JUDGE)

    async def run_before(pilot) -> None:
        await _type_task(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)

    assert snap_compare(workbench(), terminal_size=SIZE, run_before=run_before)


def test_strategy_modal(workbench, scripted, snap_compare) -> None:
    """F2 at 80 columns: the dialog takes the whole width; the strategy row, one caption line ("Models and
    variants: none ticked means the strategy's own.") whole, the Models and Variants lists side by side with
    their names in their top borders, the judge and peer-rank row, and the Save and Cancel buttons in view at the
    bottom right."""
    app = workbench()
    app.statuses = [ModelStatus(s.model, Availability(s.model.name != "gamma", "unavailable (set GAMMA_KEY)"))
                    for s in app.statuses]
    app.save_plan_prefs({"strategy": "consensus", "models": ["beta", "gamma"], "variants": ["architect"],
                         "judge": "beta", "rank": True})

    async def run_before(pilot) -> None:
        await pilot.press("f2")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_compare_view(workbench, scripted, snap_compare) -> None:
    """F4 after a run: the two selects at the top, the counts line wrapped whole ("… (side by side; u" then
    "switches)"), and the two plans side by side, each half about 38 columns, the differing words marked."""
    scripted.enqueue("alpha", ALPHA)
    scripted.enqueue("beta", BETA)
    scripted.enqueue("gamma", GAMMA)
    scripted.enqueue("alpha", SCREENS_JUDGE)

    async def run_before(pilot) -> None:
        await pilot.click("#prompt")
        await pilot.press(*"add a --verbose flag", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("f4")
        await pilot.pause()

    assert snap_compare(workbench(), terminal_size=SIZE, run_before=run_before)


def test_edit_plan_modal(workbench, snap_compare) -> None:
    """The plan editor at 80 columns: titled "Edit the plan", line-numbered, the text wrapped to the width."""

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(EditPlanScreen(BETA))
        await pilot.pause()

    assert snap_compare(workbench(), terminal_size=SIZE, run_before=run_before)


def test_context_inspector(workbench, snap_compare) -> None:
    """F11 with a task typed: the task and total on top, the table of items with kind, tokens and bars (the bars
    shortened to fit), pinned src/cli.py first and dropped src/billing/tax.py last."""
    app = workbench('[[models]]\nname = "alpha"\nmodel = "scripted/alpha"\n[ensemble]\ncontext_budget = 1000\n')
    make_project(Path.cwd())

    async def run_before(pilot) -> None:
        ContextChoice(pinned=["src/cli.py"], dropped=["src/billing/tax.py"]).save(pilot.app)
        await pilot.click("#prompt")
        await pilot.press(*"change total_amount in invoice.py to round", "f11")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_history_list(workbench, utc, snap_compare) -> None:  # noqa: F811
    """F3: the search box and the table of two runs, each row's task cut to fit with the date, status, strategy,
    proposals and cost still in view."""
    app = workbench()
    seed(app)

    async def run_before(pilot) -> None:
        await pilot.press("f3")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_run_view(workbench, utc, snap_compare) -> None:  # noqa: F811
    """A past run at 80 columns: its task and figures on top (the figures wrap when long), the proposals as tabs (1 alpha·default, 2
    beta·terse, 3 gamma·default) with the first, "Plan A · alpha · default", shown in the full width, the
    synthesis below."""
    app = workbench()
    seed(app)

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(RunViewScreen("run-0001"))
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help(workbench, snap_compare) -> None:
    """F1 over the main screen: the keys dialog fits the width in three columns (Keys, Description, and
    "Tooltip · binding id": each tooltip wrapped whole with its binding id, e.g. run.strategy, on its last line),
    and the hint at the bottom, wrapped, says Esc, F1 or ? closes it and that [keys] remaps keys by binding id."""

    async def run_before(pilot) -> None:
        await pilot.press("f1")
        for _ in range(3):
            await settle(pilot)

    assert snap_compare(workbench(), terminal_size=SIZE, run_before=run_before)


def test_perf_panel(workbench, fixed_hosts, snap_compare) -> None:  # noqa: F811
    """The perf panel at 80 columns: docked right at its fixed width, the proposals' hint narrower beside it, the
    first local model's rates and sparklines readable."""
    app = workbench(PERF_CONFIG)
    app.store.set_pref("user", "perf_panel", True)
    fill_store(PerfStore(app.store))

    async def run_before(pilot) -> None:
        panel = pilot.app.screen.query_one(PerfPanel)
        for _ in range(250):
            if panel.snapshot is not None:
                break
            await asyncio.sleep(0.02)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_task_list(snap_compare, workbench, scripted, repo: Path, fixed_git_dates) -> None:  # noqa: F811
    """The run screen after the split: the status line, the three tasks with role, model and state in view, the
    Output box with t1's title and description, and the footer's keys."""
    scripted.enqueue("alpha", json.dumps(TASKS))

    async def run_before(pilot: Any) -> None:
        await split(pilot)

    assert snap_compare(workbench(config(scripted)), terminal_size=SIZE, run_before=run_before)


def test_review_unified(snap_compare, workbench, repo: Path, fixed_git_dates) -> None:  # noqa: F811
    """The diff review at 80 columns: the summary line wrapped whole (… F5 commits them to main), the file list
    (one line per file: README.md, src/app.py half decided, src/extra.py (new)) and the reviewer's panel
    (CONCERN, its summary, then the findings from src/app.py:18, scrollable) share a strip on top, and the diff below takes the whole width:
    src/app.py's lines unfolded, its first hunk accepted, the second undecided."""

    async def run_before(pilot: Any) -> None:
        await open_review(pilot)
        await pilot.press("right_square_bracket", "y")
        await pilot.pause()

    assert snap_compare(review_app(workbench, repo), terminal_size=SIZE, run_before=run_before)


def test_review_side_by_side(snap_compare, workbench, repo: Path, fixed_git_dates) -> None:  # noqa: F811
    """The same review side by side (u): the files and reviewer strip on top, README.md's hunk below in the whole
    width, each half about 37 columns ("Says hello." | "Says hello, politely.")."""

    async def run_before(pilot: Any) -> None:
        await open_review(pilot)
        await pilot.press("u")
        await pilot.pause()

    assert snap_compare(review_app(workbench, repo), terminal_size=SIZE, run_before=run_before)


def test_trust_modal(snap_compare, workbench, tmp_path: Path) -> None:
    """The question whether to trust a repository's config, at 80 columns: each ignored key and its value on its
    lines (escapes written out), the note, and the Trust and Leave out buttons in view."""
    (tmp_path / "project" / ".moot").mkdir(parents=True)
    (tmp_path / "project" / ".moot" / "config.toml").write_text(HOSTILE)

    async def run_before(pilot) -> None:
        await pilot.pause()

    assert snap_compare(workbench(), terminal_size=SIZE, run_before=run_before)


def test_prompts_view(workbench, scripted, snap_compare) -> None:
    """`i` on a proposal: the exact messages beta was sent, under "system" and "user", in a dialog that fits."""
    for name, text in (("alpha", PLAN_A), ("beta", PLAN_B), ("gamma", PLAN_C)):
        scripted.enqueue(name, text)
    scripted.enqueue("alpha", JUDGE)

    async def run_before(pilot) -> None:
        await _type_task(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)
        from moot.tui.widgets.proposals import ProposalsArea

        pilot.app.screen.query_one(ProposalsArea).panes[1].focus()
        await pilot.press("i")
        await pilot.pause()

    assert snap_compare(workbench(), terminal_size=SIZE, run_before=run_before)


def test_model_picker(snap_compare, workbench, scripted, repo: Path, fixed_git_dates) -> None:  # noqa: F811
    """`m` on t1 in the task list: the model picker over the run screen, its title naming t1 and every model
    (alpha, beta, gamma) in a dialog narrower than the screen, nothing cut."""
    scripted.enqueue("alpha", json.dumps(TASKS))

    async def run_before(pilot: Any) -> None:
        await split(pilot)
        await pilot.press("m")
        await pilot.pause()

    assert snap_compare(workbench(config(scripted)), terminal_size=SIZE, run_before=run_before)


def test_reject_confirm(snap_compare, workbench, repo: Path, fixed_git_dates) -> None:  # noqa: F811
    """`x` in the diff review: the question whether to reject the whole run, its text wrapped whole in the
    dialog, and both buttons in view at the bottom right."""

    async def run_before(pilot: Any) -> None:
        await open_review(pilot)
        await pilot.press("x")
        await pilot.pause()

    assert snap_compare(review_app(workbench, repo), terminal_size=SIZE, run_before=run_before)


async def test_review_diff_takes_the_width(workbench, repo: Path, fixed_git_dates) -> None:  # noqa: F811
    """Not a snapshot: at 80 columns the diff pane is at least 76 columns wide, unified and side by side, and
    back at 120 columns the file list, diff and reviewer's panel stand side by side again."""
    from moot.tui.widgets.review import HunkView

    app = review_app(workbench, repo)
    async with app.run_test(size=SIZE) as pilot:
        await open_review(pilot)
        diff = pilot.app.screen.query_one(HunkView)
        assert diff.outer_size.width >= 76
        await pilot.press("u")
        await pilot.pause()
        assert diff.outer_size.width >= 76
        await pilot.resize_terminal(120, 34)
        await pilot.pause()
        files, reviewer = pilot.app.screen.query_one("#review-files"), pilot.app.screen.query_one("#review-reviewer")
        assert files.region.right <= diff.region.x and diff.region.right <= reviewer.region.x


async def test_strategy_buttons_in_reach(workbench) -> None:
    """Not a snapshot: at 80x24 the strategy dialog's Save and Cancel buttons lie wholly on the screen."""
    from textual.widgets import Button

    async with workbench().run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        screen = pilot.app.screen.region
        for button in pilot.app.screen.query(Button):
            assert screen.contains_region(button.region), button.id
