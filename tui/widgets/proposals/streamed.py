"""Markdown that streams in cheaply.

Six models at hundreds of tokens a second must not make every frame expensive, so a proposal is one line-based
widget of a fixed size: nothing around it is laid out again while text arrives. The text is cut at paragraph
breaks outside code fences; each finished paragraph is rendered to lines once, on its own (so the lines do not
depend on how the text arrived; again only when the width changes), and only the short paragraph still being
written is re-rendered. A frame then repaints just the lines that changed, unless the view follows the stream
and moves (by half a page at a time).

Rendering is not done when text arrives but a slice at a time (``SLICE_S``, every ``EVERY_S``), shared fairly
by every view with text waiting: a typed key goes through several hops of the event loop before its frame is
painted, and each hop would otherwise wait behind a whole batch of paragraphs being rendered.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Protocol

from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

FENCE = "```"
SLICE_S = 0.004
"""The longest the views render before the event loop gets a turn (at least one paragraph is rendered)."""
EVERY_S = 0.008
"""How often a slice starts while text is waiting to be rendered."""


_PARSER: Any = None
_DEFAULTS: dict[str, Any] = {}


def _markdown(text: str) -> Any:
    """A rich Markdown renderable; imported on first use (its parser and highlighter are slow to import, and
    the workbench paints its first frame without them).

    Every paragraph is its own renderable, and building one builds a new Markdown parser each time (some
    milliseconds: the link matcher compiles its patterns), so one parser is made once and shared: the
    renderable takes the attributes a blank one has, with this text parsed."""
    global _PARSER
    from rich.markdown import Markdown

    if _PARSER is None:
        from markdown_it import MarkdownIt

        _DEFAULTS.update(vars(Markdown("")))
        _PARSER = MarkdownIt().enable("strikethrough").enable("table")
    md = Markdown.__new__(Markdown)
    md.__dict__.update(_DEFAULTS, markup=text, parsed=_PARSER.parse(text))
    return md


def paragraph_cuts(text: str, start: int) -> list[int]:
    """The ends of the finished paragraphs after ``start`` (itself outside any code fence), in order: just past
    each blank line that is not inside a code fence."""
    cuts = []
    inside = False
    pos = start
    while (br := text.find("\n\n", pos)) != -1:
        inside ^= text.count(FENCE, pos, br) % 2 == 1
        if not inside:
            cuts.append(br + 2)
        pos = br + 2
    return cuts


def markdown_lines(console: Any, source: str, width: int) -> list[Strip]:
    """``source`` as Markdown lines ``width`` cells wide without blank lines around them, followed by one blank
    line: paragraphs rendered one by one are one blank line apart."""
    if not source.strip() or width <= 0:
        return []
    options = console.options.update_width(width)
    lines = console.render_lines(_markdown(source), options, pad=False)
    blank = [not "".join(seg.text for seg in line).strip() for line in lines]
    first = blank.index(False) if False in blank else len(lines)  # lists start with a blank line
    last = len(blank) - blank[::-1].index(False) if False in blank else first
    return [Strip(line).adjust_cell_length(width) for line in lines[first:last]] + [Strip.blank(width)]


class Catching(Protocol):
    """What the renderer works through: a view that renders what is waiting, a slice at a time."""

    @property
    def is_attached(self) -> bool: ...

    def catch_up(self, deadline: float) -> bool:
        """Render until ``deadline`` (at least one piece); whether everything is rendered."""


class _Renderer:
    """An app's views with text waiting to be rendered, worked through a slice at a time, in turn."""

    def __init__(self, app: Any) -> None:
        self.views: dict[Catching, None] = {}
        """In the order they get their next turn."""
        self.timer = app.set_interval(EVERY_S, self._slice, name="markdown-render", pause=True)

    def add(self, view: Catching) -> None:
        if not self.views:
            self.timer.resume()
        self.views.setdefault(view)

    def _slice(self) -> None:
        deadline = time.perf_counter() + SLICE_S
        for view in list(self.views):
            del self.views[view]
            if view.is_attached and not view.catch_up(deadline):
                self.views[view] = None  # more to do: to the back of the line
            if time.perf_counter() >= deadline:
                break
        if not self.views:
            self.timer.pause()


_RENDERERS: weakref.WeakKeyDictionary[Any, _Renderer] = weakref.WeakKeyDictionary()


def renderer(app: Any) -> _Renderer:
    """The app's one renderer: views with text waiting take turns, a slice at a time."""
    if (found := _RENDERERS.get(app)) is None:
        found = _RENDERERS[app] = _Renderer(app)
    return found


class StreamedMarkdown(ScrollView, can_focus=False):
    """Markdown text that grows by appends. Reports the user's scrolling so linked panes can follow."""

    DEFAULT_CSS = """
    StreamedMarkdown {
        height: 1fr;
        background: transparent;
        overflow-x: hidden;
        overflow-y: scroll;  /* always there: a scrollbar appearing mid-stream would re-wrap every line */
        scrollbar-size-vertical: 1;
    }
    """

    class Scrolled(Message):
        def __init__(self, scroll: StreamedMarkdown, fraction: float) -> None:
            super().__init__()
            self.scroll = scroll
            self.fraction = fraction

    following = False
    """Set while this view is being moved to follow another, so it does not echo the movement back."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.text = ""
        self._settled = 0
        """How much of ``text`` is rendered in finished paragraphs."""
        self._rendered = 0
        """How much of ``text`` is rendered (the finished paragraphs and the tail)."""
        self._finished = False
        """The text is complete: its last paragraph is finished too."""
        self._queued = False
        """Text or its end has arrived that is not rendered yet."""
        self._width = 0
        """The width the lines were rendered at (0 before the first layout)."""
        self._done: list[Strip] = []
        """The finished paragraphs' lines."""
        self._tail: list[Strip] = []
        """The lines of the paragraph still being written."""
        self._style: Style | None = None
        self._shown_height = 0
        """How many lines of text there were at the last repaint (the scroll range may add blank room)."""
        self._styled: dict[tuple[int, int], Strip] = {}
        """Finished lines as painted (cropped to the width, in the widget's style)."""

    # ---------------------------------------------------------------------------------------- rendering

    def _lines_of(self, source: str) -> list[Strip]:
        return markdown_lines(self.app.console, source, self._width)

    def _paragraphs(self, start: int, end: int) -> list[Strip]:
        """The lines of the finished paragraphs between ``start`` and ``end``, each rendered on its own."""
        lines: list[Strip] = []
        for cut in [c for c in paragraph_cuts(self.text[:end], start) if c < end] + [end]:
            lines += self._lines_of(self.text[start:cut])
            start = cut
        return lines

    def _rerender(self) -> None:
        """Every line again, at a new width."""
        self._width = self.scrollable_content_region.width
        self._styled.clear()
        self._done = self._paragraphs(0, self._settled)
        self._tail = self._lines_of(self.text[self._settled:])
        self._rendered = len(self.text)
        self._shown_height = self._content_height()
        self._resize()
        self.refresh()
        self._queued = self._finished and self._settled < len(self.text)
        if self._queued:  # the last paragraph of a finished text is still the tail
            renderer(self.app).add(self)

    def _content_height(self) -> int:
        return len(self._done) + len(self._tail)

    def _resize(self, height: int | None = None) -> None:
        """The scroll range: the content's lines, or ``height`` (more, with blank room below while following)."""
        size = Size(self._width, self._content_height() if height is None else height)
        # Only this view's scroll range changes; its own size does not. Setting ``virtual_size`` the usual way
        # lays out the whole screen again (several times a second per pane while six models stream), so the
        # value is set quietly and the scrollbar is updated directly.
        self.set_reactive(StreamedMarkdown.virtual_size, size)
        self._scroll_update(size)

    def on_resize(self) -> None:
        if not self._width:
            # The scrollbar is made by the first layout but takes its styles only at the next style update:
            # that would be the pane's first state change mid-stream, and it lays out the whole screen again.
            self.app.update_styles(self.vertical_scrollbar)
        if self.scrollable_content_region.width != self._width:
            self._rerender()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._styled.clear()

    def render_line(self, y: int) -> Strip:
        if self._style is None:
            self._style = self.rich_style  # walks every ancestor: once per style change, not once per line
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        done = len(self._done)
        if index < done:
            key = (index, width)
            if (strip := self._styled.get(key)) is None:
                strip = self._styled[key] = self._done[index].crop_extend(0, width, self._style).apply_style(
                    self._style)
            return strip
        if index - done < len(self._tail):
            return self._tail[index - done].crop_extend(0, width, self._style).apply_style(self._style)
        return Strip.blank(width, self._style)

    # -------------------------------------------------------------------------------------- the stream

    def _following(self) -> bool:
        """Whether new text should scroll the view: only for a reader at the bottom of a view on screen (a
        hidden tab's view starts at the top when it is opened)."""
        shown = all(node.display for node in self.ancestors_with_self)  # a hidden tab keeps its old size
        return bool(self.size.height) and shown and self.scroll_y >= self.max_scroll_y - 1

    def _grow(self, changed_from: int) -> None:
        """Lines from ``changed_from`` on are new or different: repaint them, and follow if the reader was at
        the bottom.

        Following keeps the last line at the bottom of the view, with no blank room below it, so as much of the
        text as fits stays in sight (moving in half pages left nine blank rows under the text while its beginning
        scrolled away). The view moves only when a new line arrives, not with every piece of a line."""
        following = self._following()
        old_height = self.virtual_size.height
        old_content, content = self._shown_height, self._content_height()
        self._shown_height = content
        page = self.size.height
        height = content
        top = round(self.scroll_y)
        if following and content > page and content > top + page:
            top = content - page
        if height != old_height:
            self._resize(height)
        if top != round(self.scroll_y):
            self.scroll_to(y=top, animate=False, immediate=True)
        self.refresh_lines(changed_from, max(content, old_content) - changed_from)  # not the blank room below

    def _settle(self) -> None:
        """The text is complete: no more room below it; a follower sees it end at the bottom."""
        content = self._content_height()
        if self._width <= 0 or self.virtual_size.height == content:
            return
        following = self._following()
        self._resize(content)
        if following:
            self.scroll_to(y=max(0, content - self.size.height), animate=False, immediate=True)
        self.refresh()

    @property
    def behind(self) -> bool:
        """Whether text has arrived that is not rendered yet."""
        return self._width > 0 and self._queued

    def append(self, text: str) -> None:
        """Add text; it is rendered within a few milliseconds, a slice at a time (see ``catch_up``)."""
        self.text += text
        self._finished = False
        self._queue()

    def finish(self) -> None:
        """The text is complete: the last paragraph is finished too."""
        self._finished = True
        self._queue()

    def _queue(self) -> None:
        self._queued = True
        if self._width > 0:  # else rendered at the first layout
            renderer(self.app).add(self)

    def catch_up(self, deadline: float) -> bool:
        """Render the text that has arrived, a finished paragraph at a time until ``deadline`` (at least one),
        then the paragraph still being written; repaint what changed. Returns whether everything is rendered."""
        changed_from = len(self._done)
        cuts = paragraph_cuts(self.text, self._settled)
        if self._finished and self.text[cuts[-1] if cuts else self._settled:]:
            cuts.append(len(self.text))
        complete = True
        for n, cut in enumerate(cuts):
            if n and time.perf_counter() >= deadline:
                complete = False
                break
            self._done += self._lines_of(self.text[self._settled:cut])
            self._settled = cut
        if cuts:
            self._tail = []  # its text is among the finished paragraphs now
            self._rendered = self._settled
        if complete and self._rendered < len(self.text):
            self._tail = self._lines_of(self.text[self._settled:])
            self._rendered = len(self.text)
        self._grow(changed_from)
        if complete and self._finished:
            self._settle()
        self._queued = not complete
        return complete

    def set_text(self, text: str) -> None:
        """Replace everything (a past run, or a reset), rendered at once."""
        self.text, self._settled, self._rendered, self._finished = text, len(text), len(text), bool(text)
        self._queued = False
        self._done, self._tail = [], []
        self._styled.clear()
        self.scroll_to(y=0, animate=False, immediate=True)
        if self._width > 0:
            self._rerender()

    # ------------------------------------------------------------------------------------------ linking

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if not self.following and self.max_scroll_y:
            self.post_message(self.Scrolled(self, new / self.max_scroll_y))


