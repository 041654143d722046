"""The exact messages a call sent to its model, as stored (redacted), read-only: what a proposal or the judge
was asked. Esc closes it."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Static

from .base import MootModal


class PromptsScreen(MootModal[None]):
    """Each message of one call under its role, as plain text (never markup: it holds the repository's and the
    user's text)."""

    CSS_PATH = "prompts.tcss"
    BINDINGS = [Binding("escape,q", "close", "Close", id="prompts.close", tooltip="Back to the proposals")]

    def __init__(self, title: str, messages: list[dict[str, Any]]) -> None:
        super().__init__()
        self.title_text = title
        self.messages = messages

    def compose(self) -> ComposeResult:
        with Vertical(id="prompts-dialog"):
            yield Static(self.title_text, id="prompts-title", markup=False)
            with VerticalScroll(id="prompts-body"):
                if not self.messages:
                    yield Static("No messages were stored for this call.", markup=False)
                for m in self.messages:
                    yield Static(str(m.get("role", "?")), classes="prompts-role", markup=False)
                    yield Static(str(m.get("content", "")), classes="prompts-content", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#prompts-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
