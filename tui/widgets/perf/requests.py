"""Requests in flight to local models, as the workbench sees them: tokens so far, live rate, first-token time.

Measured on the client, from the batches of text the screen receives (the same figures the proposal panes
show), so a model that is still loading shows as waiting with its time so far.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


def clock() -> float:
    """The panel's monotonic clock for figures in flight; tests replace it."""
    return time.monotonic()


def wall() -> float:
    """The panel's wall clock (Unix time), for ages and expiries; tests replace it."""
    return time.time()


@dataclass
class InFlight:
    """One request to a local model, from the moment it was sent."""

    index: int
    """The proposal's index (its pane)."""
    alias: str
    model: str
    """The model string, e.g. ``ollama/qwen2.5-coder:7b``."""
    host: str
    """Where it runs: an Ollama base URL, or ``embedded``."""
    variant: str
    started: float
    first: float | None = None
    """When the first text arrived."""
    tokens: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.host, self.model

    @property
    def ttft_s(self) -> float | None:
        """Seconds from sending to the first text."""
        return self.first - self.started if self.first is not None else None

    def rate(self, now: float) -> float | None:
        """Live tokens per second since the first token (as the panes count it); None until there are two."""
        if self.first is None or self.tokens < 2 or now <= self.first:
            return None
        return (self.tokens - 1) / (now - self.first)

    def advance(self, tokens: int, now: float) -> None:
        """The request has produced ``tokens`` tokens so far."""
        if tokens > 0 and self.first is None:
            self.first = now
        self.tokens = tokens
