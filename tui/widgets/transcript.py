"""A discussion's transcript: rounds top to bottom, each message under its speaker (one colour per model) with
its model, state, tokens, speed, latency and cost, rendered as Markdown once it is finished; while a round is in
flight its answers stream in as plain text.

A message is one line-based widget: six answers finishing at once (or a whole stored discussion reopened) must
not stall the screen, so a finished answer is rendered a paragraph at a time by the renderer the proposals
share, in slices of a few milliseconds, and its lines are swapped in when they are all ready."""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text
from textual.containers import Container, VerticalScroll
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from moot.core.discussion import USER, Digest, Round, Said, Status
from moot.core.discussion.export import TITLES, figures
from moot.core.text import terminal_safe

from .proposals.streamed import markdown_lines, paragraph_cuts, renderer

#: How many of a streaming answer's last lines are shown while it streams.
LIVE_LINES = 8


class MessageView(Widget, can_focus=True):
    """One message: its title (speaker and figures) as the border title, its text inside."""

    DEFAULT_CSS = "MessageView { height: auto; }"

    def __init__(self, n: int, said: Said, colour: int, **kw: object) -> None:
        super().__init__(classes=f"message -speaker-{colour % 6 + 1}", **kw)  # type: ignore[arg-type]
        self.n = n
        self.said = said
        self.streamed = ""
        self.shown: str | None = None
        """The finished message's Markdown source (safe for a terminal), once it is finished."""
        self._lines: list[Strip] = []
        """What is drawn."""
        self._width = 0
        """The width ``_lines`` were made for."""
        self._drawn: tuple[str | None, int] = (None, 0)
        """The source and width of the Markdown lines in ``_lines``."""
        self._building: list[Strip] = []
        self._at = 0
        """How much of ``shown`` is rendered into ``_building``."""
        self._style: Style | None = None

    def on_mount(self) -> None:
        self.show(self.said)

    def title(self) -> str:
        return self.title_of(self.said)

    @staticmethod
    def title_of(said: Said) -> str:
        if said.speaker == USER:
            return "you"
        parts = [said.speaker, said.model, figures(said)]
        return terminal_safe(" · ".join(p for p in parts if p))

    @property
    def drawn(self) -> bool:
        """Whether what is drawn is the message as it stands (a finished one's Markdown rendered whole)."""
        return self.shown is None or self._drawn == (self.shown, self._width)

    # ------------------------------------------------------------------------------------------- text

    def add(self, text: str) -> None:
        """More of the answer, as it streams: its last ``LIVE_LINES`` lines are shown (the whole answer is drawn
        once it is finished), so a long answer costs no more to draw than a short one."""
        self.streamed += text
        self._live()

    def show(self, said: Said) -> None:
        """The message as it stands (finished: rendered as Markdown)."""
        self.said = said
        self.border_title = self.title()
        if said.status.finished or said.speaker == USER:
            text = said.text.strip() or (f"*{said.status}: {said.error}*" if said.error else f"*{said.status}*")
            text = terminal_safe(text)  # model text: no escapes
            if text != self.shown:  # rendered once: a finished answer is not drawn again
                self.shown = text
                self._render_finished()
        else:
            self._live()

    def _live(self) -> None:
        """The streamed text's last lines, plain (cheap to draw as it changes)."""
        if self.shown is not None or self._width <= 0:
            return
        lines = self.streamed.splitlines()
        tail = "\n".join(lines[-LIVE_LINES:])
        text = ("…\n" if len(lines) > LIVE_LINES else "") + tail if self.streamed else (
            "queued…" if self.said.status == Status.QUEUED else "…")
        console = self.app.console
        rendered = console.render_lines(Text(terminal_safe(text)), console.options.update_width(self._width),
                                        pad=False)
        self._swap([Strip(line) for line in rendered])

    def _render_finished(self) -> None:
        """Start rendering the finished text at the current width; until it is done the old lines stay."""
        if self.shown is None or self._width <= 0 or self.drawn:
            return
        self._building, self._at = [], 0
        renderer(self.app).add(self)

    def catch_up(self, deadline: float) -> bool:
        """Render the finished text a paragraph at a time until ``deadline`` (at least one); swap the lines in
        once every paragraph is rendered. Returns whether it is done."""
        source, width = self.shown, self._width
        if source is None or self._drawn == (source, width):
            return True
        cuts = [*paragraph_cuts(source, self._at), len(source)]
        for n, cut in enumerate(cuts):
            if n and time.perf_counter() >= deadline:
                return False
            if cut > self._at:
                self._building += markdown_lines(self.app.console, source[self._at:cut], width)
                self._at = cut
        while self._building and not self._building[-1].text.strip():
            self._building.pop()  # no blank line under the last paragraph
        self._drawn = (source, width)
        self._swap(self._building or [Strip.blank(width)])
        self._building = []
        return True

    def _swap(self, lines: list[Strip]) -> None:
        grew = len(lines) != len(self._lines)
        self._lines = lines
        self.refresh(layout=grew)

    # ---------------------------------------------------------------------------------------- drawing

    def on_resize(self) -> None:
        width = self.content_size.width
        if width != self._width:
            self._width = width
            if self.shown is not None:
                self._render_finished()
            else:
                self._live()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self._lines))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None

    def render_line(self, y: int) -> Strip:
        if self._style is None:
            self._style = self.rich_style
        width = self.content_size.width
        if y < len(self._lines):
            return self._lines[y].crop_extend(0, width, self._style).apply_style(self._style)
        return Strip.blank(width, self._style)


class DigestView(MessageView):
    """The digest of the early rounds: what every participant is handed instead of them, with its token counts
    (never more than the rounds it replaces)."""

    def __init__(self, digest: Digest) -> None:
        super().__init__(digest.upto, Said(speaker="digest", model=digest.model, text=digest.text), 0, id="digest")
        self.digest = digest
        self.add_class("-digest")

    def title(self) -> str:
        d = self.digest
        rounds = "round 1" if d.upto == 1 else f"rounds 1-{d.upto}"
        return terminal_safe(f"digest of {rounds} · by {d.model} · {d.source_tokens} → {d.tokens} tokens · what the "
                             f"models are handed instead")


#: From this width on, a round in flight shows its answers side by side (like the proposals).
WIDE = 100


class RoundRow(Container):
    """A round's answers: side by side while the round is in flight on a wide screen, stacked otherwise."""


class TranscriptView(VerticalScroll):
    """Every round of the discussion, newest at the bottom."""

    def __init__(self, participants: list[str], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.participants = participants
        self.views: dict[tuple[int, str], MessageView] = {}

    def on_mount(self) -> None:
        self.anchor()  # newest at the bottom, in view as it grows (until the user scrolls up)

    def colour(self, speaker: str) -> int:
        if speaker not in self.participants:
            self.participants.append(speaker)
        return self.participants.index(speaker)

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")

    async def add_round(self, r: Round, *, live: bool = False) -> None:
        """Show round ``r``; ``live`` while it is in flight (its answers side by side when wide)."""
        heading = Static(f"Round {r.n} · {TITLES[r.kind]}", classes="round-title", markup=False)
        views = []
        for said in r.messages:
            view = MessageView(r.n, said, self.colour(said.speaker))
            self.views[(r.n, said.speaker)] = view
            views.append(view)
        row = RoundRow(*views, classes="round-row -live" if live else "round-row", id=f"round-{r.n}")
        await self.mount(heading, row)

    def settle(self, n: int) -> None:
        """Round ``n`` is over: its answers stack like the rest of the transcript."""
        for row in self.query(f"#round-{n}"):
            row.remove_class("-live")

    async def show_digest(self, digest: Digest) -> None:
        """The digest under the last round it condenses (a newer digest takes the old one's place)."""
        await self.query("#digest").remove()
        rows = self.query(f"#round-{digest.upto}")
        await self.mount(DigestView(digest), after=rows.first() if rows else None)

    def view(self, n: int, speaker: str) -> MessageView | None:
        return self.views.get((n, speaker))
