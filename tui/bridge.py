"""Turning the engine's progress into workbench messages, with tokens batched.

A message per token would be thousands a second with six fast models; instead text is buffered per source
and flushed as one message per source about every ``FLUSH_S`` seconds. The flushes are spread out: ``tick``
(called ``TICKS`` times per ``FLUSH_S``) flushes only the source that has waited longest, so six streams reach
the screen one per frame instead of all in one expensive frame that a key press would wait behind. State
changes flush that source's text first, so order is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.message import Message

from moot.core.events import Done, Error, Queued, Started, TextDelta

from .messages import JudgeState, JudgeText, ProposalState, ProposalText

if TYPE_CHECKING:
    from moot.core.ensemble import Progress

JUDGE = -1
FLUSH_S = 0.15
"""How often each stream's text reaches the screen."""
TICKS = 6
"""Ticks per ``FLUSH_S``: call ``tick`` every ``FLUSH_S / TICKS`` seconds."""


class Bridge:
    """Receives ``Progress`` from the engine (on the app's loop) and posts messages through ``post``."""

    def __init__(self, post: Callable[[Message], object]):
        self.post = post
        self._text: dict[int, list[str]] = {}
        self._tokens: dict[int, int] = {}
        self._started: set[int] = set()
        self._flushed: dict[int, float] = {}

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
            self._tokens[source] = self._tokens.get(source, 0) + ev.tokens
        elif isinstance(ev, Queued):
            self._state(source, "queued", ahead=ev.ahead)
        elif isinstance(ev, Started):
            self._state(source, "waiting", ahead=0)
        elif isinstance(ev, Done):
            self.flush(source)
            self._state(source, "done")
        elif isinstance(ev, Error):
            self.flush(source)
            state = "cancelled" if ev.kind == "cancelled" else "failed"
            self._state(source, state, ev.message if state == "cancelled" else f"{ev.kind}: {ev.message}")

    def _state(self, source: int, state: str, error: str | None = None, ahead: int | None = None) -> None:
        if state != "streaming":
            self._started.discard(source)
        if source == JUDGE:
            self.post(JudgeState(state, error, ahead))
        else:
            self.post(ProposalState(source, state, error, ahead))

    def tick(self) -> None:
        """Flush the source that has waited longest, once it has waited half of ``FLUSH_S``."""
        if not self._text:
            return
        now = time.monotonic()
        source = min(self._text, key=lambda k: self._flushed.get(k, 0.0))
        if now - self._flushed.get(source, 0.0) >= FLUSH_S / 2:
            self.flush(source)

    def flush(self, source: int | None = None) -> None:
        """Post the buffered text (of one source, or all)."""
        for key in [source] if source is not None else list(self._text):
            pieces = self._text.pop(key, None)
            if not pieces:
                continue
            self._flushed[key] = time.monotonic()
            text, tokens = "".join(pieces), self._tokens.pop(key, len(pieces))
            self.post(JudgeText(text, tokens) if key == JUDGE else ProposalText(key, text, tokens))
