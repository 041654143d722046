"""Edit the chosen plan before accepting it: Ctrl+S keeps the edit, Esc leaves (twice, if anything changed)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Static, TextArea
from textual.widgets.text_area import LanguageDoesNotExist

from .base import MootModal


def plan_area(text: str) -> TextArea:
    """A text area for a Markdown plan: highlighted when tree-sitter's Markdown grammar is installed."""
    try:
        return TextArea(text, language="markdown", soft_wrap=True, show_line_numbers=True, id="plan-text")
    except LanguageDoesNotExist:
        return TextArea(text, soft_wrap=True, show_line_numbers=True, id="plan-text")


class EditPlanScreen(MootModal[str | None]):
    """The plan in an editor. Dismissed with the edited text, or ``None`` when the user leaves it."""

    CSS_PATH = "edit_plan.tcss"
    BINDINGS = [
        Binding("ctrl+s", "accept", "Accept", id="edit.accept", tooltip="Keep the edited plan",
                priority=True),
        Binding("escape", "cancel", "Cancel", id="edit.cancel", tooltip="Leave without keeping the edit"),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.original = text
        self.armed = False
        """Esc was pressed once with unsaved changes: the next Esc discards them."""

    def compose(self) -> ComposeResult:
        with Vertical(id="edit-dialog"):
            yield Static("Edit the plan", id="edit-title")
            yield plan_area(self.original)
            yield Static("", id="edit-warning", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.cursor_blink = getattr(self.app, "cursor_blink", True)
        area.focus()

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    @property
    def changed(self) -> bool:
        return self.text != self.original

    @on(TextArea.Changed)
    def _disarm(self) -> None:
        """A further edit means a later Esc must warn again."""
        if self.armed:
            self.armed = False
            self._warn("")

    def _warn(self, message: str) -> None:
        warning = self.query_one("#edit-warning", Static)
        warning.update(message)
        warning.display = bool(message)

    def action_accept(self) -> None:
        self.dismiss(self.text)

    def action_cancel(self) -> None:
        if self.changed and not self.armed:
            self.armed = True
            self._warn("The plan has unsaved changes: Esc again discards them, Ctrl+S keeps them.")
            return
        self.dismiss(None)
