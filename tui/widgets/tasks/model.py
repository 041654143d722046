"""What the task list shows of each task: plain data, kept apart from the widgets that draw it."""

from __future__ import annotations

from dataclasses import dataclass

#: Each state's icon, in the order a task goes through them.
STATE_ICONS = {"queued": "·", "running": "▶", "retrying": "↻", "done": "✓", "failed": "✗", "skipped": "↷",
               "interrupted": "■"}
#: Each state's colour, as a theme variable.
STATE_STYLES = {"queued": "$foreground-muted", "running": "$text-primary", "retrying": "$text-warning",
                "done": "$text-success", "failed": "$text-error", "skipped": "$foreground-muted",
                "interrupted": "$text-warning"}

Key = tuple[int, str]
"""A task's key: its candidate and its id."""


@dataclass
class TaskItem:
    """One row of the task list."""

    candidate: int
    task_id: str
    title: str
    role: str
    model: str
    state: str = "queued"
    attempts: int = 0
    """How many times the model has been asked (0 before the first try)."""
    output: str = ""
    """Everything the task's model wrote, with a note line for each retry."""
    note: str = ""
    """Why the task failed or was skipped, or the commit it made."""

    @property
    def key(self) -> Key:
        return self.candidate, self.task_id
