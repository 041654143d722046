"""Carrying out a plan: the routed tasks first, for the user to check (each task's role and model, how many
candidates); then the run live — each task's state and its agent's output, the tests' output, the reviewer —
and, when it is done, the diff review. A run reopened from the history shows where it stopped, and an
interrupted one carries on from there.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Log, Static
from textual.worker import Worker, get_current_worker

from moot.agents import execute as x
from moot.agents import runs
from moot.agents.meter import Meter
from moot.agents.session import RunSession

from ..widgets.tasks import ExecBridge, ExecProgress, TaskItem, TaskList, TaskOutput
from .base import MootScreen
from .run_events import RunEvents, quote, review_summary, tests_outcome

if TYPE_CHECKING:
    from moot.agents.routing import RoutedTask
    from moot.agents.tasks import Task


FLUSH_S = 0.1
"""How often the agents' buffered text reaches the screen."""

#: What the status line says in each phase (more is added where it helps).
PHASE_TEXT = {
    "splitting": "Splitting the plan into tasks…",
    "confirm": "r role · m model · c candidates · Enter carries them out",
    "running": "Carrying out the tasks…",
    "done": "Done: Enter opens the diff review.",
    "interrupted": "Interrupted: Enter resumes it, x rejects it, Esc leaves it for later.",
    "failed": "The run could not start.",
    "closed": "",
}


def first_line(text: str, limit: int = 90) -> str:
    line = (text.strip().splitlines() or [""])[0].strip()
    return line if len(line) <= limit else line[:limit - 1] + "…"


def describe(rt: RoutedTask) -> str:
    """What the output pane shows for a task before the run: its description, files and why it is routed so."""
    t = rt.task
    parts = [f"**{t.id} · {t.title}**"]
    if t.description.strip():
        parts.append(t.description.strip())
    if t.files:
        parts.append("Files: " + ", ".join(f"`{f}`" for f in t.files))
    if t.depends_on:
        parts.append("After: " + ", ".join(t.depends_on))
    parts.append(f"*{rt.reason}*")
    return "\n\n".join(parts)


class RunScreen(RunEvents, MootScreen[str | None]):
    """One run of a plan. Dismissed with ``accepted`` or ``rejected`` when the run was closed here."""

    CSS_PATH = "run.tcss"
    BINDINGS = [
        Binding("enter", "start", "Carry out", id="exec.start", priority=True,
                tooltip="Carry out these tasks on a branch of their own"),
        Binding("enter", "resume", "Resume", id="exec.resume", priority=True,
                tooltip="Carry on with the interrupted run where it stopped"),
        Binding("enter,d", "review", "Diff review", id="exec.review", priority=True,
                tooltip="Review the run's changes file by file and hunk by hunk"),
        Binding("r", "role", "Role", id="exec.role", tooltip="Change the selected task's role"),
        Binding("m", "model", "Model", id="exec.model", tooltip="Change the model that carries out the selected task"),
        Binding("c", "candidates", "Candidates", id="exec.candidates",
                tooltip="How many models each carry out the whole plan (the tests pick the winner)"),
        Binding("x", "reject", "Reject run", id="exec.reject",
                tooltip="Drop the run: its branch and worktree are removed, your files stay as they are"),
        Binding("escape", "cancel", "Cancel", id="exec.cancel", tooltip="Leave without carrying out the plan"),
        Binding("escape", "interrupt", "Interrupt", id="exec.interrupt",
                tooltip="Stop the run; it is kept as interrupted and can be resumed"),
        Binding("escape", "back", "Back", id="exec.back", tooltip="Back to the previous screen"),
    ]

    def __init__(self, *, plan: str | None = None, task: str = "", plan_run_id: str | None = None,
                 run_id: str | None = None) -> None:
        """A new run of ``plan`` (for ``task``), or the recorded run ``run_id``."""
        super().__init__()
        self.plan, self.task_text, self.plan_run_id = plan, task, plan_run_id
        self.run_id = run_id
        self.phase = "splitting" if plan is not None else "closed"
        self.session: RunSession | None = None
        """The run's lifecycle (``agents.session``), once the screen has the app's config and store."""
        self.several = False
        self.branches: list[str] = []
        self.state: str | None = None
        """The run's recorded state, once known."""
        self._select_after_reset: tuple[int, str] | None = None
        self.meter: Meter | None = None
        """The long step under way (splitting, a task, the tests, the review): its time and tokens so far."""

    def compose(self) -> ComposeResult:
        yield Static("", id="run-header", markup=False)
        yield Static("", id="run-status", markup=False)
        yield TaskList(id="run-tasks")
        yield Log(id="run-tests", max_lines=500)
        yield Static("", id="run-review", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self.query_one("#run-tests").display = False
        self.query_one("#run-review").display = False
        self.query_one(TaskList).table.focus()
        self._header()
        self.session = RunSession(self.moot.loaded.config, self.moot.store, self.moot.loaded.project_dir)
        if self.plan is not None:
            self._set_phase("splitting")
            self.split()
        else:
            self._status("Loading the run…")
            self.load_run()

    # ----------------------------------------------------------------------------------------- display

    def _header(self) -> None:
        who = f"Run {self.run_id}" if self.run_id else "New run"
        self.query_one("#run-header", Static).update(f"{who} · {first_line(self.task_text)}")

    def _status(self, text: str) -> None:
        self.query_one("#run-status", Static).update(text)

    def _tick(self) -> None:
        """Once a second while a step is under way: its time counts up on the status line."""
        if self.meter is not None and self.phase in ("splitting", "running"):
            self._status(self._phase_text())

    def _step(self, label: str) -> Meter:
        self.meter = Meter(label)
        if self.phase in ("splitting", "running"):
            self._status(self._phase_text())
        return self.meter

    def _set_phase(self, phase: str, text: str | None = None) -> None:
        if phase not in ("splitting", "running"):
            self.meter = None
        self.phase = phase
        self.set_class(phase == "running", "-running")
        self._status(text if text is not None else self._phase_text())
        self.refresh_bindings()

    def _phase_text(self) -> str:
        text = PHASE_TEXT.get(self.phase, "")
        if self.phase == "splitting":
            if self.meter is not None:
                return self.meter.text()
            from moot.agents.landing import planner_model

            model = planner_model(self.moot.loaded.config)
            return f"{model.name} splits the plan into tasks…" if model else text
        if self.phase == "confirm":
            n = len(self.routed)
            return f"{n} task{'' if n == 1 else 's'} · {self._candidates_text()} · {text}"
        if self.phase == "running":
            return self._progress_text()
        return text

    def _candidates_text(self) -> str:
        n = self.session.candidates if self.session is not None else 1
        if n == 1:
            return "1 candidate"
        return f"{n} candidates ({', '.join(self.models or [])}, each doing every task)"

    def _progress_text(self) -> str:
        items = list(self.query_one(TaskList).items.values())
        done = sum(i.state == "done" for i in items)
        where = f" on {', '.join(self.branches)}" if self.branches else ""
        step = f" · {self.meter.text()}" if self.meter is not None else ""
        return f"Carrying out the tasks{where}: {done}/{len(items)} done{step} · Esc interrupts"

    def _review_line(self, text: str) -> None:
        line = self.query_one("#run-review", Static)
        line.update(text)
        line.display = True

    # ------------------------------------------------------------------------------------ a new run

    @work(exclusive=True, group="run-split", exit_on_error=False)
    async def split(self) -> None:
        """Record the run, split the plan into tasks and route them; then the user checks them."""
        from moot.agents.routing import RoutingError
        from moot.agents.tasks import DecomposeError
        from moot.agents.worktree import WorktreeError

        session = self.session
        assert self.plan is not None and session is not None
        try:
            self.run_id = await asyncio.to_thread(session.begin, self.task_text, self.plan,
                                                  plan_run_id=self.plan_run_id)
        except WorktreeError as e:
            self._set_phase("failed", f"Cannot carry out the plan: {e}")
            return
        self._header()
        self._set_phase("splitting")
        planner = session.planner
        meter = self._step(f"{planner.name if planner else 'the planner'} splits the plan into tasks")
        try:
            note = await session.split(on_event=meter.on_event)
            if note:
                self.notify(note, title="The plan was not split", severity="warning", timeout=12)
        except (DecomposeError, RoutingError, x.ExecuteError) as e:
            self.state = session.state
            self._set_phase("failed", f"Could not split the plan into tasks: {e}")
            return
        try:
            session.set_candidates(self.moot.loaded.config.agents.candidates)
        except x.ExecuteError as e:
            self.notify(str(e), title="Candidates", severity="warning")
        self._show_routed()
        self._set_phase("confirm")

    def _close(self) -> None:
        """The user left before the tasks began: the run is recorded as cancelled (one quick row update)."""
        if self.session is not None:
            self.session.cancel()
            self.state = self.session.state

    @property
    def routed(self) -> list[RoutedTask]:
        return self.session.routed if self.session is not None else []

    @property
    def models(self) -> list[str] | None:
        return self.session.models if self.session is not None else None

    def _show_routed(self) -> None:
        tasks = self.query_one(TaskList)
        tasks.output.reset()
        items = [TaskItem(0, rt.task.id, rt.task.title, rt.role,
                          self.models[0] if self.models else rt.alias) for rt in self.routed]
        tasks.set_items(items)
        for rt in self.routed:
            tasks.add_note((0, rt.task.id), describe(rt))

    def _reroute(self, override: dict[str, tuple[str | None, str | None]]) -> bool:
        from moot.agents.routing import RoutingError

        assert self.session is not None
        try:
            self.session.reroute(override)
        except RoutingError as e:
            self.notify(str(e), title="Cannot route the tasks", severity="error")
            return False
        except x.ExecuteError as e:
            self.notify(str(e), title="Candidates", severity="warning")
            self.session.set_candidates(1)
        self._show_routed()
        self._set_phase("confirm")
        return True

    def _selected_task(self) -> Task | None:
        key = self.query_one(TaskList).selected
        tasks = self.session.tasks if self.session is not None else []
        return next((t for t in tasks if key and t.id == key[1]), None)

    def action_role(self) -> None:
        from moot.agents.prompts import TASK_ROLES

        task = self._selected_task()
        if task is None:
            return
        current = next((rt.role for rt in self.routed if rt.task.id == task.id), None)

        def picked(role: str | None) -> None:
            if role is None or role == current or self.session is None:
                return
            if self._reroute({task.id: (role, self.session.overrides.get(task.id, (None, None))[1])}):
                self.notify(f"{task.id} is a {role} task now.")

        self.open("pick", f"Role of {task.id} · {task.title}", [(r, r) for r in TASK_ROLES], current,
                  callback=picked)

    def action_model(self) -> None:
        task = self._selected_task()
        if task is None:
            return
        config = self.moot.loaded.config
        current = next((rt.alias for rt in self.routed if rt.task.id == task.id), None)
        usable = set(self.moot.usable)
        options = [(f"{m.name} · {m.model}" + ("" if m.name in usable else " · unavailable"), m.name)
                   for m in config.models]

        def picked(alias: str | None) -> None:
            if alias is None or alias == current or self.session is None:
                return
            if self._reroute({task.id: (self.session.overrides.get(task.id, (None, None))[0], alias)}):
                self.notify(f"{alias} carries out {task.id}.")

        self.open("pick", f"Model for {task.id} · {task.title}", options, current, callback=picked)

    def action_candidates(self) -> None:
        assert self.session is not None
        most = min(4, len(self.moot.loaded.config.models))
        try:
            self.session.set_candidates(self.session.candidates % most + 1 if most > 1 else 1)
        except x.ExecuteError as e:
            self.notify(str(e), title="Candidates", severity="warning")
            self.session.set_candidates(1)
        self._show_routed()
        self._set_phase("confirm")

    def action_start(self) -> None:
        self.query_one(TaskList).output.reset()
        self._set_phase("running", "Starting…")
        self.carry_out(resume=False)

    # ------------------------------------------------------------------------------------- carrying out

    @work(exclusive=True, group="run-exec", exit_on_error=False)
    async def carry_out(self, resume: bool) -> None:
        """Carry out the routed tasks, or resume the recorded run; its progress arrives as messages."""
        from moot.agents.worktree import WorktreeError

        assert self.run_id is not None and self.session is not None
        bridge = ExecBridge(self.post_message)
        self.session.on_event = bridge
        flusher = self.set_interval(FLUSH_S, bridge.flush)
        try:
            with self.moot.gc.hold():
                if resume:
                    await self.session.resume(self.run_id)
                else:
                    await self.session.carry_out()
        except (x.ExecuteError, WorktreeError) as e:
            bridge.flush()
            self.notify(str(e), title="The run stopped", severity="error", timeout=10)
            self.load_run()
        finally:
            flusher.stop()
            bridge.flush()

    def _item(self, candidate: int, task_id: str) -> TaskItem | None:
        return self.query_one(TaskList).get((candidate, task_id))

    def _follow(self, key: tuple[int, str]) -> None:
        """Show the task that just started, unless the user is watching another one still at work."""
        tasks = self.query_one(TaskList)
        current = tasks.get(tasks.selected) if tasks.selected else None
        if current is None or current.state not in ("running", "retrying"):
            tasks.select(key)

    def on_task_output(self, message: TaskOutput) -> None:
        self.query_one(TaskList).add_output((message.candidate, message.task_id), message.text)
        if self.meter is not None and self.meter.label.startswith(self._step_label(message.candidate, message.task_id)):
            self.meter.add(message.tokens)
            self._status(self._phase_text())

    def _step_label(self, candidate: int, step: str) -> str:
        return f"{self._who(candidate)}{step}"

    def _end_step(self, candidate: int, step: str) -> None:
        if self.meter is not None and self.meter.label.startswith(self._step_label(candidate, step)):
            self.meter = None

    def on_exec_progress(self, message: ExecProgress) -> None:
        self.show_event(message.event, self.query_one(TaskList))

    def _who(self, candidate: int | None) -> str:
        return f"candidate {candidate}: " if self.several and candidate is not None else ""

    # ------------------------------------------------------------------------------------ a recorded run

    @work(exclusive=True, group="run-load", exit_on_error=False, thread=True)
    def load_run(self) -> None:
        """Read the run from the database (sqlite blocks, hence a thread)."""
        store = self.moot.store
        runs.mark_stale(store)
        run = runs.load(store, self.run_id or "")
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_run, run)

    def show_run(self, run: runs.ExecRun | None) -> None:
        """Fill the screen from a recorded run."""
        if run is None:
            self._set_phase("closed", f"There is no run {self.run_id}.")
            return
        self.run_id, self.task_text, self.state = run.run_id, run.task, run.state
        self.several = len(run.candidates) > 1
        self.branches = [c.branch for c in run.candidates]
        self._header()
        tasks = self.query_one(TaskList)
        tasks.output.reset()
        items = [TaskItem(c.candidate, t.task_id, t.title, t.role, t.model_alias or "?", t.status,
                          attempts=t.attempts, note=t.error or t.commit or "")
                 for c in run.candidates for t in c.tasks]
        tasks.set_items(items)
        for c in run.candidates:
            for t in c.tasks:
                if t.status == "done" and t.commit:
                    tasks.add_note((c.candidate, t.task_id), quote(f"✓ committed as {t.commit[:10]}"))
                elif t.error:
                    tasks.add_note((c.candidate, t.task_id), quote(f"{t.status}: {t.error}"))
        for c in run.candidates:
            if c.tests:
                log = self.query_one("#run-tests", Log)
                log.display = True
                log.border_title = f"Tests · {self._who(c.candidate)}{c.tests.get('command')}"
                log.border_subtitle = tests_outcome(bool(c.tests.get("passed")), c.tests)
                log.write_lines(str(c.tests.get("output_tail") or "").splitlines())
            if c.review:
                r = c.review
                self._review_line(self._who(c.candidate) + review_summary(
                    str(r.get("model") or "?"), r.get("verdict"), r, r.get("error")))
        if run.live:
            self._set_phase("closed", f"Run {run.state}: another moot (pid {run.pid}) is carrying it out.")
        elif run.resumable:
            self._set_phase("interrupted")
        elif run.state in runs.OPEN and run.candidates:
            self._set_phase("done", f"Run {run.state}: Enter opens the diff review, x rejects the run.")
        else:
            self._set_phase("closed", f"Run {run.state}" + (f": {run.error}" if run.error else "."))

    def action_resume(self) -> None:
        self.query_one(TaskList).output.reset()
        self._set_phase("running", "Resuming…")
        self.carry_out(resume=True)

    # -------------------------------------------------------------------------------------- afterwards

    def action_review(self) -> None:
        assert self.run_id is not None

        def closed(outcome: str | None) -> None:
            if outcome in ("accepted", "rejected"):
                self.dismiss(outcome)

        self.open("review", self.run_id, callback=closed)

    def action_reject(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.reject()

        self.open(
            "confirm", "Reject the run?",
            f"Every change of run {self.run_id} is dropped: its branch and worktree are removed. Your own files "
            "are not touched.", "Reject run", danger=True, callback=answered)

    @work(exclusive=True, group="run-reject", exit_on_error=False, thread=True)
    def reject(self) -> None:
        from moot.agents.landing import drop

        store = self.moot.store
        run = runs.load(store, self.run_id or "")
        if run is None:
            return
        removed = drop(store, run)
        self.app.call_from_thread(self._rejected, removed)

    def _rejected(self, removed: list[str]) -> None:
        self.notify(f"Removed {', '.join(removed) or 'nothing (no branch was left)'}.", title="Run rejected")
        self.dismiss("rejected")

    def action_cancel(self) -> None:
        if self.phase == "splitting":
            self.workers.cancel_group(self, "run-split")
        elif self.phase == "confirm":
            # on the app, not this screen: the screen's workers end with it
            self.app.run_worker(self._close, name="run-close", group="run-close",
                                thread=True, exit_on_error=False)
            self.notify("Not carried out; nothing was changed.")
        self.dismiss(None)

    def action_interrupt(self) -> None:
        self.workers.cancel_group(self, "run-exec")
        self._status("Interrupting…")

    def action_back(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        phase = self.phase
        allowed = {
            "start": phase == "confirm", "role": phase == "confirm", "model": phase == "confirm",
            "candidates": phase == "confirm", "resume": phase == "interrupted", "review": phase == "done",
            "reject": phase in ("done", "interrupted"), "cancel": phase in ("splitting", "confirm"),
            "interrupt": phase == "running", "back": phase in ("done", "interrupted", "failed", "closed"),
        }
        return allowed.get(action, True)

    def worker_failed(self, worker: Worker[Any]) -> None:
        if self.phase in ("splitting", "running"):
            self._set_phase("failed", f"{worker.name} failed: {worker.error}")
