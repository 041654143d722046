"""After the tasks: the project's tests, the debug rounds and the escalation model's fix when they fail, and the
reviewer's verdict on the candidate's diff."""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath
from typing import Any

from moot.core.calls import CallContext
from moot.core.config.models import ModelConfig
from moot.core.events import Event, Queued, Started, TextDelta
from moot.core.providers.base import Message
from moot.core.storage import redact

from . import prompts, runs
from . import worktree as wtree
from .events import (
    CallQueued,
    DebugStarted,
    Note,
    ReviewDone,
    ReviewStarted,
    ReviewText,
    TaskDone,
    TaskFailed,
    TaskStarted,
    TestOutput,
    TestsDone,
    TestsStarted,
)
from .steps import EngineBase, cancel_point
from .testing import TestResult, debug_prompt, run_tests
from .worktree import Worktree


class Checks(EngineBase):
    # ---------------------------------------------------------------------------------------------- tests

    async def _run_tests(self, n: int, wt: Worktree, round_: int) -> TestResult:
        command = self.config.project.test_command
        assert command
        self.emit(TestsStarted(n, command, round_))
        result = await run_tests(command, wt.path, self.config.project.test_timeout_s,
                                 on_output=lambda line: self.emit(TestOutput(n, line)),
                                 env_allow=self.config.agents.test_env_allow)
        cancel_point()
        self.emit(TestsDone(n, result.passed, result.to_dict()))
        return result

    async def _debug_task(self, c: runs.CandidateRow, wt: Worktree, result: TestResult) -> runs.TaskRow | None:
        """The task whose model gets the failing output: the last one that changed a file the output names,
        else the last task done (else the first task)."""
        done = [t for t in c.tasks if t.status == runs.TaskState.DONE and t.commit]
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

    def _no_escalation(self, result: TestResult, rounds: int) -> str | None:
        """Why the failing tests are not handed to the escalation model, else None: escalation needs evidence
        (output from the failing tests, or a time-out), never only a failure."""
        if not (result.output_tail.strip() or result.timed_out):
            return "the failing tests printed nothing to go on (escalation needs a failing output or a traceback)"
        return None

    async def _tests(self, c: runs.CandidateRow, wt: Worktree) -> TestResult | None:
        if not self.config.project.test_command:
            return None
        n = c.candidate
        runs.set_candidate(self.store, self.run_id, n, status=runs.CandidateState.TESTING)
        runs.set_state(self.store, self.run_id, runs.RunState.TESTING)
        result = await self._run_tests(n, wt, 0)
        self.first_tests[n] = result.passed
        limit = self.config.agents.debug_limit
        if self.config.agents.escalation:  # the escalation model takes over after the cycles the thresholds say
            limit = min(limit, self.config.thresholds.debug_escalation_after_cycles)
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
        if not result.passed and escalation is not None and (why := self._no_escalation(result, round_)):
            self.emit(Note(n, f"no escalation to {escalation.name}: {why}"))
        elif not result.passed and escalation is not None:
            task = await self._debug_task(c, wt, result)
            role, title = (task.role, task.title) if task else ("backend", "the plan")
            self.emit(DebugStarted(n, "escalation", round_ + 1, escalation.name, escalation=True))
            self.escalated.add(n)
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
        runs.set_candidate(self.store, self.run_id, n, status=runs.CandidateState.REVIEWING)
        runs.set_state(self.store, self.run_id, runs.RunState.REVIEWING)
        self.emit(ReviewStarted(n, model.name))
        ctx = CallContext(self.store, self.run_id, "review", label=c.branch)

        def forward(ev: Event) -> None:
            if isinstance(ev, TextDelta):
                self.emit(ReviewText(n, ev.tokens))
            elif isinstance(ev, Queued | Started):
                self.emit(CallQueued(n, "review", ev.ahead if isinstance(ev, Queued) else 0))

        try:
            review = await review_diff(diff, self.run.plan, model, ctx=ctx, on_event=forward,
                                       effort=self._effort("review"))
            cancel_point()
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


def _changed_since_base(wt: Worktree) -> list[str]:
    import git

    r = git.Repo(wt.path)
    try:
        out = r.git.diff("--name-only", "--no-renames", wt.base_sha, "HEAD")
        return [line for line in out.splitlines() if line.strip()]
    finally:
        r.close()
