"""The task list of a run: the table of tasks above, the selected task's agent output below."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable

from .model import Key, TaskItem
from .output import AgentOutput
from .table import TaskTable


class TaskList(Vertical):
    """Tasks with live state; moving the cursor shows that task's output."""

    DEFAULT_CSS = """
    TaskList {
        height: 1fr;
    }

    TaskList > AgentOutput {
        height: 1fr;
        min-height: 4;
        border: round $panel;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: dict[Key, TaskItem] = {}

    def compose(self) -> ComposeResult:
        yield TaskTable(id="tasks-table")
        yield AgentOutput(id="tasks-output")

    @property
    def table(self) -> TaskTable:
        return self.query_one(TaskTable)

    @property
    def output(self) -> AgentOutput:
        return self.query_one(AgentOutput)

    def on_mount(self) -> None:
        self.output.border_title = "Output"

    def on_resize(self) -> None:
        self.table.refit(list(self.items.values()))

    # ------------------------------------------------------------------------------------------ rows

    def set_items(self, items: list[TaskItem]) -> None:
        """Replace the tasks (the cursor stays on the same task when it is still there)."""
        keep = self.selected
        items = sorted(items, key=lambda i: i.candidate)
        self.items = {item.key: item for item in items}
        several = len({item.candidate for item in items}) > 1
        self.table.show(items, several)
        if keep in self.items:
            self.select(keep)
        self._show_selected()

    def upsert(self, item: TaskItem) -> None:
        """Add the task, or update its row when it is there."""
        several = len({k[0] for k in self.items} | {item.candidate}) > 1
        new = item.key not in self.items
        last = max((k[0] for k in self.items), default=item.candidate)
        self.items[item.key] = item
        if several != self.table.several or (new and item.candidate < last):
            # each candidate's tasks stay together, in their order
            self.set_items(sorted(self.items.values(), key=lambda i: i.candidate))
            return
        self.table.update(item)
        if self.output.shown is None:
            self._show_selected()

    def update(self, key: Key, **changes: object) -> TaskItem | None:
        item = self.items.get(key)
        if item is None:
            return None
        for name, value in changes.items():
            setattr(item, name, value)
        self.table.update(item)
        self._title_output()
        return item

    def get(self, key: Key) -> TaskItem | None:
        return self.items.get(key)

    # ---------------------------------------------------------------------------------------- output

    def add_output(self, key: Key, text: str) -> None:
        if (item := self.items.get(key)) is not None:
            item.output += text
        self.output.add(key, text)

    def add_note(self, key: Key, text: str) -> None:
        self.output.note(key, text)

    # ------------------------------------------------------------------------------------- selection

    @property
    def selected(self) -> Key | None:
        return self.table.selected_key()

    def select(self, key: Key) -> None:
        """Put the cursor on ``key``'s row and show its output."""
        from .table import row_key

        if key not in self.items:
            return
        self.table.move_cursor(row=self.table.get_row_index(row_key(key)))
        self._show_selected()

    def _show_selected(self) -> None:
        self.output.show(self.selected)
        self._title_output()

    def _title_output(self) -> None:
        key = self.output.shown
        item = self.items.get(key) if key is not None else None
        if item is None:
            self.output.border_title = "Output"
            return
        who = f"candidate {item.candidate} · " if self.table.several else ""
        self.output.border_title = Content(f"{who}{item.task_id} · {item.model} · {item.state}")  # never markup

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_selected()
