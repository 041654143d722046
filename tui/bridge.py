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
from typing import TYPE_CHECKING, Any

from textual.message import Message

from moot.core.events import Done, Error, Perf, Queued, Started, TextDelta, ThinkingDelta, Usage

from .messages import JudgeState, JudgeText, ProposalState, ProposalText

if TYPE_CHECKING:
    from moot.core.ensemble import Progress

JUDGE = -1


def _ignore(p: Progress) -> None:
    """Rankers' text is not shown: their ballots appear with the synthesis."""


def _ignore_event(source: int, ev: Any) -> None:
    pass
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
        # What each of the engine's phases (``ensemble.Phase``, keyed by value), run steps and call events does
        # here; a test checks that every one has its entry.
        self.phases: dict[str, Callable[[Progress], object]] = {
            "propose": self._on_call, "judge": self._on_call, "rank": _ignore, "run": self._on_run}
        self.steps: dict[str, Callable[[Progress], object]] = {
            "ranking": lambda p: self.post(JudgeState("ranking", p.note)),
            "judging": lambda p: self.post(JudgeState("waiting", p.note))}
        self.events: dict[type, Callable[[int, Any], object]] = {
            TextDelta: self._on_text, Queued: lambda s, ev: self._state(s, "queued", ahead=ev.ahead),
            Started: lambda s, ev: self._state(s, "waiting", ahead=0), Done: self._on_done, Error: self._on_error,
            ThinkingDelta: _ignore_event,  # a model's thinking is not shown in the panes
            Usage: _ignore_event, Perf: _ignore_event}  # the figures come with the result

    def __call__(self, p: Progress) -> None:
        self.phases[p.phase](p)

    def _on_run(self, p: Progress) -> None:
        if p.step is not None:
            self.steps[p.step](p)

    def _on_call(self, p: Progress) -> None:
        source = JUDGE if p.phase == "judge" else p.index
        if source is None or p.event is None:
            return
        self.events[type(p.event)](source, p.event)

    def _on_text(self, source: int, ev: TextDelta) -> None:
        if source not in self._started:
            self._started.add(source)
            self._state(source, "streaming")
        self._text.setdefault(source, []).append(ev.text)
        self._tokens[source] = self._tokens.get(source, 0) + ev.tokens

    def _on_done(self, source: int, ev: Done) -> None:
        self.flush(source)
        self._state(source, "done")

    def _on_error(self, source: int, ev: Error) -> None:
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
