"""What a discussion publishes while it runs: a closed set of typed events (``EVENTS``). An interface renders
them and nothing else; a test checks that each has a handler in every interface."""

from __future__ import annotations

from dataclasses import dataclass

from moot.core.events import Event

from .model import Digest, Kind, Round, Said


@dataclass(frozen=True)
class RoundStarted:
    n: int
    kind: Kind
    speakers: tuple[str, ...]


@dataclass(frozen=True)
class Speaking:
    """One event of one speaker's call (text as it streams, usage, perf, queued/started, errors)."""

    n: int
    speaker: str
    event: Event


@dataclass(frozen=True)
class Spoke:
    """A speaker's message is finished (done, failed or cancelled)."""

    n: int
    said: Said


@dataclass(frozen=True)
class RoundDone:
    round: Round
    cancelled: bool = False


@dataclass(frozen=True)
class Digesting:
    """The transcript would pass the smallest window: rounds up to ``upto`` are being condensed."""

    upto: int
    source_tokens: int
    window: int


@dataclass(frozen=True)
class Digested:
    digest: Digest


@dataclass(frozen=True)
class DigestFailed:
    error: str


DiscussionEvent = RoundStarted | Speaking | Spoke | RoundDone | Digesting | Digested | DigestFailed

#: Every event a discussion publishes.
EVENTS: tuple[type, ...] = (RoundStarted, Speaking, Spoke, RoundDone, Digesting, Digested, DigestFailed)
