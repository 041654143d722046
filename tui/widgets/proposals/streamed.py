"""Markdown that streams in cheaply.

Six models at hundreds of tokens a second must not make every frame expensive. The text is cut at paragraph
breaks outside code fences: each finished paragraph is rendered once into a line-based log (a ``RichLog``: a
frame draws only the visible lines, and nothing is laid out again), and only the short paragraph still being
written is re-rendered, in a small ``Static`` under the log.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import RichLog, Static

FENCE = "```"


def _markdown(text: str) -> Any:
    """A rich Markdown renderable; imported on first use (its parser and highlighter are slow to import, and
    the workbench paints its first frame without them)."""
    from rich.markdown import Markdown

    return Markdown(text)


def stable_cut(text: str, start: int) -> int:
    """The end of the last finished paragraph after ``start``: just past a blank line that is not inside a
    code fence. ``start`` when there is none."""
    pos = text.rfind("\n\n", start)
    while pos != -1:
        if text.count(FENCE, 0, pos) % 2 == 0:  # outside any fence
            return pos + 2
        pos = text.rfind("\n\n", start, pos)
    return start


class ProposalScroll(RichLog, can_focus=False):
    """The finished paragraphs; reports the user's scrolling so linked panes can follow."""

    class Scrolled(Message):
        def __init__(self, scroll: ProposalScroll, fraction: float) -> None:
            super().__init__()
            self.scroll = scroll
            self.fraction = fraction

    following = False
    """Set while this log is being moved to follow another, so it does not echo the movement back."""

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if not self.following and self.max_scroll_y:
            self.post_message(self.Scrolled(self, new / self.max_scroll_y))


class StreamedMarkdown(Vertical):
    """Markdown text that grows by appends: a log of finished paragraphs and the live tail."""

    DEFAULT_CSS = """
    StreamedMarkdown { height: 1fr; }
    StreamedMarkdown > ProposalScroll {
        height: auto;
        max-height: 75%;  /* long text scrolls here; the live tail stays in view under it */
        background: transparent;
        overflow-x: hidden;
        overflow-y: auto;
    }
    StreamedMarkdown > .tail { height: auto; max-height: 50%; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.text = ""
        self._settled = 0
        """How much of ``text`` is in the log as finished paragraphs."""

    def compose(self) -> ComposeResult:
        yield ProposalScroll(wrap=True, markup=False, highlight=False, auto_scroll=False)
        yield Static("", classes="tail")

    @staticmethod
    def _following(log: ProposalScroll) -> bool:
        """Whether new text should scroll the log: only for a reader at the bottom of a log on screen (a
        hidden tab's log starts at the top when it is opened)."""
        return bool(log.size.height) and log.scroll_y >= log.max_scroll_y - 1

    def append(self, text: str) -> None:
        self.text += text
        log = self.query_one(ProposalScroll)
        cut = stable_cut(self.text, self._settled)
        if cut > self._settled:
            following = self._following(log)
            log.write(_markdown(self.text[self._settled:cut]), scroll_end=following)
            self._settled = cut
        tail = self.text[self._settled:]
        self.query_one(".tail", Static).update(_markdown(tail) if tail.strip() else "")

    def finish(self) -> None:
        """The text is complete: move the tail into the log, so all of it scrolls together."""
        if self._settled < len(self.text):
            log = self.query_one(ProposalScroll)
            following = self._following(log)
            log.write(_markdown(self.text[self._settled:]), scroll_end=following)
            self._settled = len(self.text)
            self.query_one(".tail", Static).update("")

    def set_text(self, text: str) -> None:
        """Replace everything (a past run, or a reset)."""
        self.query_one(ProposalScroll).clear()
        self.text, self._settled = "", 0
        self.query_one(".tail", Static).update("")
        if text:
            self.append(text)
            self.finish()
