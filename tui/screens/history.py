"""Past runs, newest first: search them by task, open one, or take its task back to the prompt."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from ..commands import BindingCommands
from .run_view import RunViewScreen, reuse_task

if TYPE_CHECKING:
    from ..app import MootApp

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
    proposals = str(len(doc.get("proposals") or [])) if doc else "—"
    cost = f"${float((doc.get('totals') or {}).get('cost_usd') or 0):.4f}" if doc else "—"
    task = (str(run.get("task") or "").strip().splitlines() or [""])[0]
    return when, str(run.get("status") or "?"), str(run.get("strategy") or "—"), proposals, cost, Text(task)


class HistoryScreen(Screen[None]):
    """The list of past runs. Type to search tasks; Enter opens a run; ``u`` reuses its task.

    The list has the focus, so its keys work at once; any other printable key starts a search.
    """

    CSS_PATH = "history.tcss"
    COMMANDS = {BindingCommands}
    BINDINGS = [
        Binding("escape", "back", "Back", id="history.back", tooltip="Back to the main screen"),
        Binding("enter", "open", "Open", id="history.open", tooltip="Show the selected run", show=False),
        Binding("u", "reuse", "Reuse task", id="history.reuse",
                tooltip="Put the selected run's task in the prompt"),
        Binding("slash", "search", "Search", id="history.search", tooltip="Search the runs' tasks"),
        Binding("down", "to_list", "List", show=False, id="history.list",
                tooltip="From the search to the list"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, dict[str, Any]] = {}
        """The listed runs by id."""

    @property
    def moot(self) -> MootApp:
        return self.app  # type: ignore[return-value]

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
        """Query the runs whose task contains ``text`` (sqlite blocks, hence a thread)."""
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

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(f"{event.worker.name}: {event.worker.error}", title="Could not read the history",
                        severity="error", timeout=10)

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
            self.app.push_screen(RunViewScreen(event.row_key.value))

    @on(Input.Submitted, "#history-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        if (run := self.selected()) is not None:
            self.app.push_screen(RunViewScreen(run["id"]))

    def action_reuse(self) -> None:
        run = self.selected()
        if run is None:
            self.notify("There is no run to reuse.", severity="warning")
        elif not reuse_task(self.app, str(run.get("task") or "")):
            self.notify("There is no prompt to put the task in.", severity="warning")

    def action_search(self) -> None:
        self.query_one("#history-search", Input).focus()

    def action_to_list(self) -> None:
        table = self.query_one("#history-table", DataTable)
        if table.row_count:
            table.focus()

    def action_back(self) -> None:
        self.dismiss()
