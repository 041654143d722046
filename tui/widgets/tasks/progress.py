"""The engine's progress as workbench messages: every event as it is, and agents' text batched.

A model streams a token at a time; a message per token would re-render the output many times a frame. The
text is buffered per task and posted when ``flush`` is called (the run screen calls it on a timer) and
before any other event, so the order of text and states is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message

from moot.agents.execute import TaskText


@dataclass
class ExecProgress(Message, bubble=False):
    """One of the engine's progress events (``moot.agents.execute``), other than text."""

    event: Any


@dataclass
class TaskOutput(Message, bubble=False):
    """More of the answer of one task's model."""

    candidate: int
    task_id: str
    text: str


class ExecBridge:
    """The engine's ``on_progress``: posts ``ExecProgress`` and batched ``TaskOutput`` through ``post``."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self.post = post
        self._text: dict[tuple[int, str], list[str]] = {}

    def __call__(self, event: Any) -> None:
        if isinstance(event, TaskText):
            self._text.setdefault((event.candidate, event.task_id), []).append(event.delta)
            return
        self.flush()
        self.post(ExecProgress(event))

    def flush(self) -> None:
        """Post the buffered text of every task."""
        for (candidate, task_id), pieces in list(self._text.items()):
            if pieces:
                self.post(TaskOutput(candidate, task_id, "".join(pieces)))
        self._text.clear()
