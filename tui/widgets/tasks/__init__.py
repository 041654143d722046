"""The task list of a run: tasks with their role, model and live state, and the selected task's output."""

from .list import TaskList
from .model import STATE_ICONS, TaskItem
from .progress import ExecBridge, ExecProgress, TaskOutput

__all__ = ["STATE_ICONS", "ExecBridge", "ExecProgress", "TaskItem", "TaskList", "TaskOutput"]
