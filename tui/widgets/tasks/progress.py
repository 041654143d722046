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
    tokens: int = 0


class ExecBridge:
    """The engine's ``on_progress``: posts ``ExecProgress`` and batched ``TaskOutput`` through ``post``."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self.post = post
        self._text: dict[tuple[int, str], list[str]] = {}
        self._tokens: dict[tuple[int, str], int] = {}

    def __call__(self, event: Any) -> None:
        if isinstance(event, TaskText):
            key = (event.candidate, event.task_id)
            self._text.setdefault(key, []).append(event.delta)
            self._tokens[key] = self._tokens.get(key, 0) + event.tokens
            return
        self.flush()
        self.post(ExecProgress(event))

    def flush(self) -> None:
        """Post the buffered text of every task."""
        for (candidate, task_id), pieces in list(self._text.items()):
            if pieces:
                tokens = self._tokens.get((candidate, task_id), 0)
                self.post(TaskOutput(candidate, task_id, "".join(pieces), tokens))
        self._text.clear()
        self._tokens.clear()
