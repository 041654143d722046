"""Progress of a planning run on stderr: one status line per proposer (its state, tokens so far and seconds, or
its place in its engine's queue), rewritten in place on a terminal; plain lines (state changes, every 100
tokens, done/failed) otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from moot.core.ensemble import Progress
from moot.core.events import Done, Error, Queued, Started, TextDelta, ThinkingDelta
from moot.core.text import control, terminal_safe
from moot.core.words import plural


class ProgressPrinter:
    def __init__(self, names: list[str], stream: TextIO | None = None):
        self.out = stream or sys.stderr
        self.names = names
        self.tokens = [0] * len(names)
        self.state = ["waiting"] * len(names)
        self.ahead = [0] * len(names)
        self.since = [time.monotonic()] * len(names)
        """When each line's state began (its queued or running time counts from there)."""
        self.judge_tokens = 0
        self.live = self.out.isatty()
        self._drawn = 0
        self._last = 0.0

    def _line(self, i: int) -> str:
        seconds = time.monotonic() - self.since[i]
        if self.state[i] == "queued":
            return f"  {self.names[i]:<28} queued     {self.ahead[i]} ahead, {seconds:.0f} s"
        return f"  {self.names[i]:<28} {self.state[i]:<10} {self.tokens[i]:>6} tok  {seconds:5.1f} s"

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        if self._drawn:
            control(self.out, f"\x1b[{self._drawn}F")
        lines = [self._line(i) for i in range(len(self.names))]
        for line in lines:
            control(self.out, "\x1b[2K")
            self.out.write(terminal_safe(line) + "\n")
        self._drawn = len(lines)
        self.out.flush()

    def say(self, text: str) -> None:
        self._drawn = 0 if self.live else self._drawn  # a note ends the live block; the next draw starts anew
        print(text, file=self.out, flush=True)

    def __call__(self, p: Progress) -> None:
        self.phases[p.phase](p)

    @property
    def phases(self) -> dict[str, Callable[[Progress], None]]:
        """What each of the engine's phases (``ensemble.Phase``, keyed by value) prints; a test checks that
        every phase has its entry."""
        return {"run": self._on_run, "judge": self._on_judge, "propose": self._on_proposal,
                "rank": lambda p: None}  # rankers' ballots are printed with the result

    def _on_run(self, p: Progress) -> None:
        if p.note:
            self.say(f"moot: {p.note}…")

    def _on_judge(self, p: Progress) -> None:
        if isinstance(p.event, TextDelta | ThinkingDelta):
            self.judge_tokens += p.event.tokens if isinstance(p.event, TextDelta) else 1
        elif isinstance(p.event, Queued):
            self.say(f"  judge queued: {p.event.ahead} ahead on its engine")
        elif isinstance(p.event, Error):
            self.say(f"  judge failed: {p.event.message}")
        elif isinstance(p.event, Done):
            self.say(f"  judge done, {plural(self.judge_tokens, 'token')}")

    def _on_proposal(self, p: Progress) -> None:
        if p.index is None:
            return
        i, ev = p.index, p.event
        before, ahead = self.state[i], self.ahead[i]
        if isinstance(ev, TextDelta | ThinkingDelta):
            self.state[i] = "streaming"
            self.tokens[i] += ev.tokens if isinstance(ev, TextDelta) else 1
        elif isinstance(ev, Queued):
            self.state[i], self.ahead[i] = "queued", ev.ahead
        elif isinstance(ev, Started):
            self.state[i] = "started"
        elif isinstance(ev, Done):
            self.state[i] = "done"
        elif isinstance(ev, Error):
            self.state[i] = "cancelled" if ev.kind == "cancelled" else "failed"
        changed = self.state[i] != before or self.ahead[i] != ahead
        if self.state[i] != before and self.state[i] in ("queued", "started"):
            self.since[i] = time.monotonic()
        if self.live:
            self._draw(force=changed)
            return
        if changed or (self.state[i] == "streaming" and self.tokens[i] % 100 == 0):
            line = self._line(i)
            if isinstance(ev, Error):
                line += f": {ev.kind}: {ev.message}"
            self.say(line)

    def finish(self) -> None:
        if self.live:
            self._draw(force=True)
