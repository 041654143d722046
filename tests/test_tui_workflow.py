"""Workflows in the workbench, driven as a user would: F2 picks a workflow, a typed task runs it on the workflow
screen (the phase strip follows each phase), a checkpoint is a dialog (stop here, then resume and go on), a
stored run opens from the history; workflow files edited while the workbench runs are read again (a broken edit
keeps the last good version); snapshots of the strip and of a checkpoint dialog."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from moot.agents.workflow import store as stored
from moot.tui.screens.checkpoint import CheckpointScreen
from moot.tui.screens.workflow import WorkflowScreen
from moot.tui.widgets.phase_strip import PhaseStrip
from moot.tui.widgets.prompt import PromptInput
from moot.tui.workflows import WorkflowCatalog

SIZE = (120, 34)

CHECKED = """\
name: checked
description: an idea, a stop to look at it, then a follow-up
phases:
  - name: idea
    type: single
    model: beta
    checkpoint: ask
  - name: follow
    type: single
    model: gamma
    input: idea.output
"""


def project(app: Any) -> Path:
    return Path(app.loaded.project_dir)


def add_workflow(app: Any, text: str = CHECKED, name: str = "checked") -> None:
    folder = project(app) / ".moot" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)


async def until(pilot: Any, check: Any, limit: float = 10.0) -> None:
    for _ in range(int(limit / 0.02)):
        if check():
            break
        await pilot.pause(0.02)
    assert check()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def type_task(pilot: Any, task: str) -> None:
    prompt = pilot.app.screen.query_one(PromptInput)
    prompt.value = task
    prompt.focus()
    await pilot.press("enter")


async def test_a_workflow_chosen_in_f2_runs_the_task_and_stops_at_its_checkpoint(workbench, scripted) -> None:
    scripted.enqueue("beta", "Use a table of handlers.")
    scripted.enqueue("gamma", "Then test each handler.")
    app = workbench()
    add_workflow(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await until(pilot, lambda: app.screen.__class__.__name__ == "StrategyScreen")
        select = app.screen.query_one("#strategy-workflow")
        select.value = "checked"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "workflow: checked" in app.header_text())
        await type_task(pilot, "Add a router")
        await until(pilot, lambda: isinstance(app.screen, CheckpointScreen))
        assert "the workflow's idea phase = ask" in str(app.screen.query_one("#checkpoint-reasons").render())
        await pilot.press("n")  # stop here
        screen = app.screen
        assert isinstance(screen, WorkflowScreen)
        await until(pilot, lambda: not screen.busy)
        strip = screen.query_one(PhaseStrip)
        assert strip.state("idea") == "done" and strip.state("follow") == "waiting" and screen.state == "stopped"
        await pilot.press("r")  # resume: the checkpoint asks again
        await until(pilot, lambda: isinstance(app.screen, CheckpointScreen))
        await pilot.press("y")
        await until(pilot, lambda: not screen.busy and screen.state == "done")
        assert strip.state("follow") == "done"
        assert [n for n, *_ in scripted.calls] == ["beta", "gamma"]  # the idea was not asked again
        rows = stored.phases(app.store, screen.run_id or "")
        assert rows[0]["decision"]["asked"] and rows[0]["decision"]["go_on"]
        outputs = [str(w.border_title) for w in screen.query(".workflow-output")]
        assert outputs[:2] == ["idea · single", "follow · single"]


async def test_a_stored_workflow_run_opens_from_the_history(workbench, scripted) -> None:
    app = workbench()
    add_workflow(app)
    async with app.run_test(size=SIZE) as pilot:
        app.save_plan_prefs({"workflow": "checked"})
        await type_task(pilot, "Add a router")
        await until(pilot, lambda: isinstance(app.screen, CheckpointScreen))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, WorkflowScreen) and not app.screen.busy)
        run_id = app.screen.run_id
        await pilot.press("escape")
        await pilot.press("f3")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HistoryScreen")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, WorkflowScreen) and app.screen.found is not None)
        screen = app.screen
        assert screen.run_id == run_id and screen.query_one(PhaseStrip).state("idea") == "stopped"
        assert screen.check_action("resume", ()) is True


def test_a_broken_edit_keeps_the_last_good_version(tmp_path: Path) -> None:
    folder = tmp_path / ".moot" / "workflows"
    folder.mkdir(parents=True)
    (folder / "checked.yaml").write_text(CHECKED)
    catalog = WorkflowCatalog(tmp_path)
    assert catalog.reload() == [] and "checked" in catalog.names()
    (folder / "checked.yaml").write_text(CHECKED.replace("type: single\n    model: beta", "type: sole"))
    errors = catalog.reload()
    assert len(errors) == 1 and "checked.yaml:5" in str(errors[0])
    kept = catalog.get("checked")
    assert kept is not None and kept.workflow.phases[0].type == "single"  # the last good version
    assert catalog.reload() == []  # the same mistake is not reported twice
    (folder / "checked.yaml").write_text(CHECKED.replace("name: follow", "name: after"))
    assert catalog.reload() == [] and catalog.get("checked").workflow.phases[1].name == "after"


async def test_the_watch_reads_a_folder_made_after_it_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = WorkflowCatalog(tmp_path)
    catalog.reload()
    seen: list[list[Any]] = []
    watching = asyncio.create_task(catalog.watch(seen.append))
    try:
        await asyncio.sleep(0.5)
        folder = tmp_path / ".moot" / "workflows"
        folder.mkdir(parents=True)
        await asyncio.sleep(0.5)
        (folder / "checked.yaml").write_text(CHECKED)
        for _ in range(100):
            if "checked" in catalog.names():
                break
            await asyncio.sleep(0.05)
        assert "checked" in catalog.names()
        (folder / "broken.yaml").write_text("name: broken\nphases:\n  - name: a\n")
        for _ in range(100):
            if any(errors for errors in seen):
                break
            await asyncio.sleep(0.05)
        assert any("broken.yaml:3" in str(e) for errors in seen for e in errors)
    finally:
        watching.cancel()


@pytest.mark.parametrize("size", [(120, 34), (80, 24)])
def test_snapshot_of_a_checkpoint_dialog(workbench, scripted, snap_compare, size) -> None:
    """The workflow screen under its checkpoint dialog: "Checkpoint at idea, after it" with the reason "the
    workflow's idea phase = ask", the idea's answer "Use a table of handlers." in a box, and the buttons Go on
    and Stop here; the footer offers y Go on and n Stop here."""
    scripted.enqueue("beta", "Use a table of handlers.")
    app = workbench()
    add_workflow(app)

    async def run_before(pilot: Any) -> None:
        app.save_plan_prefs({"workflow": "checked"})
        await type_task(pilot, "Add a router")
        await until(pilot, lambda: isinstance(app.screen, CheckpointScreen))

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(120, 34), (80, 24)])
def test_snapshot_of_a_finished_workflow(workbench, scripted, snap_compare, size) -> None:
    """A finished workflow: the header "Workflow checked · run … · done" over the task, the phase strip with
    "✓ 1 idea · single" and "✓ 2 follow · single" in green, each phase's output in a box titled with its name and
    type, and the status line "done in … s"."""
    scripted.enqueue("beta", "Use a table of handlers.")
    scripted.enqueue("gamma", "Then test each handler.")
    app = workbench()
    add_workflow(app, CHECKED.replace("checkpoint: ask", "checkpoint: off"))

    async def run_before(pilot: Any) -> None:
        app.save_plan_prefs({"workflow": "checked"})
        await type_task(pilot, "Add a router")
        await until(pilot, lambda: isinstance(app.screen, WorkflowScreen) and app.screen.state == "done")
        app.screen.query_one("#workflow-status").update("done")  # the wall time varies from run to run

    assert snap_compare(app, terminal_size=size, run_before=run_before)
