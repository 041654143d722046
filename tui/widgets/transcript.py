"""A discussion's transcript: rounds top to bottom, each message under its speaker (one colour per model) with
its model, state, tokens, speed, latency and cost, rendered as Markdown once it is finished; while a round is in
flight its answers stream in as plain text."""

from __future__ import annotations

from rich.markdown import Markdown
from textual.containers import Container, Vertical, VerticalScroll
from textual.widgets import Static

from moot.core.discussion import USER, Round, Said, Status
from moot.core.discussion.export import TITLES, figures
from moot.core.text import terminal_safe

#: How many of a streaming answer's last lines are shown while it streams.
LIVE_LINES = 8


class MessageView(Vertical, can_focus=True):
    """One message: its title (speaker and figures) as the border title, its text inside."""

    def __init__(self, n: int, said: Said, colour: int) -> None:
        super().__init__(classes=f"message -speaker-{colour % 6 + 1}")
        self.n = n
        self.said = said
        self.streamed = ""
        self.body = Static("", markup=False, classes="message-live")
        self.final = Static("", markup=False, classes="message-final")
        """The finished answer as Markdown: one widget, drawn by Rich (a widget per block costs too much per
        answer when six finish at once)."""
        self.shown: str | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield self.body
        yield self.final

    def on_mount(self) -> None:
        self.final.display = False
        self.show(self.said)

    def title(self) -> str:
        return self.title_of(self.said)

    @staticmethod
    def title_of(said: Said) -> str:
        if said.speaker == USER:
            return "you"
        parts = [said.speaker, said.model, figures(said)]
        return terminal_safe(" · ".join(p for p in parts if p))

    def add(self, text: str) -> None:
        """More of the answer, as it streams: its last ``LIVE_LINES`` lines are shown (the whole answer is drawn
        once it is finished), so a long answer costs no more to draw than a short one."""
        self.streamed += text
        lines = self.streamed.splitlines()
        tail = "\n".join(lines[-LIVE_LINES:])
        self.body.update(terminal_safe(("…\n" if len(lines) > LIVE_LINES else "") + tail))  # model text: no escapes

    def show(self, said: Said) -> None:
        """The message as it stands (finished: rendered as Markdown)."""
        self.said = said
        self.border_title = self.title()
        if said.status.finished or said.speaker == USER:
            text = said.text.strip() or (f"*{said.status}: {said.error}*" if said.error else f"*{said.status}*")
            if text != self.shown:  # shown once: a finished answer is not drawn again
                self.shown = text
                self.final.update(Markdown(terminal_safe(text)))
            self.final.display, self.body.display = True, False
        else:
            self.body.update(self.streamed or ("queued…" if said.status == Status.QUEUED else "…"))


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

    def view(self, n: int, speaker: str) -> MessageView | None:
        return self.views.get((n, speaker))
