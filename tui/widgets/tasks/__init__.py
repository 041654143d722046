"""The task list of a run: tasks with their role, model and live state."""
