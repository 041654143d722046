"""Past runs, newest first: search them by task, open one, or take its task back to the prompt."""

from __future__ import annotations

import json
import time
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import get_current_worker

from .base import MootScreen

LIMIT = 200
"""How many runs the list shows at most."""

COLUMNS = (("When", "when"), ("Status", "status"), ("Strategy", "strategy"), ("Proposals", "proposals"),
           ("Cost", "cost"), ("Task", "task"))


def run_cells(run: dict[str, Any]) -> tuple[str, str, str, str, str, Text]:
    """A run row's cells: when, status, strategy, number of proposals, cost, the task's first line."""
    doc: dict[str, Any] | None = None
    if run.get("result_json"):
        try:
            doc = json.loads(run["result_json"])
        except ValueError:
            doc = None
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(run.get("created_at") or 0)))
    plan = run.get("kind") not in ("exec", "discussion", "workflow")  # only a planning run has proposals
    proposals = str(len(doc.get("proposals") or [])) if doc and plan else "—"
    totals = doc.get("totals") if doc else None
    cost = f"${float(totals.get('cost_usd') or 0):.4f}" if isinstance(totals, dict) else "—"
    task = (str(run.get("task") or "").strip().splitlines() or [""])[0]
    kinds = {"exec": "carry out", "discussion": "discussion"}
    strategy = str(run.get("strategy") or kinds.get(str(run.get("kind")), "—"))
    if run.get("kind") == "workflow":
        strategy = f"workflow {strategy}"
    return when, str(run.get("status") or "?"), strategy, proposals, cost, Text(task)


class HistoryScreen(MootScreen[None]):
    """The list of past runs. Type to search tasks; Enter opens a run; ``u`` reuses its task.

    The list has the focus, so its keys work at once; any other printable key starts a search.
    """

    CSS_PATH = "history.tcss"
    FAILURE_TITLE = "Could not read the history"
    BINDINGS = [
        Binding("escape", "back", "Back", id="history.back", tooltip="Back to the main screen"),
        Binding("enter", "open", "Open", id="history.open", tooltip="Show the selected run", show=False),
        Binding("u", "reuse", "Reuse task", id="history.reuse",
                tooltip="Put the selected run's task in the prompt"),
        Binding("r", "resume", "Resume", id="history.resume",
                tooltip="Open the selected interrupted run to carry it on"),
        Binding("x", "reject", "Reject run", id="history.reject",
                tooltip="Drop the selected run: its branch and worktree are removed"),
        Binding("slash", "search", "Search", id="history.search", tooltip="Search the runs' tasks"),
        Binding("down", "to_list", "List", show=False, id="history.list",
                tooltip="From the search to the list"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, dict[str, Any]] = {}
        """The listed runs by id."""

    def compose(self) -> ComposeResult:
        yield Static("History · past runs, newest first", id="history-title", markup=False)
        yield Input(placeholder="Type to search the tasks", id="history-search", select_on_focus=False)
        table: DataTable[str | Text] = DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static("No runs yet", id="history-empty", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#history-empty").display = False
        self.query_one("#history-table", DataTable).focus()
        self.search("")

    # ------------------------------------------------------------------------------------------ loading

    @on(Input.Changed, "#history-search")
    def _typed(self, event: Input.Changed) -> None:
        self.search(event.value.strip())

    @work(exclusive=True, group="history", exit_on_error=False, thread=True)
    def search(self, text: str) -> None:
        """Query the runs whose task contains ``text`` (sqlite blocks, hence a thread); execution runs left
        active by a moot that is gone are marked interrupted first."""
        from moot.agents.runs import mark_stale

        mark_stale(self.moot.store)
        runs = self.moot.store.runs(limit=LIMIT, search=text or None)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, runs, text)

    def show(self, runs: list[dict[str, Any]], text: str) -> None:
        """Replace the table's rows with ``runs`` (or show the empty state)."""
        self.runs = {r["id"]: r for r in runs}
        table = self.query_one("#history-table", DataTable)
        table.clear()
        for r in runs:
            table.add_row(*run_cells(r), key=r["id"])
        empty = self.query_one("#history-empty", Static)
        empty.update(f"No runs match “{text}”" if text else "No runs yet")
        empty.display = not runs
        table.display = bool(runs)
        if not runs and self.focused is table:
            self.query_one("#history-search", Input).focus()
        self.refresh_bindings()

    def on_key(self, event: events.Key) -> None:
        """A printable key the list does not bind starts (or continues) the search."""
        table = self.query_one("#history-table", DataTable)
        if (self.focused is table and event.is_printable and event.character
                and event.key not in self.active_bindings):
            event.stop()
            event.prevent_default()
            search = self.query_one("#history-search", Input)
            search.focus()
            search.insert_text_at_cursor(event.character)

    # ------------------------------------------------------------------------------------------ actions

    def selected(self) -> dict[str, Any] | None:
        """The run under the table's cursor, if any."""
        table = self.query_one("#history-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.runs.get(key or "")

    @on(DataTable.RowSelected, "#history-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value in self.runs:
            self._open(self.runs[event.row_key.value])

    @on(Input.Submitted, "#history-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        if (run := self.selected()) is not None:
            self._open(run)

    def _open(self, run: dict[str, Any]) -> None:
        """A plan run in the run view; an execution run on the run screen (where it can be resumed,
        reviewed or rejected)."""
        if run.get("kind") == "exec":
            self.open("run", run_id=run["id"], callback=self._relist)
        elif run.get("kind") == "discussion":
            self.open("discussion", run_id=run["id"])
        elif run.get("kind") == "workflow":
            self.open("workflow", run_id=run["id"], callback=self._relist)
        else:
            self.open("run-view", run["id"])

    def _relist(self, _: object = None) -> None:
        """List the runs again (one may have been resumed, accepted or rejected)."""
        self.search(self.query_one("#history-search", Input).value.strip())

    @on(DataTable.RowHighlighted, "#history-table")
    def _row_highlighted(self) -> None:
        self.refresh_bindings()

    def action_resume(self) -> None:
        if (run := self.selected()) is not None:
            self._open(run)

    def action_reject(self) -> None:
        run = self.selected()
        if run is None:
            return
        def answered(yes: bool | None) -> None:
            if yes:
                self.reject(run["id"])

        self.open("confirm", "Reject the run?", f"Every change of run {run['id']} is dropped: its branch and "
                  "worktree are removed. Your own files are not touched.", "Reject run", danger=True,
                  callback=answered)

    @work(exclusive=True, group="history-reject", exit_on_error=False, thread=True)
    def reject(self, run_id: str) -> None:
        """Drop an execution run (git and sqlite, hence a thread), then list the runs again."""
        from moot.agents import runs
        from moot.agents.landing import drop

        run = runs.load(self.moot.store, run_id)
        if run is not None:
            drop(self.moot.store, run)
        self.app.call_from_thread(self.notify, f"Run {run_id} rejected.", title="Rejected")
        self.app.call_from_thread(self._relist)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("resume", "reject"):
            run = self.selected() if self.is_mounted else None
            if run is None or run.get("kind") != "exec":
                return False
            states = ("interrupted",) if action == "resume" else ("interrupted", "done", "failed")
            return run.get("status") in states
        return True

    def action_reuse(self) -> None:
        run = self.selected()
        if run is None:
            self.notify("There is no run to reuse.", severity="warning")
        elif not self.moot.reuse_task(str(run.get("task") or "")):
            self.notify("There is no prompt to put the task in.", severity="warning")

    def action_search(self) -> None:
        self.query_one("#history-search", Input).focus()

    def action_to_list(self) -> None:
        table = self.query_one("#history-table", DataTable)
        if table.row_count:
            table.focus()

    def action_back(self) -> None:
        self.dismiss()
