"""What carrying out a plan publishes: the closed set of run events (``EVENTS``).

The engine (:mod:`moot.agents.execute`) and the run session report every step through one callback with these
small frozen dataclasses; an interface (the command line, the workbench) only renders them, through a table
with one handler per event class (a test checks that none is missing).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CandidateInfo:
    candidate: int
    model: str | None
    """The model carrying out every task of this candidate; None when each task has its routed model."""
    branch: str
    worktree: str


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    candidates: tuple[CandidateInfo, ...]
    resumed: bool = False


@dataclass(frozen=True)
class TaskQueued:
    candidate: int
    task_id: str
    title: str
    role: str
    model: str | None


@dataclass(frozen=True)
class TaskStarted:
    candidate: int
    task_id: str
    model: str
    attempt: int = 0
    """0 for the first try; the retries after a failed edit count up from 1."""


@dataclass(frozen=True)
class TaskText:
    candidate: int
    task_id: str
    delta: str
    tokens: int = 1


@dataclass(frozen=True)
class CallQueued:
    """A step's model call waits for its engine behind ``ahead`` calls; 0 when it has started."""

    candidate: int
    step: str
    """The task id, or ``review``."""
    ahead: int


@dataclass(frozen=True)
class TaskRetrying:
    candidate: int
    task_id: str
    attempt: int
    reason: str
    """What went wrong with the previous answer (sent back to the model)."""


@dataclass(frozen=True)
class TaskDone:
    candidate: int
    task_id: str
    commit: str
    files: tuple[str, ...]
    resumed: bool = False
    """True when the task was done by the interrupted run this one resumes."""
    unlisted: tuple[str, ...] = ()
    """Files the task changed that it did not list: allowed, but the user is told."""


@dataclass(frozen=True)
class TaskFailed:
    candidate: int
    task_id: str
    error: str


@dataclass(frozen=True)
class TaskSkipped:
    candidate: int
    task_id: str
    reason: str


@dataclass(frozen=True)
class TestsStarted:
    __test__ = False
    candidate: int
    command: str
    round: int = 0
    """0 after the tasks, n after debug round n; ``escalation`` runs count on."""


@dataclass(frozen=True)
class TestOutput:
    __test__ = False
    candidate: int
    line: str


@dataclass(frozen=True)
class TestsDone:
    __test__ = False
    candidate: int
    passed: bool
    result: dict[str, Any]


@dataclass(frozen=True)
class DebugStarted:
    """A fix attempt after failing tests; its call reports as task ``task_id`` (``fix-1``, ``escalation``)."""

    candidate: int
    task_id: str
    round: int
    model: str
    escalation: bool = False


@dataclass(frozen=True)
class ReviewStarted:
    candidate: int
    model: str


@dataclass(frozen=True)
class ReviewText:
    """The reviewer wrote ``tokens`` more tokens (its answer is shown parsed, when it is done)."""

    candidate: int
    tokens: int


@dataclass(frozen=True)
class ReviewDone:
    candidate: int
    model: str
    verdict: str | None
    """PASS, CONCERN or BLOCK; None when the review failed (``error``)."""
    review: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True)
class CandidateDone:
    candidate: int
    ok: bool
    tests_passed: bool | None
    diff_lines: int


@dataclass(frozen=True)
class TaskRouted:
    """The router chose the task's model on measured speed (``[router]``), or (``kind`` ``shape``) the shape of
    its local query from the model's record, or sent it to the hosted model when no shape is likely to work."""

    candidate: int
    task_id: str
    model: str
    reason: str
    kind: str = "speed"


@dataclass(frozen=True)
class Note:
    candidate: int | None
    text: str


@dataclass(frozen=True)
class RunDone:
    run_id: str
    state: str
    """ready, failed or interrupted."""
    winner: int | None
    ok: bool


ExecEvent = (
    RunStarted | TaskQueued | TaskStarted | TaskRouted | TaskText | CallQueued | TaskRetrying | TaskDone | TaskFailed
    | TaskSkipped | TestsStarted | TestOutput | TestsDone | DebugStarted | ReviewStarted | ReviewText | ReviewDone
    | CandidateDone | Note | RunDone
)
ProgressSink = Callable[[ExecEvent], None]

#: Every event a run publishes.
EVENTS: tuple[type, ...] = typing.get_args(ExecEvent)
