"""A workflow's checkpoint: why moot suggests a stop, what to look at (the phase's output, or the tasks about to
be carried out), and the choice to go on or stop here (the run is kept and can be resumed)."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Static

from moot.core.text import terminal_safe

from .base import MootModal


class CheckpointScreen(MootModal[bool]):
    """Dismissed with True to go on, False to stop the workflow here."""

    CSS_PATH = "checkpoint.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Go on", id="checkpoint.go", tooltip="Carry on with the workflow"),
        Binding("n,escape", "answer(False)", "Stop here", id="checkpoint.stop",
                tooltip="Stop the workflow here; it is kept and can be resumed from the history"),
    ]

    def __init__(self, point: Any) -> None:
        super().__init__()
        self.point = point

    def compose(self) -> ComposeResult:
        p = self.point
        what = "before it carries out its tasks" if p.when == "before" else "after it"
        with Vertical(id="checkpoint-dialog", classes="dialog"):
            yield Static(f"Checkpoint at {p.phase}, {what}", classes="dialog-title", markup=False)
            setting = f"{p.setting} = {p.value}"
            reasons = [*p.reasons, *([] if setting in p.reasons else [f"({setting})"])]
            yield Static("\n".join(f"• {terminal_safe(r)}" for r in reasons), id="checkpoint-reasons", markup=False)
            with VerticalScroll(id="checkpoint-shown"):
                yield Static(terminal_safe(p.shown.strip()) or "(nothing to show)", markup=False)
            with Horizontal(id="checkpoint-buttons"):
                yield Button("Go on", variant="primary", id="checkpoint-go")
                yield Button("Stop here", id="checkpoint-stop")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#checkpoint-go", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "checkpoint-go")

    def action_answer(self, go_on: bool) -> None:
        self.dismiss(go_on)
