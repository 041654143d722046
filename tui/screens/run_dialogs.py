"""Small dialogs of the run and review screens: pick one of a few values, or confirm a step that changes
something (landing hunks, dropping a run)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Footer, OptionList, Static
from textual.widgets.option_list import Option

from .base import MootModal


class PickScreen(MootModal[str | None]):
    """A list of values; Enter picks the highlighted one, Esc leaves without a choice."""

    CSS_PATH = "run_dialogs.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pick.cancel", tooltip="Leave without choosing")]

    def __init__(self, title: str, options: list[tuple[str, str]], current: str | None = None) -> None:
        """``options`` are (label, value) pairs; the cursor starts on ``current``."""
        super().__init__()
        self.title_text = title
        self.options = options
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield OptionList(*[Option(Content(label), id=value) for label, value in self.options],
                             id="pick-options")
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        values = [v for _, v in self.options]
        if self.current in values:
            options.highlighted = values.index(self.current)
        options.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(MootModal[bool]):
    """A question with a yes button (Enter or y) and a no button (Esc or n)."""

    CSS_PATH = "run_dialogs.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Go ahead"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Leave everything as it is"),
    ]

    def __init__(self, title: str, text: str, yes: str = "Yes", *, danger: bool = False) -> None:
        super().__init__()
        self.title_text, self.text, self.yes, self.danger = title, text, yes, danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.text, id="confirm-text", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button(self.yes, variant="error" if self.danger else "primary", id="confirm-yes")
                yield Button("Cancel", id="confirm-no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#confirm-yes", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
