"""One proposer's column: a title bar with live figures, and the proposal streaming in as Markdown."""

from __future__ import annotations

import time
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from .streamed import StreamedMarkdown

STATE_ICONS = {"queued": "⋯", "waiting": "…", "streaming": "▶", "done": "✓", "failed": "✗", "cancelled": "■"}


def clock() -> float:
    """The pane's clock; tests replace it to make figures deterministic."""
    return time.monotonic()


class ProposalPane(Vertical, can_focus=True):
    """A proposer's column. Focus it to act on it: maximise, choose as plan, cancel, retry."""

    DEFAULT_CSS = """
    ProposalPane {
        width: 1fr;
        height: 1fr;
        border: round $panel;
        border-title-style: bold;
        border-title-align: left;
    }

    ProposalPane:focus {
        border: round $accent;
    }

    ProposalPane .pane-title {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        background: $surface;
    }

    ProposalPane.proposal-1 { border-title-color: $proposal-1; }
    ProposalPane.proposal-2 { border-title-color: $proposal-2; }
    ProposalPane.proposal-3 { border-title-color: $proposal-3; }
    ProposalPane.proposal-4 { border-title-color: $proposal-4; }
    ProposalPane.proposal-5 { border-title-color: $proposal-5; }
    ProposalPane.proposal-6 { border-title-color: $proposal-6; }

    ProposalPane.-failed .pane-title { color: $error; text-style: bold; }
    ProposalPane.-cancelled .pane-title { text-style: italic; }

    ProposalPane .pane-body {
        height: 1fr;
        margin: 0;
        padding: 0;
    }

    ProposalPane .pane-error {
        display: none;  /* no empty row above every proposal, and one widget less to draw in each frame */
        color: $error;
        height: auto;
        padding: 0 1;
    }

    ProposalPane.-failed .pane-error, ProposalPane.-cancelled .pane-error {
        display: block;
    }
    """

    BINDINGS = [
        Binding("m", "maximise", "Maximise", id="proposal.maximise", tooltip="Show this proposal alone"),
        Binding("p", "choose", "Use as plan", id="proposal.choose", tooltip="Choose this proposal as the plan"),
        Binding("k", "cancel", "Cancel", id="proposal.cancel", tooltip="Stop this model"),
        Binding("r", "retry", "Retry", id="proposal.retry", tooltip="Run this failed or cancelled model again"),
        Binding("c", "compare", "Compare", id="proposal.compare", tooltip="Compare with another proposal"),
        Binding("i", "prompts", "Prompt", id="proposal.prompts", show=False,
                tooltip="The exact messages this model was sent"),
    ]

    state: reactive[str] = reactive("waiting")

    class Action(Message):
        """The user asked for ``action`` on pane ``index``; the screen carries it out."""

        def __init__(self, index: int, action: str) -> None:
            super().__init__()
            self.index = index
            self.action = action

    def __init__(self, index: int, model: str, variant: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.index = index
        self.model = model
        self.variant = variant
        self.tokens = 0
        self.text = ""
        self.error: str | None = None
        self.cost_usd = 0.0
        self._t_start: float | None = None
        self._t_first: float | None = None
        self._t_end: float | None = None
        self.ahead = 0
        """While queued: how many calls are ahead of this one on its engine."""
        self.label = ""
        """The plan's letter as the judge sees it ("A"), once the proposals are lettered."""
        self._ticking: Timer | None = None
        self._shown_title = ""
        self.add_class(f"proposal-{index % 6 + 1}")

    def compose(self) -> ComposeResult:
        self._shown_title = self._title()
        self.border_title = Content(self._shown_title)
        yield Static(self._figures(), classes="pane-title", markup=False)
        yield Static("", classes="pane-error", markup=False)
        yield StreamedMarkdown(classes="pane-body")

    def _markdown(self) -> StreamedMarkdown:
        return self.query_one(StreamedMarkdown)

    # ------------------------------------------------------------------------------------------ figures

    def _title(self) -> str:
        """Who, in the border: always visible, costs no row."""
        plan = f"Plan {self.label} · " if self.label else ""
        return f"{STATE_ICONS.get(self.state, '?')} {plan}{self.model} · {self.variant}"

    def set_label(self, label: str) -> None:
        if label != self.label:
            self.label = label
            self.refresh_title()

    def _figures(self) -> str:
        """State and live figures, in the bar under the border."""
        if self.state == "queued":
            waited = clock() - self._t_start if self._t_start is not None else 0.0
            return f"queued · {self.ahead} ahead · {waited:.0f} s"
        parts = [self.state, f"{self.tokens} tok"]
        if self._t_first is not None and self.tokens > 1:
            end = self._t_end if self._t_end is not None else clock()
            if end > self._t_first:
                parts.append(f"{(self.tokens - 1) / (end - self._t_first):.0f} tok/s")
        if self._t_start is not None and self._t_end is not None:
            parts.append(f"{self._t_end - self._t_start:.1f} s")
        if self.cost_usd:
            parts.append(f"${self.cost_usd:.4f}")
        return " · ".join(parts)

    def refresh_title(self) -> None:
        # each costs a repaint: the border's only when the state changed, the bar's never a layout (one row)
        if (title := self._title()) != self._shown_title:
            self._shown_title = title
            self.border_title = Content(title)  # a variant's name may come from a repository's config
        self.query_one(".pane-title", Static).update(self._figures(), layout=False)

    def watch_state(self, old: str, state: str) -> None:
        # two class changes, not one per state: each restyles the pane and everything in it
        self.remove_class(f"-{old}")
        self.add_class(f"-{state}")
        if state == "queued" and self._ticking is None and self.is_mounted:
            self._ticking = self.set_interval(1.0, self.refresh_title)  # the waiting time counts up
        elif state != "queued" and self._ticking is not None:
            self._ticking.stop()
            self._ticking = None
        if self.is_mounted:
            self.refresh_title()

    def queued(self, ahead: int) -> None:
        """The model waits for its engine behind ``ahead`` calls; 0: its call has started."""
        self.ahead = ahead
        if self.state in ("waiting", "queued"):
            self.state = "queued" if ahead else "waiting"
            self.refresh_title()

    # --------------------------------------------------------------------------------------- streaming

    async def reset(self) -> None:
        """Back to waiting, for a new run or a retry."""
        self.tokens, self.text, self.error, self.cost_usd = 0, "", None, 0.0
        self._t_start, self._t_first, self._t_end = clock(), None, None
        self._markdown().set_text("")
        self.query_one(".pane-error", Static).update("")
        self.state = "waiting"
        self.refresh_title()

    async def append(self, text: str, tokens: int) -> None:
        """Add streamed text; the Markdown is appended to, not re-rendered."""
        if self._t_start is None:
            self._t_start = clock()
        if self._t_first is None:
            self._t_first = clock()
        self.tokens += tokens
        self.text += text
        self._markdown().append(text)
        self.refresh_title()

    async def set_state(self, state: str, error: str | None = None, cost_usd: float = 0.0) -> None:
        if state in ("done", "failed", "cancelled"):
            self._t_end = clock()
            self._markdown().finish()
        self.cost_usd = cost_usd or self.cost_usd
        self.error = error
        if error:
            self.query_one(".pane-error", Static).update(error)
        self.state = state
        self.refresh_title()

    async def show_text(self, text: str) -> None:
        """Show a finished proposal at once (a past run, read from the database)."""
        self.text = text
        self.tokens = len(text.split())
        self._markdown().set_text(text)

    # ------------------------------------------------------------------------------------------ actions

    def action_maximise(self) -> None:
        self.post_message(self.Action(self.index, "maximise"))

    def action_choose(self) -> None:
        self.post_message(self.Action(self.index, "choose"))

    def action_cancel(self) -> None:
        self.post_message(self.Action(self.index, "cancel"))

    def action_retry(self) -> None:
        self.post_message(self.Action(self.index, "retry"))

    def action_compare(self) -> None:
        self.post_message(self.Action(self.index, "compare"))

    def action_prompts(self) -> None:
        self.post_message(self.Action(self.index, "prompts"))
