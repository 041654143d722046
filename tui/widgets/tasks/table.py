"""The task table: a row per task with its state, id, title, role, model and tries."""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import DataTable

from .model import STATE_ICONS, STATE_STYLES, Key, TaskItem

COLUMNS = (("State", "state", 13), ("Task", "id", 9), ("Title", "title", None), ("Role", "role", 9),
           ("Model", "model", 12), ("Tries", "tries", 5))


def row_key(key: Key) -> str:
    return f"{key[0]}/{key[1]}"


def key_of(row: str) -> Key:
    candidate, _, task_id = row.partition("/")
    return int(candidate), task_id


def state_cell(state: str) -> Content:
    return Content.styled(f"{STATE_ICONS.get(state, '?')} {state}", STATE_STYLES.get(state, ""))


def _cut(text: str, width: int) -> Text:
    """``text`` on one line, exactly ``width`` cells (cut with an ellipsis)."""
    line = Text(" ".join(text.split()), no_wrap=True)
    line.truncate(width, overflow="ellipsis", pad=True)
    return line


class TaskTable(DataTable[str | Text | Content]):
    """The tasks of a run; with several candidates, each candidate's tasks carry its number."""

    DEFAULT_CSS = """
    TaskTable {
        height: auto;
        max-height: 50%;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.several = False
        """Whether the tasks of several candidates are listed (the id shows the candidate)."""

    def on_mount(self) -> None:
        for label, key, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def title_width(self) -> int:
        """What the title column gets: the width the other columns leave (titles are cut to it)."""
        fixed = sum(w or 0 for _, _, w in COLUMNS) + 2 * len(COLUMNS) + 1
        return max(12, self.size.width - fixed) if self.size.width else 40

    def cells(self, item: TaskItem) -> tuple[Content, Text, Text, str, Text, str]:
        ident = f"{item.candidate}·{item.task_id}" if self.several else item.task_id
        return (state_cell(item.state), Text(ident), _cut(item.title, self.title_width()),
                item.role, Text(item.model), str(item.attempts) if item.attempts else "")

    def show(self, items: list[TaskItem], several: bool) -> None:
        """Replace every row."""
        self.several = several
        self.clear()
        for item in items:
            self.add_row(*self.cells(item), key=row_key(item.key))
        self._repaint_header()

    def add(self, item: TaskItem) -> None:
        self.add_row(*self.cells(item), key=row_key(item.key))
        self._repaint_header()

    def _repaint_header(self) -> None:
        """New rows widen the columns once the table is next measured, but only the rows are repainted then:
        a header painted before them would keep the old widths. Repaint all of it after that measure."""
        self.call_after_refresh(self.refresh)

    def update(self, item: TaskItem) -> None:
        key = row_key(item.key)
        if key not in self.rows:  # type: ignore[comparison-overlap]
            self.add(item)
            return
        cells: tuple[str | Text | Content, ...] = self.cells(item)
        for (_, column, _), value in zip(COLUMNS, cells, strict=True):
            self.update_cell(key, column, value)

    def refit(self, items: list[TaskItem]) -> None:
        """Cut the titles to the table's width again (after a resize)."""
        for item in items:
            key = row_key(item.key)
            if key in self.rows:  # type: ignore[comparison-overlap]
                self.update_cell(key, "title", _cut(item.title, self.title_width()))

    def selected_key(self) -> Key | None:
        if not self.row_count:
            return None
        row = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return key_of(row) if row else None
