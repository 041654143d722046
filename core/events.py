"""The typed events every provider yields while a model answers.

A provider's stream is a sequence of these: first, from an engine that serves one call at a time, any number of
``Queued`` (how many calls are ahead, each time that changes) and one ``Started`` once the call is on the engine;
then any number of ``TextDelta`` / ``ThinkingDelta``, then at most one ``Usage`` and one ``Perf``, then exactly one
``Done`` or ``Error`` as the last event. A call's time limit counts from ``Started`` (or from the request, for a
backend that reports no queue).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ErrorKind = Literal[
    "auth",  # key missing or rejected
    "not_found",  # the model does not exist / is not pulled
    "rate_limit",  # 429
    "server",  # 5xx
    "connection",  # host down, refused, reset
    "timeout",  # the per-call time limit ran out
    "bad_request",  # 400 and friends: our request was wrong
    "cancelled",  # the caller stopped the stream
    "budget",  # the run's cost limit would be exceeded
    "unavailable",  # the backend is not installed / not configured
    "internal",  # anything else
]


@dataclass(frozen=True, slots=True)
class Queued:
    """The call waits for its engine, behind ``ahead`` other calls."""

    ahead: int


@dataclass(frozen=True, slots=True)
class Started:
    """The call left the queue and is running on its engine: its time limit starts now."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str
    tokens: int = 1
    """How many tokens the piece holds: one as an engine streams it; several when the model worker joined
    pieces that arrived together."""


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """A piece of the model's reasoning, for models that expose it."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts for the whole call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    """The call's price when the backend that streamed it already worked it out (the model worker does)."""


def _rate(count: int, duration_ns: int) -> float:
    return count / (duration_ns / 1e9) if duration_ns > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Perf:
    """Speed figures of a local model, in Ollama's units (counts and nanoseconds).

    Ollama omits fields that are zero, so every field defaults to 0. ``ttft_s`` is measured by moot on the
    client: the time from sending the request to the first token of text.
    """

    prompt_eval_count: int = 0
    prompt_eval_duration: int = 0
    eval_count: int = 0
    eval_duration: int = 0
    load_duration: int = 0
    total_duration: int = 0
    ttft_s: float = 0.0

    @property
    def prompt_eval_rate(self) -> float:
        """Prompt tokens per second."""
        return _rate(self.prompt_eval_count, self.prompt_eval_duration)

    @property
    def eval_rate(self) -> float:
        """Generated tokens per second."""
        return _rate(self.eval_count, self.eval_duration)

    def summary(self) -> dict[str, Any]:
        """The figures as the ``perf`` object of ``moot plan --json``."""
        return {
            "prompt_eval_count": self.prompt_eval_count,
            "prompt_eval_rate": round(self.prompt_eval_rate, 3),
            "eval_count": self.eval_count,
            "eval_rate": round(self.eval_rate, 3),
            "load_s": round(self.load_duration / 1e9, 6),
            "total_s": round(self.total_duration / 1e9, 6),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Done:
    """The answer is complete."""

    finish_reason: str = "stop"


@dataclass(frozen=True, slots=True)
class Error:
    """The call failed. ``retryable`` says whether trying again may help (429, 5xx, connection refused)."""

    kind: ErrorKind
    message: str
    retryable: bool = False
    status: int | None = field(default=None)
    detail: str = field(default="", compare=False)
    """The whole error as the server and the client library reported it, for the call log (``message`` is the
    one line shown); empty when ``message`` says it all."""


Event = Queued | Started | TextDelta | ThinkingDelta | Usage | Perf | Done | Error


class ProviderError(Exception):
    """Raised inside a backend; the provider layer turns it into an ``Error`` event."""

    def __init__(
        self, kind: ErrorKind, message: str, *, retryable: bool = False, status: int | None = None, detail: str = ""
    ):
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.retryable = retryable
        self.status = status
        self.detail = detail

    def to_event(self) -> Error:
        return Error(self.kind, self.message, self.retryable, self.status, self.detail)


def error_for_status(status: int, message: str) -> ProviderError:
    """Classify an HTTP status into an error kind, marking 429, 5xx and 408 as retryable."""
    if status == 429:
        return ProviderError("rate_limit", message, retryable=True, status=status)
    if status in (401, 403):
        return ProviderError("auth", message, status=status)
    if status == 404:
        return ProviderError("not_found", message, status=status)
    if status == 408:
        return ProviderError("timeout", message, retryable=True, status=status)
    if status >= 500:
        return ProviderError("server", message, retryable=True, status=status)
    return ProviderError("bad_request", message, status=status)
