"""Snapshots of the compare view and the strategy dialog, at 120×34 on the scripted models.

Run with ``--snapshot-update`` after an intended change, then look at the SVGs before committing them.
"""

from __future__ import annotations

from moot.core.discovery import ModelStatus
from moot.core.providers.base import Availability

ALPHA = ("# Plan\n1. Add a `--verbose` flag to `cli.py`.\n2. Parse it in `main()`.\n"
         "3. Log each step at INFO.\n4. Document the flag.")
BETA = ("# Plan\n1. Add a `--verbose` flag to `cli.py`.\n2. Parse it in `run()`.\n"
        "3. Log each step at DEBUG.\n4. Add a test for the flag.\n5. Document the flag.")
GAMMA = "Use an environment variable instead."
JUDGE = "## Plan\n1. Add the flag.\n\n## Consensus\n- a flag\n"


def test_compare_view(snap_compare, workbench, scripted) -> None:
    """After a run, F4: two selects at the top name alpha's plan (left) and beta's (right), each as
    "letter · model · variant"; a summary line counts 3 changed, 0 removed, 1 added, 2 unchanged lines.
    Below, line-numbered side by side: lines 1 and 2 plain on both sides; left lines 3 and 4 on the removed
    colour (red) facing beta's 3 and 4 on the added colour (green), the differing words (main/run,
    INFO/DEBUG) in bold reverse; beta's line 5 "4. Add a test for the flag." green, facing an empty cell;
    then alpha's "4. Document the flag." facing beta's "5. Document the flag." with only the numbers marked.
    The footer lists Back, Unified/side by side and Swap."""
    scripted.enqueue("alpha", ALPHA)
    scripted.enqueue("beta", BETA)
    scripted.enqueue("gamma", GAMMA)
    scripted.enqueue("alpha", JUDGE)

    async def run_before(pilot) -> None:
        await pilot.click("#prompt")
        await pilot.press(*"add a --verbose flag", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("f4")
        await pilot.pause()

    assert snap_compare(workbench(), terminal_size=(120, 34), run_before=run_before)


def test_strategy_modal(snap_compare, workbench, scripted) -> None:
    """F2 over the empty main screen: the "Plan options for the next run" dialog pre-filled from saved
    prefs: strategy consensus; models beta and gamma ticked, gamma followed by "✗ unavailable (set
    GAMMA_KEY)" in muted grey; variant architect ticked; judge beta; peer rank on; Save and Cancel buttons
    bottom right; no error line. Behind it, dimmed, the header says "2/3 models usable · strategy:
    consensus". The footer lists Save (^s) and Cancel (esc)."""
    app = workbench()
    app.statuses = [ModelStatus(s.model, Availability(s.model.name != "gamma", "unavailable (set GAMMA_KEY)"))
                    for s in app.statuses]
    app.save_plan_prefs({"strategy": "consensus", "models": ["beta", "gamma"], "variants": ["architect"],
                         "judge": "beta", "rank": True})

    async def run_before(pilot) -> None:
        await pilot.press("f2")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 34), run_before=run_before)


def test_edit_plan_modal_warns_before_discarding(snap_compare, workbench, scripted) -> None:
    """The editor opened on beta's plan over the idle main screen, "Now " typed at the start, then Esc once:
    the editor stays open, titled "Edit the plan", line-numbered, its first line reading "Now # Plan", and
    under the text a bold warning "The plan has unsaved changes: Esc again discards them, Ctrl+S keeps
    them." The footer lists Accept (^s) and Cancel (esc)."""
    from moot.tui.screens.edit_plan import EditPlanScreen

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(EditPlanScreen(BETA))
        await pilot.press(*"Now ", "escape")
        await pilot.pause()

    assert snap_compare(workbench(), terminal_size=(120, 34), run_before=run_before)
