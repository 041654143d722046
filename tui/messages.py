"""The messages the workbench passes around. The engine's events become these in ``bridge``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from moot.core.ensemble import PlanResult


@dataclass
class ProposalText(Message, bubble=False):
    """New text for proposal ``index`` (a batch of tokens)."""

    index: int
    text: str
    tokens: int


@dataclass
class ProposalState(Message, bubble=False):
    """Proposal ``index`` changed state: queued, waiting, streaming, done, failed, cancelled."""

    index: int
    state: str
    error: str | None = None
    ahead: int | None = None
    """For ``queued``: how many calls are ahead of it on its engine (0: it has just started)."""


@dataclass
class JudgeText(Message, bubble=False):
    text: str
    tokens: int


@dataclass
class JudgeState(Message, bubble=False):
    state: str
    """queued, waiting, ranking, streaming, done, failed."""
    note: str | None = None
    ahead: int | None = None
    """For ``queued``: how many calls are ahead of it on its engine."""


@dataclass
class RunFinished(Message, bubble=False):
    result: PlanResult


@dataclass
class ReuseTask(Message, bubble=False):
    """Put a past run's task into the prompt."""

    task: str
