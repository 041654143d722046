"""Snapshot of the context inspector at 120×34 on a small fixed repository.

Run with ``--snapshot-update`` after an intended change, then look at the SVG before committing it.
"""

from __future__ import annotations

from pathlib import Path

from test_tui_context import make_project

from moot.tui.screens.context import ContextChoice


def test_context_inspector(snap_compare, workbench) -> None:
    """The task "change total_amount in invoice.py to round" typed, then F11: the top lines name the task and
    the total ("Total n of 1000 tokens (x%) · items · files left out · strategy scoped"). The table lists
    src/cli.py first marked + (pinned before), then src/billing/invoice.py whole, the other files
    whole or outlined, each with its tokens and a bar of its share of the budget; src/billing/tax.py is
    marked - "dropped" at the end, dimmed, aligned with the others. The note line says "1 pinned, 1 dropped
    (+ pinned, - dropped) · the next run uses this choice". The footer lists Back, Pin, Drop, Recompute and Why."""
    app = workbench('[[models]]\nname = "alpha"\nmodel = "scripted/alpha"\n[ensemble]\ncontext_budget = 1000\n')
    make_project(Path.cwd())

    async def run_before(pilot) -> None:
        ContextChoice(pinned=["src/cli.py"], dropped=["src/billing/tax.py"]).save(pilot.app)
        await pilot.click("#prompt")
        await pilot.press(*"change total_amount in invoice.py to round", "f11")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 34), run_before=run_before)
