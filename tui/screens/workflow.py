"""A workflow running in the workbench: the phase strip with each phase's live state, what each phase did as it
finishes (its output, the files it wrote, its notes), the checkpoints as dialogs, and a stopped or interrupted
run resumed at the phase it stopped in (``r``). Opened with a workflow's name and a task (F2 chose the workflow),
or with a stored run from the history.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.markdown import Markdown
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static
from textual.worker import Worker

from moot.core.text import terminal_safe

from ..widgets.phase_strip import PhaseStrip
from .base import MootScreen

#: How much of a phase's output the screen shows (the whole is in its file and in ``moot show``).
SHOWN_CHARS = 6000


def describe(ev: Any) -> str | None:
    """A line for one of a routed phase's events (its tasks, tests and review), or None for what is not worth
    a line (streamed text, queue positions)."""
    kind = type(ev).__name__
    if kind == "TaskStarted":
        return f"{ev.task_id}: {ev.model} working" + (f" (try {ev.attempt + 1})" if ev.attempt else "") + "…"
    if kind == "TaskDone":
        return f"{ev.task_id}: done, {ev.commit[:10]} ({', '.join(ev.files) or 'no files'})"
    if kind == "TaskFailed":
        return f"{ev.task_id}: failed: {ev.error}"
    if kind == "TaskSkipped":
        return f"{ev.task_id}: skipped: {ev.reason}"
    if kind == "TestsDone":
        return "tests passed" if ev.passed else "tests failed"
    if kind == "ReviewDone":
        return f"reviewer {ev.model}: {ev.verdict or 'no verdict'}" + (f" ({ev.error})" if ev.error else "")
    if kind == "Note":
        return str(ev.text)
    if kind == "RunDone":
        return f"run {ev.run_id}: {ev.state}"
    return None


class WorkflowScreen(MootScreen[None]):
    CSS_PATH = "workflow.tcss"
    FAILURE_TITLE = "The workflow stopped"
    BINDINGS = [
        Binding("escape", "back", "Back", id="workflow.back",
                tooltip="Back to the plans (a workflow under way is stopped and kept: resume it from the history)"),
        Binding("ctrl+x", "stop", "Stop", id="workflow.stop", priority=True,
                tooltip="Stop the workflow now; it is kept and can be resumed at this phase"),
        Binding("r", "resume", "Resume", id="workflow.resume",
                tooltip="Go on with a stopped or interrupted workflow at the phase it stopped in"),
    ]

    def __init__(self, name: str | None = None, task: str | None = None, *, run_id: str | None = None) -> None:
        """A new run of workflow ``name`` on ``task``, or the stored run ``run_id``."""
        super().__init__()
        self.workflow_name, self.job, self.run_id = name, task, run_id
        self.found: Any = None
        self.busy = False
        self.state: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("Workflow", id="workflow-header", markup=False)
        yield Static("", id="workflow-strip-slot")
        yield VerticalScroll(id="workflow-log")
        yield Static("", id="workflow-status", markup=False)
        yield Footer()

    async def on_mount(self) -> None:
        if self.run_id is not None:
            run = self.moot.store.run(self.run_id)
            if run is None:
                self.notify(f"There is no workflow run {self.run_id}.", severity="error")
                return
            self.workflow_name, self.job, self.state = str(run["strategy"]), str(run["task"]), str(run["status"])
        catalog = self.moot.workflows
        self.found = catalog.get(self.workflow_name or "")
        if self.found is None:  # written since the catalog was read, perhaps: look again once
            await asyncio.to_thread(catalog.reload)
            self.found = catalog.get(self.workflow_name or "")
        if self.found is None:
            known = ", ".join(self.moot.workflows.names()) or "none"
            self.notify(f"There is no workflow {self.workflow_name!r} (known: {known}).", severity="error",
                        markup=False)
            return
        strip = PhaseStrip(list(self.found.workflow.phases), id="workflow-strip")
        await self.query_one("#workflow-strip-slot").remove()
        await self.mount(strip, after=self.query_one("#workflow-header"))
        self._header()
        if self.run_id is not None:
            await self._show_stored()
        else:
            self.start()

    def _header(self) -> None:
        wf = self.found.workflow
        task = self.job.strip().splitlines()[0][:90] if self.job and self.job.strip() else ""
        run = f" · run {self.run_id}" if self.run_id else ""
        state = f" · {self.state}" if self.state else ""
        self.query_one("#workflow-header", Static).update(terminal_safe(f"Workflow {wf.name}{run}{state}\n{task}"))

    def _status(self, text: str) -> None:
        self.query_one("#workflow-status", Static).update(terminal_safe(text))

    async def _line(self, text: str, classes: str = "workflow-note") -> None:
        log = self.query_one("#workflow-log", VerticalScroll)
        await log.mount(Static(terminal_safe(text), markup=False, classes=classes))
        log.scroll_end(animate=False)

    async def _phase_done(self, name: str, kind: str, output: str, files: list[str]) -> None:
        log = self.query_one("#workflow-log", VerticalScroll)
        shown = output.strip()
        if len(shown) > SHOWN_CHARS:
            shown = shown[:SHOWN_CHARS] + "\n\n… (the rest is in moot show)"
        box = Static(Markdown(terminal_safe(shown) or "*(no output)*"), classes="workflow-output")
        box.border_title = terminal_safe(f"{name} · {kind}")
        if files:
            box.border_subtitle = terminal_safe(f"wrote {files[0]}")
        await log.mount(box)
        log.scroll_end(animate=False)

    # ---------------------------------------------------------------------------------------- running

    def _engine(self) -> Any:
        from moot.agents.workflow.engine import WorkflowEngine

        app = self.moot
        return WorkflowEngine(app.loaded, app.store, app.usable, app.loaded.project_dir, self.found,
                              ask=self._ask, on_event=self._event)

    def start(self) -> None:
        self.busy = True
        self.refresh_bindings()
        self.carry_out(None)

    @work(exclusive=True, group="workflow", exit_on_error=False)
    async def carry_out(self, resume: str | None) -> None:
        from moot.agents.workflow.phases import CheckpointStop, PhaseFailed

        app = self.moot
        await app.models_ready.wait()
        engine = self._engine()
        self._status("running…")
        try:
            if resume is not None:
                result = await engine.resume(resume)
            else:
                from moot.core.ensemble.engine import new_run_id

                self.run_id = new_run_id()
                self._header()
                result = await engine.run(self.job or "", run_id=self.run_id)
            self.state = result.state
            self._status(f"{result.state} in {result.wall_s:.1f} s" + (f": {result.error}" if result.error else ""))
        except (CheckpointStop, PhaseFailed) as e:
            self.state = "stopped"
            self._status(str(e))
        finally:
            self.busy = False
            self._header()
            self.refresh_bindings()

    def _event(self, ev: Any) -> None:
        """The engine's events, as they happen: the strip and status at once, lines in order after."""
        if isinstance(ev, tuple):
            kind, name, what = ev
            if kind == "phase":
                self.query_one(PhaseStrip).set_state(name, what)
                self._status(f"{name}: {what}")
                if what == "done":
                    self.call_next(self._after_phase, name)
                elif what == "failed":
                    self.call_next(self._line, f"{name} failed", "workflow-error")
            elif kind == "note":
                self.call_next(self._line, f"{name}: {what}")
            elif kind == "tasks":
                for rt in what[0]:
                    self.call_next(self._line, f"{name}: {rt.task.id} {rt.task.title} [{rt.role} → {rt.alias}]")
            else:
                self.call_next(self._line, f"{name}: {kind} run {what}")
            return
        if (line := describe(ev)) is not None:
            self.call_next(self._line, line)

    async def _after_phase(self, name: str) -> None:
        from moot.agents.workflow import store as stored

        for row in stored.phases(self.moot.store, self.run_id or ""):
            if row["name"] == name:
                await self._phase_done(name, row["type"], row["output"], row["meta"].get("files", []))

    async def _ask(self, point: Any) -> bool:
        from ..registry import screen_class

        self._status(f"checkpoint at {point.phase}: waiting for you")
        answer = await self.app.push_screen_wait(screen_class("checkpoint")(point))
        await self._line(f"checkpoint at {point.phase}: {'went on' if answer else 'stopped here'}")
        return bool(answer)

    # -------------------------------------------------------------------------------------- a stored one

    async def _show_stored(self) -> None:
        from moot.agents.workflow import store as stored

        strip = self.query_one(PhaseStrip)
        for row in stored.phases(self.moot.store, self.run_id or ""):
            state = "stopped" if row["decision"] and not row["decision"].get("go_on", True) else row["state"]
            strip.set_state(row["name"], "stopped" if state == "running" else state)
            if row["state"] == "done":
                await self._phase_done(row["name"], row["type"], row["output"], row["meta"].get("files", []))
            elif row["error"]:
                await self._line(f"{row['name']}: {row['error']}", "workflow-error")
        resumable = self.state not in ("done",)
        self._status("r resumes it at the phase it stopped in" if resumable else "done")

    # ---------------------------------------------------------------------------------------- actions

    def action_stop(self) -> None:
        if self.busy:
            self.workers.cancel_group(self, "workflow")
            self.state = "stopped"
            self._status("stopped; r resumes it")

    def action_resume(self) -> None:
        if self.busy or self.run_id is None or self.state == "done":
            return
        self.busy = True
        self.refresh_bindings()
        self.carry_out(self.run_id)

    def action_back(self) -> None:
        self.action_stop()
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.busy
        if action == "resume":
            return not self.busy and self.run_id is not None and self.state != "done"
        return True

    def worker_failed(self, worker: Worker[Any]) -> None:
        self.busy = False
        self.refresh_bindings()
