"""What every part of the run engine shares: its state, the model lookup, and the cancellation point.

The engine (:class:`moot.agents.execute.Engine`) is put together from parts that each own one concern: what a
task's agent is given (:mod:`.task_inputs`), the tests, fixes and review after the tasks (:mod:`.checks`), and
the tasks and candidates themselves (:mod:`.execute`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from moot.core.config.models import Config, ModelConfig
from moot.core.providers.base import Message
from moot.core.storage import Store

from . import runs
from .events import ProgressSink
from .worktree import Worktree


@dataclass
class EditOutcome:
    """What an edit round left: the files it changed, or why it failed."""

    files: list[str] = field(default_factory=list)
    error: str | None = None


class EngineBase:
    """The state every part of the engine reads, and the steps one part asks of another."""

    config: Config
    store: Store
    run: runs.ExecRun
    run_id: str
    repo: Path
    emit: ProgressSink
    first_tests: dict[int, bool]
    """Per candidate: whether the tests passed on their first run, before any fix (what the tasks' models did)."""
    escalated: set[int]
    """The candidates whose failing tests went to the escalation model."""

    def _model(self, alias: str | None) -> ModelConfig | None:
        return self.config.model(alias) if alias else None

    def _effort(self, kind: str) -> str | None:
        """The ``[effort_policy]`` effort for a kind of call (``implementation``, ``debugging``…), if any."""
        return getattr(self.config.effort_policy, kind, None) if kind else None

    async def _context(self, wt: Worktree, text: str, files: Sequence[str], role: str, model: ModelConfig,
                       cand: int, budget: int | None = None) -> tuple[str, list[str]]:
        raise NotImplementedError

    async def _grammar(self, wt: Worktree, model: ModelConfig, files: Sequence[str], shown: Sequence[str],
                       cand: int) -> str | None:
        raise NotImplementedError

    async def _edit_round(self, cand: int, wt: Worktree, label: str, model: ModelConfig, messages: list[Message],
                          phase: str, on_retry: Callable[[int, str], None],
                          grammar: Callable[[], Awaitable[str | None]] | None = None) -> EditOutcome:
        raise NotImplementedError


def cancel_point() -> None:
    """Raise CancelledError if this task was asked to stop: a cancellation that reached an awaited call just
    as it finished can be absorbed on the way (``asyncio.wait_for`` in Python 3.11), and the run must still
    stop before its next step."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
