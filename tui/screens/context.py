"""The context inspector: what the proposers would be handed for the current task, item by item.

Each chosen file with its kind (whole, outline, in the tree) and a token bar against the budget, the total, and
the files left out. The user pins a file (always shown first) or drops one (never shown); the choice is kept for
the project and the next run uses it. The repository watcher refreshes the view when files change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, LoadingIndicator, Static

from moot.context.choice import ContextChoice as ProjectChoice

from .base import MootScreen, Workbench

if TYPE_CHECKING:
    from moot.context.scope import ContextResult


BAR_WIDTH = 24
KIND_LABEL = {"full": "whole", "outline": "outline", "tree": "tree", "input": "input"}


class ContextChoice(ProjectChoice):
    """The project's pinned and dropped files (``moot.context.choice``), read and kept through the app's store."""

    @classmethod
    def load(cls, app: Workbench) -> ContextChoice:
        found = ProjectChoice.read(app.store, app.loaded.project_dir)
        return cls(found.pinned, found.dropped)

    def save(self, app: Workbench) -> None:
        self.write(app.store, app.loaded.project_dir)


def bar(tokens: int, budget: int, width: int = BAR_WIDTH) -> str:
    """``tokens`` as a share of ``budget`` in block characters (eighths), at least one sliver when not 0."""
    if budget <= 0 or tokens <= 0:
        return ""
    eighths = max(1, round(min(1.0, tokens / budget) * width * 8))
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class FilesChanged(Message):
    """The repository watcher saw files change."""

    def __init__(self, paths: set[str]) -> None:
        super().__init__()
        self.paths = paths


class ContextScreen(MootScreen[None]):
    """What the next run's proposers would see, and the user's say in it."""

    CSS_PATH = "context.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", id="context.back", tooltip="Back to the main screen"),
        Binding("p", "pin", "Pin", id="context.pin", tooltip="Always show the selected file first (again: unpin)"),
        Binding("d", "drop", "Drop", id="context.drop", tooltip="Never show the selected file (again: undrop)"),
        Binding("r", "recompute", "Recompute", id="context.recompute", tooltip="Choose the context again"),
        Binding("w", "why", "Why", id="context.why",
                tooltip="Why the selected file is in the context: its rank and the signals behind it"),
    ]

    def __init__(self, task: str) -> None:
        super().__init__()
        self.for_task = task
        self.result: ContextResult | None = None
        self.budget = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="context-body"):
            yield Static("", id="context-summary", markup=False)
            yield LoadingIndicator(id="context-loading")
            yield DataTable(id="context-items", cursor_type="row", zebra_stripes=True)
            yield Static("", id="context-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("", key="mark", width=2)
        table.add_column("File", key="path")
        table.add_column("Kind", key="kind", width=8)
        table.add_column("Tokens", key="tokens", width=7)
        table.add_column("Share of the budget", key="bar", width=BAR_WIDTH + 1)
        table.display = False
        self.query_one("#context-summary", Static).update(f" Task: {self.for_task.strip().splitlines()[0][:100]}")
        self.compute()

    # ------------------------------------------------------------------------------------------ computing

    @work(exclusive=True, group="context", exit_on_error=False)
    async def compute(self) -> None:
        import asyncio

        from moot.context.planning import context_budget, planning_context

        app = self.moot
        await app.models_ready.wait()
        choice = ContextChoice.load(app)
        models = [m for m in app.loaded.config.models if m.name in app.usable] or app.loaded.config.models
        self.budget = context_budget(app.loaded.config.budget_for("proposer"), models)
        self.query_one(LoadingIndicator).display = True
        try:
            self.result = await asyncio.to_thread(
                planning_context, app.loaded.project_dir, self.for_task, self.budget,
                models[0].model if models else "", pinned=choice.pinned, dropped=choice.dropped)
        finally:
            self.query_one(LoadingIndicator).display = False
        self.show(choice)

    def show(self, choice: ContextChoice) -> None:
        table = self.query_one(DataTable)
        table.display = True
        row = table.cursor_row
        table.clear()
        result = self.result
        note = self.query_one("#context-note", Static)
        summary = f" Task: {self.for_task.strip().splitlines()[0][:100]}"
        if result is None:
            self.query_one("#context-summary", Static).update(summary)
            note.update(" No repository context: this is not a git repository, or the proposer budget is 0.")
            return
        shown: set[str] = set()
        for item in result.items:
            if item.kind == "tree":
                continue
            shown.add(item.path)
            mark = "+" if item.path in choice.pinned else ""
            table.add_row(mark, Text(item.path), KIND_LABEL.get(item.kind, item.kind), str(item.tokens),
                          Text(bar(item.tokens, result.budget), style="bold"), key=item.path)
        tree = next((i for i in result.items if i.kind == "tree"), None)
        if tree is not None:
            table.add_row("", Text(f"(tree of {len(tree.covers)} more files)", style="italic"), "tree",
                          str(tree.tokens), Text(bar(tree.tokens, result.budget), style="bold"), key=".")
        for path in [*choice.dropped, *result.left_out]:
            if path in shown:
                continue
            shown.add(path)
            mark = "-" if path in choice.dropped else ""
            table.add_row(mark, Text(path, style="dim"), "dropped" if mark else "left out", "0", "", key=path)
        if table.row_count:
            table.move_cursor(row=min(max(row, 0), table.row_count - 1))
        used = result.total_tokens / result.budget if result.budget else 0.0
        self.query_one("#context-summary", Static).update(
            f"{summary}\n Total {result.total_tokens} of {result.budget} tokens ({used:.0%}) · "
            f"{_count(len(result.items), 'item')} · {_count(len(result.left_out), 'file')} left out · "
            f"strategy {result.strategy}")
        pins = f"{len(choice.pinned)} pinned, {len(choice.dropped)} dropped" if (choice.pinned or choice.dropped) \
            else "nothing pinned or dropped"
        note.update(f" {pins} (+ pinned, - dropped) · the next run uses this choice")

    # ------------------------------------------------------------------------------------------- actions

    def _selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key if key and key != "." else None

    def _toggle(self, which: str) -> None:
        path = self._selected()
        if path is None:
            self.notify("Select a file first", severity="warning")
            return
        choice = ContextChoice.load(self.moot)
        choice.toggle(which, path)
        choice.save(self.moot)
        self.compute()

    def action_pin(self) -> None:
        self._toggle("pinned")

    def action_drop(self) -> None:
        self._toggle("dropped")

    def action_why(self) -> None:
        path = self._selected()
        why = self.result.why.get(path or "") if self.result is not None else None
        if path is None or not why:
            self.notify("Select a file shown whole or outlined (a file left out has no rank here).",
                        severity="warning")
            return
        self.notify(why_text(why), title=path, timeout=12, markup=False)

    def action_recompute(self) -> None:
        self.compute()

    def action_back(self) -> None:
        self.app.pop_screen()

    @on(FilesChanged)
    def _files_changed(self, event: FilesChanged) -> None:
        self.compute()


def why_text(why: dict[str, float]) -> str:
    """A file's reasons in words: its rank and score, then each signal that put it there."""
    parts = [f"rank {int(why.get('rank', 0))}, score {why.get('score', 0):.3f}"]
    if "named" in why:
        parts.append("named by the task (or pinned, or in the plan)")
    if "defines" in why:
        parts.append("defines a name the task uses")
    if "lexical" in why:
        parts.append(f"its path and names match the task's words (BM25 {why['lexical']:.2f})")
    if "cochange" in why:
        parts.append(f"it changed together with the task's files in the history ({why['cochange']:.2f})")
    parts.append(f"its share of the walk over who uses whose definitions: {why.get('walk', 0):.4f}")
    return "; ".join(parts)


def context_options(app: Workbench) -> dict[str, Any]:
    """The user's pinned and dropped files for the next run's context."""
    choice = ContextChoice.load(app)
    return {"pinned": choice.pinned, "dropped": choice.dropped}
