"""One execution run from the plan to its end: the lifecycle the command line and the workbench both drive.

    session = RunSession(config, store, repo, on_event=render)
    session.begin(task, plan)             # recorded at once (state decomposing), on the user's HEAD
    note = await session.split()          # the planner splits the plan; the tasks are routed
    session.set_candidates(2)             # several models each carry out the whole plan, if wanted
    session.reroute({"t2": ("tests", None)})   # the user's changes, if any
    run = await session.carry_out()       # or session.cancel(): nothing was changed
    run = await RunSession(...).resume(run_id)

Every step records the run's state (``runs.RunState``) as it happens, and every failure before the tasks
begin closes the run with its reason, so an interface only shows what happens (``events``) and asks the user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from moot.core.calls import EventSink
from moot.core.config.models import Config, ModelConfig
from moot.core.storage import Store

from . import execute, runs
from .events import ProgressSink
from .landing import planner_model, split_plan
from .routing import RoutedTask, RoutingError, route
from .tasks import DecomposeError, Task

#: A task's role and model chosen by the user (either may be None: the router's choice stays).
Override = tuple[str | None, str | None]


class RunSession:
    def __init__(self, config: Config, store: Store, repo: Path, *, on_event: ProgressSink | None = None):
        self.config, self.store, self.repo = config, store, repo
        self.on_event = on_event
        self.run_id: str | None = None
        self.plan = ""
        self.tasks: list[Task] = []
        self.routed: list[RoutedTask] = []
        self.overrides: dict[str, Override] = {}
        self.candidates = 1
        self.models: list[str] | None = None
        """One alias per competing candidate; None when each task has its routed model."""
        self.state: runs.RunState | None = None

    @property
    def planner(self) -> ModelConfig | None:
        """The model that splits the plan into tasks."""
        return planner_model(self.config)

    # ----------------------------------------------------------------------------------------- a new run

    def begin(self, task: str, plan: str, *, plan_run_id: str | None = None) -> str:
        """Record the run on the user's HEAD (``WorktreeError`` outside a repository or before its first
        commit); returns its id."""
        self.plan = plan
        self.run_id = execute.begin(self.store, self.repo, task, plan, plan_run_id=plan_run_id,
                                    state=runs.RunState.DECOMPOSING)
        self.state = runs.RunState.DECOMPOSING
        return self.run_id

    async def split(self, on_event: EventSink | None = None) -> str | None:
        """Split the plan into tasks and route them, each to its role's model (``on_event`` sees the planner's
        call). Returns a note when the planner's task list was unusable and the whole plan became one task.

        Raises:
            DecomposeError, RoutingError: the run is closed as failed, with the reason.
            asyncio.CancelledError: the run is closed as cancelled.
        """
        assert self.run_id is not None, "begin() first"
        try:
            self.tasks, note = await split_plan(self.config, self.store, self.repo, self.run_id, self.plan,
                                                on_event=on_event)
            self.routed = route(self.tasks, self.config, self.overrides)
        except (DecomposeError, RoutingError) as e:
            self.close(runs.RunState.FAILED, str(e))
            raise
        except asyncio.CancelledError:
            self.close(runs.RunState.CANCELLED)
            raise
        return note

    def take(self, tasks: list[Task]) -> list[RoutedTask]:
        """Use ``tasks`` (a task list made beforehand) instead of splitting the plan, and route them.

        Raises:
            RoutingError: the run is closed as failed, with the reason.
        """
        assert self.run_id is not None, "begin() first"
        try:
            self.tasks, self.routed = list(tasks), route(list(tasks), self.config, self.overrides)
        except RoutingError as e:
            self.close(runs.RunState.FAILED, str(e))
            raise
        return self.routed

    def reroute(self, overrides: Mapping[str, Override] | None = None) -> list[RoutedTask]:
        """Route the tasks again with the user's ``overrides`` added (``RoutingError`` leaves them as they
        were); the candidates' models follow."""
        wanted = {**self.overrides, **(overrides or {})}
        self.routed = route(self.tasks, self.config, wanted)
        self.overrides = wanted
        self.set_candidates(self.candidates)
        return self.routed

    def set_candidates(self, n: int) -> None:
        """``n`` models each carry out the whole plan (1: each task its routed model). ``ExecuteError`` when
        fewer than ``n`` models are configured; the count stays as it was."""
        models = execute.candidate_models(self.config, n, self.routed) if n > 1 else None
        self.candidates, self.models = n, models

    async def carry_out(self) -> runs.ExecRun:
        """Carry out the routed tasks on the run's branch (or branches); see ``execute.execute``."""
        assert self.run_id is not None, "begin() first"
        self.state = runs.RunState.EXECUTING
        run = await execute.execute(self.config, self.store, self.run_id, self.routed, models=self.models,
                                    on_progress=self.on_event)
        self.state = run.state
        return run

    def cancel(self) -> None:
        """The user chose not to carry the tasks out: nothing was changed."""
        self.close(runs.RunState.CANCELLED)

    def close(self, state: runs.RunState, error: str | None = None) -> None:
        """Record the run as ``state`` before its tasks began, and let it go."""
        if self.run_id is None:
            return
        runs.set_state(self.store, self.run_id, state, error=error)
        runs.release(self.store, self.run_id)
        self.state = state

    # ----------------------------------------------------------------------------------- a recorded run

    async def resume(self, run_id: str) -> runs.ExecRun:
        """Carry on with the interrupted run ``run_id`` where it stopped (``ExecuteError`` when it cannot be)."""
        found = runs.load(self.store, run_id)
        self.run_id = found.run_id if found is not None else run_id
        run = await execute.execute(self.config, self.store, self.run_id, on_progress=self.on_event)
        self.state = run.state
        return run

    def release(self) -> None:
        """This process no longer carries the run out (whatever became of it)."""
        if self.run_id is not None:
            runs.release(self.store, self.run_id)
