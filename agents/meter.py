"""What a long step has done so far: how long it has run, how many tokens its model has written, or where its
call waits in its engine's queue. The workbench and ``moot run`` show the same words.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from moot.core.events import Event, Queued, Started, TextDelta


def clock() -> float:
    """The meters' clock; tests replace it to make the figures deterministic."""
    return time.monotonic()


@dataclass
class Meter:
    """One step: splitting the plan, a task, the tests, the review."""

    label: str
    """What the step is, e.g. ``smollm2 splits the plan into tasks``."""
    started: float = field(default=0.0)
    tokens: int = 0
    ahead: int = 0
    """While its call waits for its engine: how many calls are ahead of it."""

    def __post_init__(self) -> None:
        self.started = self.started or clock()

    def queued(self, ahead: int) -> None:
        """The call waits behind ``ahead`` calls; 0 when it starts (the time counts from there)."""
        if bool(ahead) != bool(self.ahead):  # into the queue, or out of it: the time counts anew
            self.started = clock()
        self.ahead = ahead

    def add(self, tokens: int) -> None:
        self.tokens += tokens

    def on_event(self, ev: Event) -> None:
        """Follow one of the step's model events."""
        if isinstance(ev, Queued):
            self.queued(ev.ahead)
        elif isinstance(ev, Started):
            self.queued(0)
        elif isinstance(ev, TextDelta):
            self.add(ev.tokens)

    @property
    def seconds(self) -> float:
        return max(0.0, clock() - self.started)

    def figures(self) -> str:
        """``queued · 2 ahead · 14 s``, or ``143 tok · 12 s`` (tokens only once there are any)."""
        if self.ahead:
            return f"queued · {self.ahead} ahead · {self.seconds:.0f} s"
        return (f"{self.tokens} tok · " if self.tokens else "") + f"{self.seconds:.0f} s"

    def text(self) -> str:
        return f"{self.label} · {self.figures()}"
