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
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from moot.core.calls import CallContext, run_call
from moot.core.config.models import Config, ModelConfig
from moot.core.events import Event, Queued, Started, TextDelta
from moot.core.providers.base import Message, Params
from moot.core.storage import Store, redact
from moot.core.structured import decodes_grammar
from moot.core.tokens import count_tokens

from . import prompts, runs
from . import worktree as wtree
from .edits import EditFormatError, apply_edits, close_cut_block, failure_feedback, parse_edits
from .routing import RoutedTask
from .speed import SpeedRouter
from .tasks import ordered
from .testing import TestResult, debug_prompt, run_tests
from .worktree import Worktree, WorktreeError

# ------------------------------------------------------------------------------------------ progress events


@dataclass(frozen=True)
class CandidateInfo:
    candidate: int
    model: str | None
    """The model carrying out every task of this candidate; None when each task has its routed model."""
    branch: str
    worktree: str


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    candidates: tuple[CandidateInfo, ...]
    resumed: bool = False


@dataclass(frozen=True)
class TaskQueued:
    candidate: int
    task_id: str
    title: str
    role: str
    model: str | None


@dataclass(frozen=True)
class TaskStarted:
    candidate: int
    task_id: str
    model: str
    attempt: int = 0
    """0 for the first try; the retries after a failed edit count up from 1."""


@dataclass(frozen=True)
class TaskText:
    candidate: int
    task_id: str
    delta: str
    tokens: int = 1


@dataclass(frozen=True)
class CallQueued:
    """A step's model call waits for its engine behind ``ahead`` calls; 0 when it has started."""

    candidate: int
    step: str
    """The task id, or ``review``."""
    ahead: int


@dataclass(frozen=True)
class TaskRetrying:
    candidate: int
    task_id: str
    attempt: int
    reason: str
    """What went wrong with the previous answer (sent back to the model)."""


@dataclass(frozen=True)
class TaskDone:
    candidate: int
    task_id: str
    commit: str
    files: tuple[str, ...]
    resumed: bool = False
    """True when the task was done by the interrupted run this one resumes."""
    unlisted: tuple[str, ...] = ()
    """Files the task changed that it did not list: allowed, but the user is told."""


@dataclass(frozen=True)
class TaskFailed:
    candidate: int
    task_id: str
    error: str


@dataclass(frozen=True)
class TaskSkipped:
    candidate: int
    task_id: str
    reason: str


@dataclass(frozen=True)
class TestsStarted:
    __test__ = False
    candidate: int
    command: str
    round: int = 0
    """0 after the tasks, n after debug round n; ``escalation`` runs count on."""


@dataclass(frozen=True)
class TestOutput:
    __test__ = False
    candidate: int
    line: str


@dataclass(frozen=True)
class TestsDone:
    __test__ = False
    candidate: int
    passed: bool
    result: dict[str, Any]


@dataclass(frozen=True)
class DebugStarted:
    """A fix attempt after failing tests; its call reports as task ``task_id`` (``fix-1``, ``escalation``)."""

    candidate: int
    task_id: str
    round: int
    model: str
    escalation: bool = False


@dataclass(frozen=True)
class ReviewStarted:
    candidate: int
    model: str


@dataclass(frozen=True)
class ReviewText:
    """The reviewer wrote ``tokens`` more tokens (its answer is shown parsed, when it is done)."""

    candidate: int
    tokens: int


@dataclass(frozen=True)
class ReviewDone:
    candidate: int
    model: str
    verdict: str | None
    """PASS, CONCERN or BLOCK; None when the review failed (``error``)."""
    review: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True)
class CandidateDone:
    candidate: int
    ok: bool
    tests_passed: bool | None
    diff_lines: int


@dataclass(frozen=True)
class TaskRouted:
    """The router chose the task's model on measured speed (``[router]``)."""

    candidate: int
    task_id: str
    model: str
    reason: str


@dataclass(frozen=True)
class Note:
    candidate: int | None
    text: str


@dataclass(frozen=True)
class RunDone:
    run_id: str
    state: str
    """ready, failed or interrupted."""
    winner: int | None
    ok: bool


ExecEvent = (
    RunStarted | TaskQueued | TaskStarted | TaskRouted | TaskText | CallQueued | TaskRetrying | TaskDone | TaskFailed
    | TaskSkipped | TestsStarted | TestOutput | TestsDone | DebugStarted | ReviewStarted | ReviewText | ReviewDone
    | CandidateDone | Note | RunDone
)
ProgressSink = Callable[[ExecEvent], None]


GRAMMAR_FILES = 3
"""A task that names no file may edit the first few files its context shows (under the embedded engine's edit
grammar)."""
ANSWER_FRAME_TOKENS, TOKENS_PER_LINE, MIN_REPLACE_LINES = 120, 10, 8
"""Under the edit grammar, a REPLACE may have as many lines as fit the model's token cap after the rest of the
answer (its sentence, the path, the SEARCH lines), at about ten tokens a line: a small model repeats its new
lines until the grammar makes it close the block, and the block has to close before the cap cuts it."""
EDIT_TEMPERATURE = 0.2
"""The most a model under the edit grammar is sampled at: its SEARCH copies lines, its REPLACE is code."""


class ExecuteError(Exception):
    """The run cannot be carried out (unknown run, nothing to do, a run another process is carrying out)."""


# ------------------------------------------------------------------------------------------------ starting


def begin(store: Store, repo: Path, task: str, plan: str, *, run_id: str | None = None,
          plan_run_id: str | None = None, state: str = "executing") -> str:
    """Record a new execution run based on the user's HEAD in ``repo``; returns its id.

    Raises:
        WorktreeError: ``repo`` is not in a git repository, or it has no commit yet.
    """
    from moot.core.ensemble import new_run_id

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


@dataclass
class _Edit:
    """What an edit round left: the files it changed, or why it failed."""

    files: list[str] = field(default_factory=list)
    error: str | None = None


class _Engine:
    def __init__(self, config: Config, store: Store, run: runs.ExecRun, on_progress: ProgressSink | None):
        self.config, self.store, self.run = config, store, run
        self.run_id = run.run_id
        self.emit: ProgressSink = on_progress or (lambda e: None)
        self.repo = Path(run.repo_dir)
        self._distilled: str | None = None
        self._distilling = asyncio.Lock()
        self.speed = SpeedRouter(config, store)

    # -------------------------------------------------------------------------------------------- helpers

    def _model(self, alias: str | None) -> ModelConfig | None:
        return self.config.model(alias) if alias else None

    async def _plan_for_tasks(self, model: ModelConfig, cand: int) -> str:
        """What each task's agent sees of the plan, by ``[context] strategy``: the plan itself (``full``,
        ``scoped``), its distillation, kept with the run (``distilled``), or nothing (``fresh``)."""
        strategy = self.config.context.strategy
        if strategy == "fresh" or not self.run.plan.strip():
            return ""
        if strategy != "distilled":
            return self.run.plan
        async with self._distilling:  # candidates ask at once: one call
            return await self._distill(model, cand)

    async def _distill(self, model: ModelConfig, cand: int) -> str:
        if self._distilled is None:
            from moot.context.distill import DistillError, distill

            from .landing import planner_model

            distiller = planner_model(self.config) or model
            try:
                found = await distill(self.run.plan, distiller, store=self.store, run_id=self.run_id)
                self._distilled = found.text
                self.emit(Note(cand, f"the plan distilled by {found.model_alias}: "
                                     f"{found.source_tokens} -> {found.tokens} tokens"))
            except DistillError as e:
                self._distilled = self.run.plan
                self.emit(Note(cand, f"{e}; the tasks get the whole plan"))
        return self._distilled

    async def _context(self, wt: Worktree, text: str, files: Sequence[str], role: str, model: ModelConfig,
                       cand: int, budget: int | None = None) -> tuple[str, list[str]]:
        """The repository context for a task, read from the worktree: scoped to the task within its role's
        budget, or ``budget`` (every file whole as far as it goes under ``full``; only its own files under
        ``fresh``). Returns its text and the files it shows whole or outlined, best first."""
        budget = self.config.budget_for(role) if budget is None else budget
        if budget <= 0:
            return "", []
        strategy = {"full": "full", "fresh": "fresh"}.get(self.config.context.strategy, "scoped")

        def build() -> tuple[str, list[str]]:
            from moot.context.cache import TagCache, build_index
            from moot.context.files import list_files
            from moot.context.scope import scope

            from .safety import UnsafePath, check_path

            pinned = []
            for f in files:
                with contextlib.suppress(UnsafePath, OSError):
                    if check_path(wt.path, f).is_file():
                        pinned.append(f)
            cache = TagCache()
            try:
                index = build_index(wt.path, files=list_files(wt.path, sniff=False), cache=cache)
            finally:
                cache.close()
            found = scope(index, text, budget, strategy=strategy, model=model.model, pinned=pinned,  # type: ignore[arg-type]
                          plan_files=list(files))
            return found.text, [i.path for i in found.items if i.kind in ("full", "outline")]

        try:
            return await asyncio.to_thread(build)
        except Exception as e:  # context helps the model; its absence must not fail the task
            self.emit(Note(cand, f"no repository context for this task: {e}"))
            return "", []

    async def _grammar(self, wt: Worktree, model: ModelConfig, files: Sequence[str], shown: Sequence[str],
                       cand: int) -> str | None:
        """The grammar the embedded engine decodes a task's edits under (``edit_grammar``): SEARCH text only from
        lines of the task's files (or, when it names none, of the files its context shows), paths only theirs
        or a new file's. None for other engines, or files too large to build it for (the model then answers
        freely, as every other model does)."""
        if not decodes_grammar(model):
            return None

        def build() -> str | None:
            from moot.context.files import list_files

            from .edit_grammar import edit_grammar
            from .safety import UnsafePath, check_path

            targets: dict[str, str | None] = {}
            for f in list(files) or list(shown)[:GRAMMAR_FILES]:
                try:
                    path = check_path(wt.path, f)
                    targets[f] = path.read_text(encoding="utf-8") if path.exists() else None  # None: to create
                except (UnsafePath, OSError, UnicodeDecodeError):
                    continue
            lines = max(MIN_REPLACE_LINES, (model.max_tokens - ANSWER_FRAME_TOKENS) // TOKENS_PER_LINE)
            return edit_grammar(targets, existing=[f.rel for f in list_files(wt.path, sniff=False)],
                                replace_lines=lines)

        try:
            return await asyncio.to_thread(build)
        except Exception as e:  # the grammar helps a small model; without it the task still runs
            self.emit(Note(cand, f"edits are not held to the files' lines: {type(e).__name__}: {e}"))
            return None

    async def _edit_round(self, cand: int, wt: Worktree, label: str, model: ModelConfig, messages: list[Message],
                          phase: str, on_retry: Callable[[int, str], None],
                          grammar: Callable[[], Awaitable[str | None]] | None = None) -> _Edit:
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
            params = Params(grammar=held, temperature=min(model.temperature, EDIT_TEMPERATURE)) if held else None
            result = await run_call(model, messages, params, ctx=ctx, on_event=forward)
            text = close_cut_block(result.text) if held and result.finish_reason == "length" else result.text
            _cancel_point()
            if not result.ok:
                assert result.error is not None
                return _Edit(files, f"{model.name} failed: {result.error.kind}: {result.error.message}")
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
                        return _Edit(files)
                    reason = "; ".join(f"{f.edit.path}: {f.kind}: {f.message}" for f in report.failed)
                    feedback = failure_feedback(report, wt.path)
            if attempt == retries:
                return _Edit(files, reason)
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
        runs.set_task(self.store, self.run_id, n, t.task_id, "running")
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

        def retrying(attempt: int, reason: str) -> None:
            runs.set_task(self.store, self.run_id, n, t.task_id, "retrying", error=reason)
            t.attempts += 1
            runs.set_task_attempts(self.store, self.run_id, n, t.task_id, t.attempts)

        outcome = await self._edit_round(n, wt, t.task_id, model, messages, "execute", retrying,
                                         lambda: self._grammar(wt, model, t.files, shown, n))
        if outcome.error is not None:
            await asyncio.to_thread(wtree.discard, wt)
            return self._fail(n, t, outcome.error)
        sha = await asyncio.to_thread(wtree.commit, wt, f"moot: {t.title}", model.name, task_id=t.task_id)
        runs.set_task(self.store, self.run_id, n, t.task_id, "done", commit=sha)
        t.status, t.commit = "done", sha
        unlisted = tuple(f for f in outcome.files if t.files and f not in t.files)
        self.emit(TaskDone(n, t.task_id, sha, tuple(outcome.files), unlisted=unlisted))
        return True

    def _fail(self, n: int, t: runs.TaskRow, error: str) -> bool:
        runs.set_task(self.store, self.run_id, n, t.task_id, "failed", error=error)
        t.status, t.error = "failed", error
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
            sha = t.commit if t.status == "done" and t.commit else committed.get(t.task_id)
            if sha:
                if t.status != "done" or t.commit != sha:
                    runs.set_task(self.store, self.run_id, n, t.task_id, "done", commit=sha)
                t.status, t.commit = "done", sha
                status[t.task_id] = "done"
                self.emit(TaskDone(n, t.task_id, sha, (), resumed=True))
                continue
            blocked = [d for d in t.depends_on if status.get(d) != "done"]
            if blocked:
                how = ", ".join(f"{d} ({status.get(d, 'not done')})" for d in blocked)
                reason = f"skipped: it depends on {how}"
                runs.set_task(self.store, self.run_id, n, t.task_id, "skipped", error=reason)
                t.status, t.error = "skipped", reason
                status[t.task_id] = "skipped"
                self.emit(TaskSkipped(n, t.task_id, reason))
                continue
            ok = await self._task(c, wt, t)
            status[t.task_id] = "done" if ok else "failed"

    # ---------------------------------------------------------------------------------------------- tests

    async def _run_tests(self, n: int, wt: Worktree, round_: int) -> TestResult:
        command = self.config.project.test_command
        assert command
        self.emit(TestsStarted(n, command, round_))
        result = await run_tests(command, wt.path, self.config.project.test_timeout_s,
                                 on_output=lambda line: self.emit(TestOutput(n, line)),
                                 env_allow=self.config.agents.test_env_allow)
        _cancel_point()
        self.emit(TestsDone(n, result.passed, result.to_dict()))
        return result

    async def _debug_task(self, c: runs.CandidateRow, wt: Worktree, result: TestResult) -> runs.TaskRow | None:
        """The task whose model gets the failing output: the last one that changed a file the output names,
        else the last task done (else the first task)."""
        done = [t for t in c.tasks if t.status == "done" and t.commit]
        text = result.output
        for t in reversed(done):
            assert t.commit is not None
            changed = await asyncio.to_thread(wtree.changed_files, wt, t.commit)
            if any(f in text or (PurePosixPath(f).name in text and "." in PurePosixPath(f).name) for f in changed):
                return t
        return done[-1] if done else (c.tasks[0] if c.tasks else None)

    async def _fix(self, c: runs.CandidateRow, wt: Worktree, model: ModelConfig, role: str, title: str,
                   result: TestResult, label: str, subject: str) -> bool:
        """One fix attempt: the failing output to ``model``; its edits become one commit."""
        n = c.candidate
        changed = await asyncio.to_thread(_changed_since_base, wt)
        context, shown = await self._context(wt, f"{title}\n{result.output_tail}", changed, role, model, n)
        user = debug_prompt(result, title)
        if self.run.plan.strip():
            user += f"\n\nThe plan these changes carry out:\n{self.run.plan.strip()}"
        if context.strip():
            user += f"\n\nRelevant parts of the repository:\n{context.strip()}"
        messages: list[Message] = [{"role": "system", "content": prompts.agent_system(role)},
                                   {"role": "user", "content": redact(user)}]  # no key from any of it
        self.emit(TaskStarted(n, label, model.name))
        outcome = await self._edit_round(n, wt, label, model, messages, "debug", lambda a, r: None,
                                         lambda: self._grammar(wt, model, changed, shown, n))
        if outcome.error is not None:
            await asyncio.to_thread(wtree.discard, wt)
            self.emit(TaskFailed(n, label, outcome.error))
            return False
        sha = await asyncio.to_thread(wtree.commit, wt, f"moot: {subject}", model.name)
        self.emit(TaskDone(n, label, sha, tuple(outcome.files)))
        return True

    async def _tests(self, c: runs.CandidateRow, wt: Worktree) -> TestResult | None:
        if not self.config.project.test_command:
            return None
        n = c.candidate
        runs.set_candidate(self.store, self.run_id, n, status="testing")
        runs.set_state(self.store, self.run_id, "testing")
        result = await self._run_tests(n, wt, 0)
        limit = self.config.agents.debug_limit
        round_ = 0
        while not result.passed and round_ < limit:
            round_ += 1
            task = await self._debug_task(c, wt, result)
            model = self._model(task.model_alias if task else None)
            if task is None or model is None:
                break
            self.emit(DebugStarted(n, f"fix-{round_}", round_, model.name))
            if await self._fix(c, wt, model, task.role, task.title, result, f"fix-{round_}",
                               f"fix tests (round {round_})"):
                result = await self._run_tests(n, wt, round_)
        escalation = self._model(self.config.agents.escalation)
        if not result.passed and escalation is not None:
            task = await self._debug_task(c, wt, result)
            role, title = (task.role, task.title) if task else ("backend", "the plan")
            self.emit(DebugStarted(n, "escalation", round_ + 1, escalation.name, escalation=True))
            if await self._fix(c, wt, escalation, role, title, result, "escalation", "fix tests (escalation)"):
                result = await self._run_tests(n, wt, round_ + 1)
        runs.set_candidate(self.store, self.run_id, n, tests=result.to_dict())
        c.tests = result.to_dict()
        return result

    # --------------------------------------------------------------------------------------------- review

    async def _review(self, c: runs.CandidateRow, wt: Worktree) -> None:
        from .review import ReviewError, review_diff

        n = c.candidate
        alias = self.config.roles.get("reviewer")
        model = self._model(alias)
        if model is None:
            return
        diff = await asyncio.to_thread(wtree.diff_text, wt)
        if not diff.strip():
            self.emit(Note(n, "nothing changed, so there is nothing to review"))
            return
        runs.set_candidate(self.store, self.run_id, n, status="reviewing")
        runs.set_state(self.store, self.run_id, "reviewing")
        self.emit(ReviewStarted(n, model.name))
        ctx = CallContext(self.store, self.run_id, "review", label=c.branch)

        def forward(ev: Event) -> None:
            if isinstance(ev, TextDelta):
                self.emit(ReviewText(n, ev.tokens))
            elif isinstance(ev, Queued | Started):
                self.emit(CallQueued(n, "review", ev.ahead if isinstance(ev, Queued) else 0))

        try:
            review = await review_diff(diff, self.run.plan, model, ctx=ctx, on_event=forward)
            _cancel_point()
        except ReviewError as e:
            doc: dict[str, Any] = {"model": model.name, "verdict": None, "findings": [], "error": str(e)}
            runs.set_candidate(self.store, self.run_id, n, review=doc)
            c.review = doc
            self.emit(ReviewDone(n, model.name, None, doc, str(e)))
            return
        doc = review.to_dict()
        runs.set_candidate(self.store, self.run_id, n, review=doc)
        c.review = doc
        self.emit(ReviewDone(n, model.name, review.verdict, doc))

    # ------------------------------------------------------------------------------------------ candidates

    async def _worktree(self, c: runs.CandidateRow) -> Worktree:
        run = self.run

        def prepare() -> Worktree:
            try:
                return wtree.reopen(self.repo, self.run_id, c.candidate, run.base_sha, run.base_branch)
            except wtree.WorktreeLocked:
                raise  # the user decides about a lock; the run stays resumable
            except WorktreeError:
                if c.head_sha or any(t.status == "done" for t in c.tasks):
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
            runs.set_candidate(self.store, self.run_id, n, status="executing", error=None)
            await self._tasks(c, wt)
            result = await self._tests(c, wt)
            await self._review(c, wt)
            c.head_sha = await asyncio.to_thread(wtree.head, wt)
            c.diff_lines = await asyncio.to_thread(wtree.diff_lines, wt)
            c.status = "done" if c.ok else "failed"
            runs.set_candidate(self.store, self.run_id, n, status=c.status, head_sha=c.head_sha,
                               diff_lines=c.diff_lines)
            self.emit(CandidateDone(n, c.ok, result.passed if result else None, c.diff_lines))
        except Exception as e:  # one candidate's failure, whatever it is, must not stop the others
            error = str(e) if isinstance(e, (WorktreeError, OSError)) else f"{type(e).__name__}: {e}"
            c.status, c.error = "failed", error
            runs.set_candidate(self.store, self.run_id, n, status="failed", error=error)
            self.emit(Note(n, f"candidate {n} failed: {error}"))
            self.emit(CandidateDone(n, False, None, c.diff_lines or 0))

    async def run_all(self, resumed: bool) -> runs.ExecRun:
        run = self.run
        runs.set_state(self.store, self.run_id, "executing")
        try:
            trees = [await self._worktree(c) for c in run.candidates]
            self.emit(RunStarted(self.run_id, tuple(
                CandidateInfo(c.candidate, c.model_alias, wt.branch, str(wt.path))
                for c, wt in zip(run.candidates, trees, strict=True)), resumed))
            await asyncio.gather(*(self._candidate(c, wt) for c, wt in zip(run.candidates, trees, strict=True)))
        except (asyncio.CancelledError, wtree.WorktreeLocked):
            runs.interrupt(self.store, self.run_id)
            self.emit(RunDone(self.run_id, "interrupted", None, False))
            raise
        except Exception as e:
            runs.set_state(self.store, self.run_id, "failed", error=str(e))
            runs.release(self.run_id)
            self.emit(RunDone(self.run_id, "failed", None, False))
            raise
        winner = choose_winner(run.candidates)
        runs.set_winner(self.store, self.run_id, winner)
        run.winner = winner
        loaded = runs.load(self.store, self.run_id)
        assert loaded is not None
        state = "ready" if loaded.ok else "failed"
        doc = {"task": loaded.task, "plan": loaded.plan, **loaded.to_json()}
        runs.set_state(self.store, self.run_id, state, result=doc)
        runs.release(self.run_id)
        self.emit(RunDone(self.run_id, state, winner, loaded.ok))
        final = runs.load(self.store, self.run_id)
        assert final is not None
        return final


def _cancel_point() -> None:
    """Raise CancelledError if this task was asked to stop: a cancellation that reached an awaited call just
    as it finished can be absorbed on the way (``asyncio.wait_for`` in Python 3.11), and the run must still
    stop before its next step."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _changed_since_base(wt: Worktree) -> list[str]:
    import git

    r = git.Repo(wt.path)
    try:
        out = r.git.diff("--name-only", "--no-renames", wt.base_sha, "HEAD")
        return [line for line in out.splitlines() if line.strip()]
    finally:
        r.close()


def choose_winner(candidates: Sequence[runs.CandidateRow]) -> int:
    """Tests passed first; then fewer unfinished tasks; then the smaller diff; then the first candidate."""

    def key(c: runs.CandidateRow) -> tuple[int, int, int, int]:
        tests = 0 if c.tests_passed else (1 if c.tests_passed is None else 2)
        unfinished = sum(t.status != "done" for t in c.tasks)
        return tests, unfinished + (1000 if c.status == "failed" and c.error else 0), c.diff_lines or 0, c.candidate

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
            runs.set_state(store, run.run_id, "failed", error=str(e))
            runs.release(run.run_id)
            raise
        run = runs.load(store, run.run_id)
        assert run is not None
    engine = _Engine(config, store, run, on_progress)
    try:
        return await engine.run_all(resumed)
    finally:
        runs.release(run.run_id)


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
