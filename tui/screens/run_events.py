"""How the run screen shows a run's events: one handler per event class (``HANDLERS``), so an event the engine
adds without a handler here fails a test instead of vanishing from the screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.widgets import Log

from moot.agents import events as xe
from moot.agents.meter import Meter

from ..widgets.tasks import TaskItem, TaskList

if TYPE_CHECKING:
    pass


def quote(text: str) -> str:
    """``text`` as a Markdown block quote (moot's own notes in an agent's output)."""
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.strip().splitlines())


def tests_outcome(passed: bool, result: dict[str, Any]) -> str:
    """``passed``, ``failed (exit 1)`` or ``timed out``."""
    if passed:
        return "passed"
    if result.get("timed_out"):
        return "timed out"
    return f"failed (exit {result.get('exit_code')})"


def review_summary(model: str, verdict: str | None, review: dict[str, Any] | None, error: str | None) -> str:
    if error or verdict is None:
        return f"reviewer {model}: the review failed: {error or 'no verdict'}"
    count = len((review or {}).get("findings") or [])
    return f"reviewer {model}: {verdict} · {count} finding{'s' if count != 1 else ''}"


class RunEvents:
    """The run screen's handlers of the engine's events (mixed into ``RunScreen``)."""

    meter: Meter | None
    several: bool
    branches: list[str]
    state: str | None
    phase: str
    _select_after_reset: tuple[int, str] | None

    if TYPE_CHECKING:  # what the screen provides
        def query_one(self, selector: Any, expect_type: Any = None) -> Any: ...
        def notify(self, *args: Any, **kwargs: Any) -> Any: ...
        def _status(self, text: str) -> None: ...
        def _phase_text(self) -> str: ...
        def _progress_text(self) -> str: ...
        def _set_phase(self, phase: str, text: str | None = None) -> None: ...
        def _step(self, label: str) -> Meter: ...
        def _step_label(self, candidate: int, step: str) -> str: ...
        def _follow(self, key: tuple[int, str]) -> None: ...
        def _review_line(self, text: str) -> None: ...
        def _end_step(self, candidate: int, step: str) -> None: ...
        def _who(self, candidate: int | None) -> str: ...

    def show_event(self, ev: Any, tasks: TaskList) -> None:
        HANDLERS[type(ev)](self, ev, tasks)
        if self.phase == "running" and isinstance(ev, (xe.TaskDone, xe.TaskFailed, xe.TaskSkipped, xe.TaskQueued)):
            self._status(self._progress_text())

    def _on_call_queued(self, ev: xe.CallQueued, tasks: TaskList) -> None:
        if self.meter is not None and self.meter.label.startswith(self._step_label(ev.candidate, ev.step)):
            self.meter.queued(ev.ahead)
            self._status(self._phase_text())

    def _on_review_text(self, ev: xe.ReviewText, tasks: TaskList) -> None:
        if self.meter is not None:
            self.meter.add(ev.tokens)
            self._status(self._phase_text())

    def _on_run_started(self, ev: xe.RunStarted, tasks: TaskList) -> None:
        self.several = len(ev.candidates) > 1
        self.branches = [c.branch for c in ev.candidates]
        self._select_after_reset = tasks.selected
        tasks.output.reset()
        tasks.set_items([])
        self._set_phase("running")

    def _on_task_queued(self, ev: xe.TaskQueued, tasks: TaskList) -> None:
        key = (ev.candidate, ev.task_id)
        tasks.upsert(TaskItem(ev.candidate, ev.task_id, ev.title, ev.role, ev.model or "?"))
        if key == self._select_after_reset or tasks.selected is None:
            tasks.select(key)

    def _on_task_started(self, ev: xe.TaskStarted, tasks: TaskList) -> None:
        key = (ev.candidate, ev.task_id)
        item = tasks.get(key)
        if item is None:
            tasks.upsert(TaskItem(ev.candidate, ev.task_id, ev.task_id, "debug", ev.model))
        tasks.update(key, state="running", attempts=ev.attempt + 1, model=ev.model)
        self._step(f"{self._step_label(ev.candidate, ev.task_id)} · {ev.model}")
        self._follow(key)

    def _on_task_routed(self, ev: xe.TaskRouted, tasks: TaskList) -> None:
        key = (ev.candidate, ev.task_id)
        tasks.update(key, model=ev.model)
        how = "shaped from its record" if ev.kind == "shape" else "routed on measured speed"
        tasks.add_note(key, f"{how}: {ev.reason}")

    def _on_task_retrying(self, ev: xe.TaskRetrying, tasks: TaskList) -> None:
        key = (ev.candidate, ev.task_id)
        tasks.update(key, state="retrying", note=ev.reason)
        tasks.add_note(key, quote(f"↻ retry {ev.attempt}: {ev.reason}"))

    def _on_task_done(self, ev: xe.TaskDone, tasks: TaskList) -> None:
        self._end_step(ev.candidate, ev.task_id)
        key = (ev.candidate, ev.task_id)
        tasks.update(key, state="done", note=ev.commit)
        files = f": {', '.join(ev.files)}" if ev.files else ""
        how = "already done by the interrupted run, as" if ev.resumed else "committed as"
        tasks.add_note(key, quote(f"✓ {how} {ev.commit[:10]}{files}"))
        if ev.unlisted:
            tasks.add_note(key, quote(f"⚠ also changed, outside the task's files: {', '.join(ev.unlisted)}"))

    def _on_task_failed(self, ev: xe.TaskFailed, tasks: TaskList) -> None:
        self._end_step(ev.candidate, ev.task_id)
        key = (ev.candidate, ev.task_id)
        tasks.update(key, state="failed", note=ev.error)
        tasks.add_note(key, quote(f"✗ failed: {ev.error}"))

    def _on_task_skipped(self, ev: xe.TaskSkipped, tasks: TaskList) -> None:
        key = (ev.candidate, ev.task_id)
        tasks.update(key, state="skipped", note=ev.reason)
        tasks.add_note(key, quote(f"↷ {ev.reason}"))

    def _on_debug_started(self, ev: xe.DebugStarted, tasks: TaskList) -> None:
        title = "escalation: fix the failing tests" if ev.escalation else f"fix the failing tests (round {ev.round})"
        tasks.upsert(TaskItem(ev.candidate, ev.task_id, title, "debug", ev.model))

    def _on_tests_started(self, ev: xe.TestsStarted, tasks: TaskList) -> None:
        log = self.query_one("#run-tests", Log)
        log.display = True
        log.clear()
        again = f" (after fix round {ev.round})" if ev.round else ""
        log.border_title = f"Tests{again} · {self._who(ev.candidate)}{ev.command}"
        log.border_subtitle = "running"
        self._step(f"{self._who(ev.candidate)}running the tests: {ev.command}")

    def _on_test_output(self, ev: xe.TestOutput, tasks: TaskList) -> None:
        prefix = f"[{ev.candidate}] " if self.several else ""
        self.query_one("#run-tests", Log).write_line(prefix + ev.line)

    def _on_tests_done(self, ev: xe.TestsDone, tasks: TaskList) -> None:
        log = self.query_one("#run-tests", Log)
        log.border_subtitle = tests_outcome(ev.passed, ev.result)
        self.meter = None
        self._status(f"{self._who(ev.candidate)}tests {tests_outcome(ev.passed, ev.result)}")

    def _on_review_started(self, ev: xe.ReviewStarted, tasks: TaskList) -> None:
        self._review_line(f"{self._who(ev.candidate)}reviewer {ev.model} is reading the diff…")
        self._step(f"{self._step_label(ev.candidate, 'review')} · {ev.model}")

    def _on_review_done(self, ev: xe.ReviewDone, tasks: TaskList) -> None:
        self.meter = None
        self._review_line(self._who(ev.candidate) + review_summary(ev.model, ev.verdict, ev.review, ev.error))

    def _on_note(self, ev: xe.Note, tasks: TaskList) -> None:
        self.notify(ev.text, title=f"Candidate {ev.candidate}" if self.several and ev.candidate is not None
                    else "Run")

    def _on_run_done(self, ev: xe.RunDone, tasks: TaskList) -> None:
        self.state = ev.state
        if ev.state == "interrupted":
            for item in list(tasks.items.values()):
                if item.state in ("running", "retrying"):
                    tasks.update(item.key, state="interrupted")
            self._set_phase("interrupted")
            return
        winner = f"candidate {ev.winner} wins · " if self.several and ev.winner is not None else ""
        how = "ready" if ev.ok else "finished with failures"
        self._set_phase("done", f"Run {how}: {winner}Enter opens the diff review, x rejects the run.")

    def _unshown(self, ev: Any, tasks: TaskList) -> None:
        """Events the screen shows otherwise: an agent's text arrives batched as ``TaskOutput``; a candidate's
        end shows in its tasks' states and the run's end."""


#: The handler of every event of ``agents.events``.
HANDLERS: dict[type, Callable[[Any, Any, TaskList], None]] = {
    xe.CallQueued: RunEvents._on_call_queued,
    xe.ReviewText: RunEvents._on_review_text,
    xe.RunStarted: RunEvents._on_run_started,
    xe.TaskQueued: RunEvents._on_task_queued,
    xe.TaskStarted: RunEvents._on_task_started,
    xe.TaskRouted: RunEvents._on_task_routed,
    xe.TaskRetrying: RunEvents._on_task_retrying,
    xe.TaskDone: RunEvents._on_task_done,
    xe.TaskFailed: RunEvents._on_task_failed,
    xe.TaskSkipped: RunEvents._on_task_skipped,
    xe.DebugStarted: RunEvents._on_debug_started,
    xe.TestsStarted: RunEvents._on_tests_started,
    xe.TestOutput: RunEvents._on_test_output,
    xe.TestsDone: RunEvents._on_tests_done,
    xe.ReviewStarted: RunEvents._on_review_started,
    xe.ReviewDone: RunEvents._on_review_done,
    xe.Note: RunEvents._on_note,
    xe.RunDone: RunEvents._on_run_done,
    xe.TaskText: RunEvents._unshown,
    xe.CandidateDone: RunEvents._unshown,
}


def handled_events() -> set[type]:
    return set(HANDLERS)
