"""The compare, edit-plan and strategy screens: the diff as a plain function, then each screen with Pilot."""

from __future__ import annotations

from textual.widgets import Select, SelectionList, Static, Switch

from moot.core.discovery import ModelStatus
from moot.core.providers.base import Availability
from moot.tui.screens.compare import (
    CompareScreen,
    DiffView,
    Row,
    proposal_name,
    side_by_side,
    unified,
    word_spans,
)
from moot.tui.screens.edit_plan import EditPlanScreen
from moot.tui.screens.main import MainScreen
from moot.tui.screens.strategy import StrategyScreen
from moot.tui.widgets.proposals import ProposalPane

ALPHA = "1. Add a flag.\n2. Parse it in main.\n3. Log more."
BETA = "1. Add a flag.\n2. Parse it in cli.\n3. Log more.\n4. Write a test."
GAMMA = "Rewrite everything."
JUDGE = "## Plan\n1. Change `cli.py`.\n\n## Consensus\n- add a flag\n"


# ------------------------------------------------------------------------------------------- the diff


def test_side_by_side_aligns_equal_changed_and_added_lines() -> None:
    rows = side_by_side(ALPHA, BETA)
    assert [r.kind for r in rows] == ["equal", "changed", "equal", "added"]
    assert rows[0] == Row("equal", "1. Add a flag.", "1. Add a flag.", 1, 1)
    changed = rows[1]
    assert (changed.left, changed.right) == ("2. Parse it in main.", "2. Parse it in cli.")
    assert [changed.left[s:e] for s, e in changed.left_spans] == ["main"]
    assert [changed.right[s:e] for s, e in changed.right_spans] == ["cli"]
    assert rows[3] == Row("added", None, "4. Write a test.", None, 4)


def test_side_by_side_pads_the_shorter_side_of_a_replaced_block() -> None:
    rows = side_by_side("a\nx\ny\nz\nb", "a\nq\nb")
    assert [(r.kind, r.left, r.right) for r in rows] == [
        ("equal", "a", "a"), ("changed", "x", "q"), ("removed", "y", None), ("removed", "z", None),
        ("equal", "b", "b"),
    ]
    assert [(r.left_no, r.right_no) for r in rows] == [(1, 1), (2, 2), (3, None), (4, None), (5, 3)]


def test_the_most_alike_lines_of_a_replaced_block_face_each_other() -> None:
    rows = side_by_side("1. Parse it.\n2. Document the flag.", "1. Parse it!\n2. Add a test.\n3. Document the flag.")
    assert [(r.kind, r.left_no, r.right_no) for r in rows] == [("changed", 1, 1), ("added", None, 2),
                                                              ("changed", 2, 3)]
    assert [rows[2].right[s:e] for s, e in rows[2].right_spans] == ["3"]


def test_side_by_side_of_identical_and_empty_texts() -> None:
    assert all(r.kind == "equal" for r in side_by_side(ALPHA, ALPHA))
    assert side_by_side("", "") == []
    assert [r.kind for r in side_by_side("", "one")] == ["added"]


def test_words_are_not_marked_when_lines_hardly_match() -> None:
    assert word_spans("completely different words", "nothing alike here at all") == ((), ())


def test_unified_diff_kinds() -> None:
    kinds = [k for k, _ in unified(ALPHA, BETA, "A", "B")]
    assert kinds[:3] == ["header", "header", "hunk"]
    assert kinds.count("removed") == 1 and kinds.count("added") == 2
    assert unified(ALPHA, ALPHA) == []
    assert unified("a\n--- rule", "a")[-1] == ("removed", "---- rule")


# ------------------------------------------------------------------------------------------- helpers


async def run_task(pilot, task: str = "add a --verbose flag") -> None:
    await pilot.click("#prompt")
    await pilot.press(*task, "enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def enqueue_run(scripted) -> None:
    scripted.enqueue("alpha", ALPHA)
    scripted.enqueue("beta", BETA)
    scripted.enqueue("gamma", GAMMA)
    scripted.enqueue("alpha", JUDGE)


# ------------------------------------------------------------------------------------------- compare


async def test_f4_compares_two_proposals_and_a_select_changes_the_pair(workbench, scripted) -> None:
    enqueue_run(scripted)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await run_task(pilot)
        await pilot.press("f4")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert [p.index for p in screen.pair] == [0, 1]
        diff = screen.query_one(DiffView)
        assert [r.kind for r in diff.rows] == ["equal", "changed", "equal", "added"]
        assert "1 changed · 0 removed · 1 added" in str(screen.query_one("#compare-summary", Static).content)
        screen.query_one("#compare-right", Select).value = 2
        await pilot.pause()
        assert [p.index for p in screen.pair] == [0, 2]
        assert {r.kind for r in diff.rows} == {"changed", "removed"}
        await pilot.press("u")
        assert diff.unified and diff.lines[0] == ("header", f"--- {proposal_name(screen.pair[0])}")
        assert screen.pair[0].label and "alpha" in diff.lines[0][1]
        await pilot.press("s")
        assert [p.index for p in screen.pair] == [2, 0]
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_c_on_a_pane_compares_that_proposal_first(workbench, scripted) -> None:
    enqueue_run(scripted)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await run_task(pilot)
        app.screen.query_one("#proposal-0", ProposalPane).focus()
        await pilot.press("c")
        assert isinstance(app.screen, CompareScreen)
        assert [p.index for p in app.screen.pair] == [0, 1]
        await pilot.press("escape")
        app.screen.query_one("#proposal-2", ProposalPane).focus()
        await pilot.press("c")
        assert [p.index for p in app.screen.pair] == [2, 0]  # the next one wraps round


def test_compare_skips_proposals_without_text(workbench) -> None:
    from moot.core.ensemble.result import Proposal
    from moot.core.ensemble.strategies import Proposer

    app = workbench()
    model = app.loaded.config.models[0]
    empty = Proposal(0, Proposer(model))
    screen = CompareScreen([empty, Proposal(1, Proposer(model)), Proposal(2, Proposer(model))], first=0)
    assert screen.proposals == {} and screen.initial == (0, 0)


# ------------------------------------------------------------------------------------------- edit plan


async def choose_beta_and_edit(pilot) -> MainScreen:
    await run_task(pilot)
    screen = pilot.app.screen
    screen.query_one("#proposal-1", ProposalPane).focus()
    await pilot.press("p")
    await pilot.press("f6")
    assert isinstance(pilot.app.screen, EditPlanScreen)
    await pilot.press(*"Now ")
    return screen


async def test_ctrl_s_keeps_the_edited_plan(workbench, scripted) -> None:
    enqueue_run(scripted)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        main = await choose_beta_and_edit(pilot)
        await pilot.press("ctrl+s")
        assert app.screen is main
        assert main.chosen is not None and main.chosen[1] == "Now " + BETA
        assert main.chosen[0].endswith("(edited)")


async def test_escape_after_an_edit_warns_before_discarding(workbench, scripted) -> None:
    enqueue_run(scripted)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        main = await choose_beta_and_edit(pilot)
        editor = app.screen
        await pilot.press("escape")
        assert app.screen is editor and editor.armed
        assert editor.query_one("#edit-warning").display
        await pilot.press("x")  # a further edit: Esc must warn again
        assert not editor.armed
        await pilot.press("escape")
        assert app.screen is editor
        await pilot.press("escape")
        assert app.screen is main and main.chosen is not None and main.chosen[1] == BETA


async def test_escape_without_an_edit_leaves_at_once(workbench, scripted) -> None:
    enqueue_run(scripted)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await run_task(pilot)
        main = app.screen
        await pilot.press("f5", "f6")
        assert isinstance(app.screen, EditPlanScreen)
        await pilot.press("escape")
        assert app.screen is main and main.chosen is not None and not main.chosen[0].endswith("(edited)")


# ------------------------------------------------------------------------------------------- strategy


async def test_strategy_is_saved_used_and_remembered(workbench, scripted) -> None:
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f2")
        modal = app.screen
        assert isinstance(modal, StrategyScreen)
        modal.query_one("#strategy-name", Select).value = "self-moa"
        modal.query_one("#strategy-judge", Select).value = "beta"
        await pilot.pause()
        await pilot.click("#strategy-save")
        assert isinstance(app.screen, MainScreen)
        assert app.plan_prefs() == {"workflow": None, "strategy": "self-moa", "models": None, "variants": None, "judge": "beta",
                                    "rank": False}
        assert "strategy: self-moa" in str(app.screen.query_one("#header", Static).content)
        await run_task(pilot)
        assert [name for name, _, _ in scripted.calls] == ["alpha"] * 4 + ["beta"]

    again = workbench()
    async with again.run_test(size=(120, 34)) as pilot:
        await pilot.press("f2")
        modal = again.screen
        assert modal.query_one("#strategy-name", Select).value == "self-moa"
        assert modal.query_one("#strategy-judge", Select).value == "beta"
        await pilot.press("escape")
        assert isinstance(again.screen, MainScreen)


async def test_models_variants_and_rank_are_prefilled_and_saved(workbench, scripted) -> None:
    app = workbench()
    app.save_plan_prefs({"strategy": None, "models": ["beta", "gamma"], "variants": ["architect"],
                         "judge": None, "rank": True})
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f2")
        modal = app.screen
        assert modal.query_one("#strategy-models", SelectionList).selected == ["beta", "gamma"]
        assert modal.query_one("#strategy-variants", SelectionList).selected == ["architect"]
        assert modal.query_one("#strategy-rank", Switch).value is True
        modal.query_one("#strategy-models", SelectionList).deselect("gamma")
        await pilot.press("ctrl+s")
        assert app.plan_prefs()["models"] == ["beta"] and app.plan_prefs()["rank"] is True


async def test_an_impossible_choice_is_explained_in_the_modal(workbench, scripted) -> None:
    app = workbench()
    app.statuses = [ModelStatus(s.model, Availability(False, "unavailable (no key)")) for s in app.statuses]
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f2")
        modal = app.screen
        modal.query_one("#strategy-name", Select).value = "self-moa"
        await pilot.pause()
        await pilot.press("ctrl+s")
        assert app.screen is modal
        error = modal.query_one("#strategy-error", Static)
        assert error.display and "no usable model" in str(error.content)
        assert app.plan_prefs() == {}
        modal.query_one("#strategy-models", SelectionList).select("beta")  # named members are used as given
        await pilot.pause()
        assert not error.display
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, MainScreen) and app.plan_prefs()["models"] == ["beta"]
