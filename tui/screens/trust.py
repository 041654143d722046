"""Asking whether to trust the repository's own config file (``.moot/config.toml``).

Shown when the workbench opens on a repository whose config sets what only a trusted file may (a model's host or
key variable, a new hosted model, the test command…: see ``moot.core.config.trust``) and the user was never asked
about this version of the file. Every value is shown escaped and as text, never as markup: the file may be hostile.
The answer is remembered with the file's hash, so a changed file asks again.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Static

from moot.core.config.trust import ProjectTrust, remember, safe

from .base import MootModal


class TrustScreen(MootModal[bool]):
    """What the project config wants, and two answers: Trust (t) or Leave out (n, Esc). Dismissed with True when
    the file is now trusted; either answer is remembered for this version of the file."""

    CSS_PATH = "trust.tcss"
    BINDINGS = [
        Binding("t", "answer(True)", "Trust", id="trust.yes",
                tooltip="Apply all of this file, now and until it changes"),
        Binding("n,escape", "answer(False)", "Leave out", id="trust.no",
                tooltip="Leave these keys out; moot trust applies them later"),
    ]

    def __init__(self, project: ProjectTrust) -> None:
        super().__init__()
        self.project = project

    def compose(self) -> ComposeResult:
        pt = self.project
        with Vertical(id="trust-dialog"):
            yield Static("Trust this repository's config?", id="trust-title")
            where = f"{pt.root.name}/{pt.path.relative_to(pt.root)}" if pt.path.is_relative_to(pt.root) else str(pt.path)
            yield Static(f"{safe(where)} sets what only a config you trust may: it would send requests or keys to "
                         "hosts, or run commands.", id="trust-intro", markup=False)
            with VerticalScroll(id="trust-keys"):
                for item in pt.ignored:
                    yield Static(item.line(), classes="trust-key", markup=False)
            yield Static("Not trusted, these are left out and the rest of the file applies. Your answer is kept "
                         "until the file changes.", id="trust-note", markup=False)
            with Horizontal(id="trust-buttons"):
                yield Button("Trust", variant="warning", id="trust-yes")
                yield Button("Leave out", variant="primary", id="trust-no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#trust-no", Button).focus()  # Enter on the first screen does not trust by accident

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "trust-yes")

    def action_answer(self, yes: bool) -> None:
        remember(self.project.root, self.project.digest, yes)
        self.dismiss(yes)
