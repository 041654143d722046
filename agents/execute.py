"""Carrying out a plan: each task's agent edits a worktree of the run's own, one commit per task; then the
project's tests decide, a debug cycle and an escalation model get their tries, and the reviewer gives a verdict.

With several candidates, each model carries out the whole plan in its own worktree, concurrently; the winner is
the candidate whose tests pass, ties broken by the smaller diff. Everything is recorded as it happens
(:mod:`moot.agents.runs`), so a run cancelled or killed midway can be resumed: tasks already committed are kept,
the rest are done again.

Progress is reported through one callback with the small dataclasses below; the engine knows nothing of the
command line or the workbench.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from moot.core.calls import CallContext, run_call
from moot.core.config.models import Config, ModelConfig
from moot.core.ensemble.engine import new_run_id
from moot.core.events import Event, Queued, Started, TextDelta
from moot.core.providers.base import Message, Params
from moot.core.storage import Store
from moot.core.tokens import count_tokens

from . import prompts, runs
from . import worktree as wtree
from .checks import Checks
from .edit_feedback import failure_feedback
from .edits import EditFormatError, apply_edits, close_cut_block, parse_edits
from .events import (
    CallQueued,
    CandidateDone,
    CandidateInfo,
    Note,
    ProgressSink,
    RunDone,
    RunStarted,
    TaskDone,
    TaskFailed,
    TaskQueued,
    TaskRetrying,
    TaskRouted,
    TaskSkipped,
    TaskStarted,
    TaskText,
)
from .routing import RoutedTask
from .shaping import ShapedTasks, Shaper
from .speed import SpeedRouter
from .steps import EditOutcome, cancel_point
from .task_inputs import EDIT_TEMPERATURE, TaskInputs
from .tasks import ordered
from .worktree import Worktree, WorktreeError


class ExecuteError(Exception):
    """The run cannot be carried out (unknown run, nothing to do, a run another process is carrying out)."""


# ------------------------------------------------------------------------------------------------ starting


def begin(store: Store, repo: Path, task: str, plan: str, *, run_id: str | None = None,
          plan_run_id: str | None = None, state: runs.RunState = runs.RunState.EXECUTING) -> str:
    """Record a new execution run based on the user's HEAD in ``repo``; returns its id.

    Raises:
        WorktreeError: ``repo`` is not in a git repository, or it has no commit yet.
    """
    base_sha, base_branch = wtree.head_of(repo)
    top = wtree.open_repo(repo)
    root = str(top.working_tree_dir)
    top.close()
    run_id = run_id or new_run_id()
    runs.create(store, run_id, task, plan, root, base_sha, base_branch, plan_run_id=plan_run_id, state=state)
    return run_id


def candidate_models(config: Config, n: int, tasks: Sequence[RoutedTask] = ()) -> list[str]:
    """``n`` distinct model aliases for competing candidates: the routed tasks' models first, then the
    ``[roles]`` models, then the configured ones. Raises ExecuteError when there are fewer than ``n``."""
    found: list[str] = []
    for alias in [*(t.alias for t in tasks), *config.roles.values(), *config.aliases]:
        if alias not in found and config.model(alias) is not None:
            found.append(alias)
    if len(found) < n:
        raise ExecuteError(f"{n} candidates need {n} different models; only {len(found)} configured "
                           f"({', '.join(found) or 'none'})")
    return found[:n]


# ------------------------------------------------------------------------------------------------ the engine


class Engine(TaskInputs, Checks, ShapedTasks):
    def __init__(self, config: Config, store: Store, run: runs.ExecRun, on_progress: ProgressSink | None):
        self.config, self.store, self.run = config, store, run
        self.run_id = run.run_id
        self.emit: ProgressSink = on_progress or (lambda e: None)
        self.repo = Path(run.repo_dir)
        self._distilled: str | None = None
        self._distilling = asyncio.Lock()
        self.speed = SpeedRouter(config, store)
        self.shaper = Shaper(config, store)
        self.first_tests, self.escalated = {}, set()

    # -------------------------------------------------------------------------------------------- helpers

    async def _edit_round(self, cand: int, wt: Worktree, label: str, model: ModelConfig, messages: list[Message],
                          phase: str, on_retry: Callable[[int, str], None],
                          grammar: Callable[[], Awaitable[str | None]] | None = None) -> EditOutcome:
        """Ask for edits and apply them; send failures back up to ``edit_retries`` times. ``grammar`` makes the
        grammar each try is decoded under (from the files as they are then)."""
        retries = self.config.agents.edit_retries
        files: list[str] = []
        ctx = CallContext(self.store, self.run_id, phase, label=label)

        def forward(ev: Event) -> None:
            if isinstance(ev, TextDelta):
                self.emit(TaskText(cand, label, ev.text, ev.tokens))
            elif isinstance(ev, Queued | Started):
                self.emit(CallQueued(cand, label, ev.ahead if isinstance(ev, Queued) else 0))

        for attempt in range(retries + 1):
            if attempt:
                self.emit(TaskStarted(cand, label, model.name, attempt))
            held = await grammar() if grammar is not None else None
            effort = self._effort("debugging_escalated" if label == "escalation" else
                                  {"execute": "implementation", "debug": "debugging"}.get(phase, ""))
            params = Params(grammar=held, temperature=min(model.temperature, EDIT_TEMPERATURE), effort=effort) \
                if held else (Params(effort=effort) if effort else None)
            result = await run_call(model, messages, params, ctx=ctx, on_event=forward)
            text = close_cut_block(result.text) if held and result.finish_reason == "length" else result.text
            cancel_point()
            if not result.ok:
                assert result.error is not None
                return EditOutcome(files, f"{model.name} failed: {result.error.kind}: {result.error.message}")
            reason, feedback = "", ""
            try:
                edits = parse_edits(text)
            except EditFormatError as e:
                reason = f"the answer's edits could not be read: {e}"
                feedback = f"Your SEARCH/REPLACE blocks could not be read: {e}\n\n{prompts.EDIT_FORMAT}"
            else:
                if not edits:
                    reason = "the answer contained no SEARCH/REPLACE edits"
                    feedback = ("Your answer contained no SEARCH/REPLACE blocks, so nothing was changed. Make the "
                                f"change now.\n\n{prompts.EDIT_FORMAT}")
                else:
                    report = await asyncio.to_thread(apply_edits, wt.path, edits)
                    files += [a.path for a in report.applied if a.path not in files]
                    if not report.failed:
                        return EditOutcome(files)
                    reason = "; ".join(f"{f.edit.path}: {f.kind}: {f.message}" for f in report.failed)
                    feedback = failure_feedback(report, wt.path)
            if attempt == retries:
                return EditOutcome(files, reason)
            on_retry(attempt + 1, reason)
            self.emit(TaskRetrying(cand, label, attempt + 1, reason))
            messages = [*messages, {"role": "assistant", "content": result.text},
                        {"role": "user", "content": feedback}]
        raise AssertionError("unreachable")

    # ---------------------------------------------------------------------------------------------- tasks

    async def _task(self, c: runs.CandidateRow, wt: Worktree, t: runs.TaskRow) -> bool:
        n = c.candidate
        model = self._model(t.model_alias)
        if model is None:
            return self._fail(n, t, f"the model {t.model_alias!r} is not configured")
        runs.set_task(self.store, self.run_id, n, t.task_id, runs.TaskState.RUNNING)
        t.attempts += 1
        runs.set_task_attempts(self.store, self.run_id, n, t.task_id, t.attempts)
        self.emit(TaskStarted(n, t.task_id, model.name))
        text = f"{t.title}\n{t.description}"
        context, shown = await self._context(wt, text, t.files, t.role, model, n)
        plan = await self._plan_for_tasks(model, n)
        messages = prompts.task_messages(t.role, t.title, t.description, t.files, plan, context)
        if self.speed.applies(t.role, t.model_alias, t.reason, pinned=c.model_alias is not None):
            routed = await self.speed.route(t.role, model, messages, count_tokens(context, model.model),
                                            run_id=self.run_id, task_id=t.task_id)
            if routed.model.name != model.name:
                runs.set_task_model(self.store, self.run_id, n, t.task_id, routed.model.name)
                t.model_alias = routed.model.name
            model = routed.model
            self.emit(TaskRouted(n, t.task_id, model.name, routed.decision.reason))
            if routed.context_budget is not None:
                context, shown = await self._context(wt, text, t.files, t.role, model, n, routed.context_budget)
                messages = prompts.task_messages(t.role, t.title, t.description, t.files, plan, context)

        choice = None
        if self.shaper.applies(model) and c.model_alias is None:
            shaped = await self._shape(n, t, model, wt, text, plan, context)
            if isinstance(shaped, tuple):
                choice, model, context, shown, messages = shaped
            else:
                model = shaped

        def retrying(attempt: int, reason: str) -> None:
            runs.set_task(self.store, self.run_id, n, t.task_id, runs.TaskState.RETRYING, error=reason)
            t.attempts += 1
            runs.set_task_attempts(self.store, self.run_id, n, t.task_id, t.attempts)

        started_attempts = t.attempts
        grammar = None if choice is not None and not choice.shape.constrained else \
            (lambda: self._grammar(wt, model, t.files, shown, n))
        if choice is not None and choice.shape.split and len(t.files) > 1:
            outcome = await self._file_by_file(n, wt, t, model, context, retrying)
        else:
            outcome = await self._edit_round(n, wt, t.task_id, model, messages, "execute", retrying, grammar)
        down = outcome.error is not None and any(  # the host's fault, not the shape's: nothing to learn
            outcome.error.startswith(f"{model.name} failed: {kind}:") for kind in ("connection", "server", "auth"))
        if choice is not None and not down:
            unread = outcome.error is not None and ("could not be read" in outcome.error
                                                    or "no SEARCH/REPLACE" in outcome.error)
            await asyncio.to_thread(self.shaper.record, choice, model, self.run_id, t.task_id,
                                    parsed=not unread, applied=outcome.error is None,
                                    retried=t.attempts > started_attempts, candidate=n)
        if outcome.error is not None:
            await asyncio.to_thread(wtree.discard, wt)
            return self._fail(n, t, outcome.error)
        sha = await asyncio.to_thread(wtree.commit, wt, f"moot: {t.title}", model.name, task_id=t.task_id)
        runs.set_task(self.store, self.run_id, n, t.task_id, runs.TaskState.DONE, commit=sha)
        t.status, t.commit = runs.TaskState.DONE, sha
        unlisted = tuple(f for f in outcome.files if t.files and f not in t.files)
        self.emit(TaskDone(n, t.task_id, sha, tuple(outcome.files), unlisted=unlisted))
        return True

    def _fail(self, n: int, t: runs.TaskRow, error: str) -> bool:
        runs.set_task(self.store, self.run_id, n, t.task_id, runs.TaskState.FAILED, error=error)
        t.status, t.error = runs.TaskState.FAILED, error
        self.emit(TaskFailed(n, t.task_id, error))
        return False

    async def _tasks(self, c: runs.CandidateRow, wt: Worktree) -> None:
        n = c.candidate
        await asyncio.to_thread(wtree.discard, wt)  # whatever an interrupted task left uncommitted
        committed = await asyncio.to_thread(wtree.task_commits, wt)
        for t in c.tasks:
            self.emit(TaskQueued(n, t.task_id, t.title, t.role, t.model_alias))
        status: dict[str, str] = {}
        for t in c.tasks:
            sha = t.commit if t.status == runs.TaskState.DONE and t.commit else committed.get(t.task_id)
            if sha:
                if t.status != runs.TaskState.DONE or t.commit != sha:
                    runs.set_task(self.store, self.run_id, n, t.task_id, runs.TaskState.DONE, commit=sha)
                t.status, t.commit = runs.TaskState.DONE, sha
                status[t.task_id] = "done"
                self.emit(TaskDone(n, t.task_id, sha, (), resumed=True))
                continue
            blocked = [d for d in t.depends_on if status.get(d) != "done"]
            if blocked:
                how = ", ".join(f"{d} ({status.get(d, 'not done')})" for d in blocked)
                reason = f"skipped: it depends on {how}"
                runs.set_task(self.store, self.run_id, n, t.task_id, runs.TaskState.SKIPPED, error=reason)
                t.status, t.error = runs.TaskState.SKIPPED, reason
                status[t.task_id] = "skipped"
                self.emit(TaskSkipped(n, t.task_id, reason))
                continue
            ok = await self._task(c, wt, t)
            status[t.task_id] = "done" if ok else "failed"

    # ------------------------------------------------------------------------------------------ candidates

    async def _worktree(self, c: runs.CandidateRow) -> Worktree:
        run = self.run

        def prepare() -> Worktree:
            try:
                return wtree.reopen(self.repo, self.run_id, c.candidate, run.base_sha, run.base_branch)
            except wtree.WorktreeLocked:
                raise  # the user decides about a lock; the run stays resumable
            except WorktreeError:
                if c.head_sha or any(t.status == runs.TaskState.DONE for t in c.tasks):
                    raise  # its work is gone: do not start again silently
                wtree.remove(self.repo, self.run_id, c.candidate)
                return wtree.create(self.repo, self.run_id, c.candidate, base_sha=run.base_sha)

        wt = await asyncio.to_thread(prepare)
        runs.set_candidate(self.store, self.run_id, c.candidate, worktree=str(wt.path))
        c.worktree = str(wt.path)
        return wt

    async def _candidate(self, c: runs.CandidateRow, wt: Worktree) -> None:
        n = c.candidate
        try:
            runs.set_candidate(self.store, self.run_id, n, status=runs.CandidateState.EXECUTING, error=None)
            await self._tasks(c, wt)
            result = await self._tests(c, wt)
            await self._review(c, wt)
            await asyncio.to_thread(self.shaper.settle, self.run_id, n, tests_passed=self.first_tests.get(n),
                                    verdict=(c.review or {}).get("verdict"), escalated=n in self.escalated)
            c.head_sha = await asyncio.to_thread(wtree.head, wt)
            c.diff_lines = await asyncio.to_thread(wtree.diff_lines, wt)
            c.status = runs.CandidateState.DONE if c.ok else runs.CandidateState.FAILED
            runs.set_candidate(self.store, self.run_id, n, status=c.status, head_sha=c.head_sha,
                               diff_lines=c.diff_lines)
            self.emit(CandidateDone(n, c.ok, result.passed if result else None, c.diff_lines))
        except Exception as e:  # one candidate's failure, whatever it is, must not stop the others
            error = str(e) if isinstance(e, (WorktreeError, OSError)) else f"{type(e).__name__}: {e}"
            c.status, c.error = runs.CandidateState.FAILED, error
            runs.set_candidate(self.store, self.run_id, n, status=runs.CandidateState.FAILED, error=error)
            self.emit(Note(n, f"candidate {n} failed: {error}"))
            self.emit(CandidateDone(n, False, None, c.diff_lines or 0))

    async def run_all(self, resumed: bool) -> runs.ExecRun:
        run = self.run
        runs.set_state(self.store, self.run_id, runs.RunState.EXECUTING)
        try:
            trees = [await self._worktree(c) for c in run.candidates]
            self.emit(RunStarted(self.run_id, tuple(
                CandidateInfo(c.candidate, c.model_alias, wt.branch, str(wt.path))
                for c, wt in zip(run.candidates, trees, strict=True)), resumed))
            await asyncio.gather(*(self._candidate(c, wt) for c, wt in zip(run.candidates, trees, strict=True)))
        except (asyncio.CancelledError, wtree.WorktreeLocked):
            runs.interrupt(self.store, self.run_id)
            self.emit(RunDone(self.run_id, runs.RunState.INTERRUPTED, None, False))
            raise
        except Exception as e:
            runs.set_state(self.store, self.run_id, runs.RunState.FAILED, error=str(e))
            runs.release(self.store, self.run_id)
            self.emit(RunDone(self.run_id, runs.RunState.FAILED, None, False))
            raise
        winner = choose_winner(run.candidates)
        runs.set_winner(self.store, self.run_id, winner)
        run.winner = winner
        loaded = runs.load(self.store, self.run_id)
        assert loaded is not None
        state = runs.RunState.READY if loaded.ok else runs.RunState.FAILED
        doc = {"task": loaded.task, "plan": loaded.plan, **loaded.to_json()}
        if loaded.chosen is not None:  # how much of the run's work a local model did
            await asyncio.to_thread(self.shaper.share, self.run_id, [t.model_alias or "" for t in loaded.chosen.tasks])
        runs.set_state(self.store, self.run_id, state, result=doc)
        runs.release(self.store, self.run_id)
        self.emit(RunDone(self.run_id, state, winner, loaded.ok))
        final = runs.load(self.store, self.run_id)
        assert final is not None
        return final


def choose_winner(candidates: Sequence[runs.CandidateRow]) -> int:
    """Tests passed first; then fewer unfinished tasks; then the smaller diff; then the first candidate."""

    def key(c: runs.CandidateRow) -> tuple[int, int, int, int]:
        tests = 0 if c.tests_passed else (1 if c.tests_passed is None else 2)
        unfinished = sum(t.status != runs.TaskState.DONE for t in c.tasks)
        return tests, unfinished + (1000 if c.status == runs.CandidateState.FAILED and c.error else 0), c.diff_lines or 0, c.candidate

    return min(candidates, key=key).candidate


# ------------------------------------------------------------------------------------------------- public


async def execute(
    config: Config,
    store: Store,
    run_id: str,
    tasks: Sequence[RoutedTask] | None = None,
    *,
    models: Sequence[str] | None = None,
    on_progress: ProgressSink | None = None,
) -> runs.ExecRun:
    """Carry out ``tasks`` for the run ``begin`` recorded; with ``tasks=None``, resume the run.

    Args:
        config: the merged config (models, roles, budgets, ``[agents]`` and ``[project]``).
        store: where the run is recorded and every call logged.
        run_id: the run, from :func:`begin` (or a unique prefix, to resume).
        tasks: the routed tasks of a new run, in any order (they run in dependency order).
        models: competing candidates, one model alias each (see :func:`candidate_models`); with one alias,
            that model carries out every task; by default each task has its routed model.
        on_progress: receives every :data:`ExecEvent`.

    Returns:
        The run as recorded when it ended (``state`` ready or failed).

    Raises:
        ExecuteError: an unknown run, a run with nothing to resume, or one another process carries out.
        WorktreeError: a worktree could not be made (the run is recorded as failed).
        asyncio.CancelledError: when cancelled; the run is recorded as interrupted and its worktrees stay.
    """
    run = runs.load(store, run_id)
    if run is None:
        raise ExecuteError(f"no execution run {run_id!r}")
    resumed = tasks is None
    if resumed:
        if run.live:
            raise ExecuteError(f"run {run.run_id} is being carried out by another process (pid {run.pid})")
        if not run.resumable:
            raise ExecuteError(f"run {run.run_id} is {run.state}; only an interrupted run can be resumed")
        if not run.candidates:
            raise ExecuteError(f"run {run.run_id} was interrupted before its tasks were recorded; start it again")
        runs.claim(store, run.run_id)
    else:
        if run.candidates:
            raise ExecuteError(f"run {run.run_id} already has its tasks; resume it instead")
        try:
            _record(store, run.run_id, list(tasks or []), list(models or []))
        except Exception as e:
            runs.set_state(store, run.run_id, runs.RunState.FAILED, error=str(e))
            runs.release(store, run.run_id)
            raise
        run = runs.load(store, run.run_id)
        assert run is not None
    engine = Engine(config, store, run, on_progress)
    try:
        return await engine.run_all(resumed)
    finally:
        runs.release(store, run.run_id)


def _record(store: Store, run_id: str, tasks: list[RoutedTask], models: list[str]) -> None:
    if not tasks:
        raise ExecuteError("there are no tasks to carry out")
    by_id = {rt.task.id: rt for rt in tasks}
    order = [by_id[t.id] for t in ordered([rt.task for rt in tasks])]
    for n, alias in enumerate(models or [None]):
        runs.add_candidate(store, run_id, n, alias, wtree.branch_name(run_id, n), None)
        runs.add_tasks(store, run_id, n, [
            runs.TaskRow(task_id=rt.task.id, position=i, title=rt.task.title, role=rt.role,
                         model_alias=alias or rt.alias, description=rt.task.description, files=list(rt.task.files),
                         depends_on=list(rt.task.depends_on),
                         reason=rt.reason if alias is None else f"candidate {n}: every task to {alias}",
                         candidate=n)
            for i, rt in enumerate(order)
        ])
