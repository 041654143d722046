"""Turning the engine's progress into workbench messages, with tokens batched.

A message per token would be thousands a second with six fast models; instead text is buffered per source
and flushed as one message per source every ``interval`` seconds. State changes flush that source's text first,
so order is kept.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message

from moot.core.ensemble import Progress
from moot.core.events import Done, Error, TextDelta

from .messages import JudgeState, JudgeText, ProposalState, ProposalText

JUDGE = -1


class Bridge:
    """Receives ``Progress`` from the engine (on the app's loop) and posts messages through ``post``."""

    def __init__(self, post: Callable[[Message], object]):
        self.post = post
        self._text: dict[int, list[str]] = {}
        self._started: set[int] = set()

    def __call__(self, p: Progress) -> None:
        if p.phase == "run":
            if p.note and p.note.startswith("ranking"):
                self.post(JudgeState("ranking", p.note))
            elif p.note and p.note.startswith("judging"):
                self.post(JudgeState("waiting", p.note))
            return
        if p.phase == "rank":
            return  # rankers' text is not shown; their ballots appear with the synthesis
        source = JUDGE if p.phase == "judge" else p.index
        if source is None:
            return
        ev = p.event
        if isinstance(ev, TextDelta):
            if source not in self._started:
                self._started.add(source)
                self._state(source, "streaming")
            self._text.setdefault(source, []).append(ev.text)
        elif isinstance(ev, Done):
            self.flush(source)
            self._state(source, "done")
        elif isinstance(ev, Error):
            self.flush(source)
            state = "cancelled" if ev.kind == "cancelled" else "failed"
            self._state(source, state, f"{ev.kind}: {ev.message}")

    def _state(self, source: int, state: str, error: str | None = None) -> None:
        if state != "streaming":
            self._started.discard(source)
        if source == JUDGE:
            self.post(JudgeState(state, error))
        else:
            self.post(ProposalState(source, state, error))

    def flush(self, source: int | None = None) -> None:
        """Post the buffered text (of one source, or all)."""
        for key in [source] if source is not None else list(self._text):
            pieces = self._text.pop(key, None)
            if not pieces:
                continue
            text = "".join(pieces)
            self.post(JudgeText(text, len(pieces)) if key == JUDGE else ProposalText(key, text, len(pieces)))
