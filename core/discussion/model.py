"""A discussion as data: a topic, its participants, numbered rounds of messages, a digest of the early rounds
once the transcript outgrows the smallest window, and the judge's conclusion."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from moot.core.providers.base import Message

#: The speaker of a message the user wrote (an ``@name`` message).
USER = "you"


class Kind(StrEnum):
    """What a round is."""

    OPEN = "open"
    """Every participant's first answer to the question."""
    ROUND = "round"
    """Every participant answers the transcript so far."""
    MENTION = "mention"
    """The user wrote to some participants; only they answer."""
    CONCLUSION = "conclusion"
    """The judge's outcome."""


class Status(StrEnum):
    """Where one message stands."""

    QUEUED = "queued"
    STREAMING = "streaming"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (Status.DONE, Status.FAILED, Status.CANCELLED)


@dataclass
class Said:
    """One message of a round: a participant's answer, the user's words, or the judge's conclusion."""

    speaker: str
    model: str = ""
    text: str = ""
    status: Status = Status.DONE
    error: str | None = None
    prompt: list[Message] = field(default_factory=list)
    """The exact messages the model was sent (redacted as stored)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float | None = None
    tokens_per_s: float | None = None
    call_id: int | None = None

    @property
    def heard(self) -> bool:
        """Whether the others see this message in later rounds (what failed or was cut off is left out)."""
        return self.status == Status.DONE and bool(self.text.strip())


@dataclass
class Round:
    n: int
    kind: Kind
    messages: list[Said] = field(default_factory=list)

    def by(self, speaker: str) -> Said | None:
        return next((m for m in self.messages if m.speaker == speaker), None)


@dataclass
class Digest:
    """What rounds 1..``upto`` said, condensed by a model, handed over instead of those rounds."""

    upto: int
    text: str
    source_tokens: int
    tokens: int
    model: str


@dataclass
class Discussion:
    id: str
    topic: str
    participants: list[str]
    """Model aliases, in speaking order."""
    sequential: bool = False
    context: str | None = None
    """The question's scoped repository context, handed over once, in the first round."""
    rounds: list[Round] = field(default_factory=list)
    digest: Digest | None = None
    conclusion: Said | None = None

    @property
    def next_n(self) -> int:
        return len(self.rounds) + 1

    def transcript_rounds(self) -> list[Round]:
        """The rounds a participant is shown in full: those after the digest, conclusions left out."""
        upto = self.digest.upto if self.digest else 0
        return [r for r in self.rounds if r.n > upto and r.kind != Kind.CONCLUSION]
