"""The proposals side by side: one column per proposer, or tabs when the terminal is narrow.

Panes are never moved between containers: in the tab layout a ``Tabs`` bar appears and only the active pane
is displayed. Linked scrolling moves every other pane to the same fraction of its length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.reactive import reactive
from textual.widgets import Static, Tab, Tabs

from .pane import ProposalPane
from .streamed import StreamedMarkdown

if TYPE_CHECKING:
    from moot.core.ensemble import Proposer

NARROW = 100
"""Below this many columns the proposals become tabs."""


class ProposalsArea(Vertical):
    linked: reactive[bool] = reactive(False)
    narrow: reactive[bool] = reactive(False)

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._panes: dict[int, ProposalPane] = {}
        """By index: looked up for every batch of streamed text, so no DOM query on that path."""

    def compose(self) -> ComposeResult:
        yield Tabs(id="proposal-tabs")
        yield Horizontal(id="proposal-columns")
        yield Static("Type a task below and press Enter.", id="proposals-empty")

    @property
    def panes(self) -> list[ProposalPane]:
        return list(self._panes.values())

    def pane(self, index: int) -> ProposalPane | None:
        return self._panes.get(index)

    async def set_proposers(self, proposers: Sequence[Proposer]) -> None:
        """Replace the panes with one per proposer."""
        columns = self.query_one("#proposal-columns", Horizontal)
        await columns.remove_children()
        tabs = self.query_one(Tabs)
        await tabs.clear()
        panes = [ProposalPane(i, p.model.name, p.variant, id=f"proposal-{i}") for i, p in enumerate(proposers)]
        self._panes = {p.index: p for p in panes}
        await columns.mount_all(panes)
        for i, p in enumerate(proposers):
            await tabs.add_tab(Tab(f"{i + 1} {p.model.name}·{p.variant}", id=f"tab-{i}"))
        self.query_one("#proposals-empty").display = not panes
        self._layout()

    def on_resize(self, event: Resize) -> None:
        self.narrow = event.size.width < NARROW

    def watch_narrow(self) -> None:
        self._layout()

    def _layout(self) -> None:
        if not self.is_mounted:
            return
        tabs = self.query_one(Tabs)
        tabs.display = self.narrow and bool(self.panes)
        active = tabs.active
        for pane in self.panes:
            pane.display = not self.narrow or active == f"tab-{pane.index}"

    @on(Tabs.TabActivated)
    def _tab(self, event: Tabs.TabActivated) -> None:
        event.stop()
        self._layout()

    def show(self, index: int) -> None:
        """Bring pane ``index`` into view (activates its tab in the narrow layout) and focus it."""
        if self.narrow:
            self.query_one(Tabs).active = f"tab-{index}"
        if (pane := self.pane(index)) is not None:
            pane.focus()

    @on(StreamedMarkdown.Scrolled)
    def _follow(self, event: StreamedMarkdown.Scrolled) -> None:
        event.stop()
        if not self.linked:
            return
        for pane in self.panes:
            body = pane.query_one(StreamedMarkdown)
            if body is not event.scroll and body.max_scroll_y:
                body.following = True
                body.scroll_to(y=event.fraction * body.max_scroll_y, animate=False)
                body.following = False
