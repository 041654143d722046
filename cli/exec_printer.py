"""How ``moot run`` shows a run on stderr: one line per step, the step under way with its seconds and tokens."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TextIO

from moot.agents import events as xe
from moot.core.text import control
from moot.core.words import plural

QUIET_S = 10.0
"""Without a terminal, a long step's figures are printed this often."""


class ExecPrinter:
    """Turns the engine's events into lines on stderr. The step under way (splitting, a task, the tests, the
    review) shows its seconds and tokens so far: on a terminal in a line rewritten in place, otherwise as a
    line every ``QUIET_S`` seconds (``tick`` is called by ``ticking``)."""

    def __init__(self, stream: TextIO | None = None, show_test_output: bool = True):
        from moot.agents.meter import Meter

        self.out = stream or sys.stderr
        self.show_test_output = show_test_output
        self.several = False
        self.tokens: dict[tuple[int, str], int] = {}
        self.meter: Meter | None = None
        self.live = self.out.isatty()
        self._live_shown = False
        self._last_line = 0.0
        #: What each run event prints (a test checks that every event of ``agents.events`` has its entry).
        self.handlers: dict[type, Callable[[Any], None]] = {
            xe.TaskQueued: lambda ev: None,  # the task list was printed before the run began
            xe.RunStarted: self._on_run_started,
            xe.TaskStarted: self._on_task_started,
            xe.CallQueued: self._on_call_queued,
            xe.ReviewText: self._on_review_text,
            xe.TaskRouted: self._on_task_routed,
            xe.TaskText: self._on_task_text,
            xe.TaskRetrying: self._on_task_retrying,
            xe.TaskDone: self._on_task_done,
            xe.TaskFailed: self._on_task_failed,
            xe.TaskSkipped: self._on_task_skipped,
            xe.TestsStarted: self._on_tests_started,
            xe.TestOutput: self._on_test_output,
            xe.TestsDone: self._on_tests_done,
            xe.DebugStarted: self._on_debug_started,
            xe.ReviewStarted: self._on_review_started,
            xe.ReviewDone: self._on_review_done,
            xe.CandidateDone: self._on_candidate_done,
            xe.Note: self._on_note,
            xe.RunDone: self._on_run_done,
        }

    def say(self, text: str) -> None:
        if self._live_shown:
            control(self.out, "\r\x1b[2K")
            self._live_shown = False
        print(text, file=self.out, flush=True)
        self._last_line = time.monotonic()

    def step(self, label: str) -> Any:
        """Start following a long step; returns its meter."""
        from moot.agents.meter import Meter

        self.meter = Meter(label)
        return self.meter

    def tick(self) -> None:
        if self.meter is None:
            return
        if self.live:
            control(self.out, "\r\x1b[2K")
            self.out.write(f"  {self.meter.text()}")
            self.out.flush()
            self._live_shown = True
        elif time.monotonic() - self._last_line >= QUIET_S:
            self.say(f"  {self.meter.text()}")

    def _end_step(self) -> None:
        self.meter = None
        if self._live_shown:
            control(self.out, "\r\x1b[2K")
            self.out.flush()
            self._live_shown = False

    def _mine(self, candidate: int | None, step: str) -> bool:
        return self.meter is not None and self.meter.label.startswith(f"{self._who(candidate)}{step} ")

    def _who(self, candidate: int | None) -> str:
        return f"[{candidate}] " if self.several and candidate is not None else ""

    def __call__(self, ev: Any) -> None:
        self.handlers[type(ev)](ev)

    def _on_run_started(self, ev: xe.RunStarted) -> None:
        self.several = len(ev.candidates) > 1
        verb = "resuming" if ev.resumed else "run"
        for c in ev.candidates:
            who = f" ({c.model})" if c.model else ""
            self.say(f"moot: {verb} {ev.run_id}: {self._who(c.candidate)}branch {c.branch}{who} in {c.worktree}")

    def _on_task_started(self, ev: xe.TaskStarted) -> None:
        if ev.attempt == 0:
            self.tokens[(ev.candidate, ev.task_id)] = 0
            self.say(f"  {self._who(ev.candidate)}{ev.task_id}: {ev.model} working…")
        self.step(f"{self._who(ev.candidate)}{ev.task_id} · {ev.model}")

    def _on_call_queued(self, ev: xe.CallQueued) -> None:
        if self._mine(ev.candidate, ev.step) and self.meter is not None:
            self.meter.queued(ev.ahead)

    def _on_review_text(self, ev: xe.ReviewText) -> None:
        if self.meter is not None:
            self.meter.add(ev.tokens)

    def _on_task_routed(self, ev: xe.TaskRouted) -> None:
        how = "shaped from its record" if ev.kind == "shape" else "routed on measured speed"
        self.say(f"  {self._who(ev.candidate)}{ev.task_id}: {how}: {ev.reason}")

    def _on_task_text(self, ev: xe.TaskText) -> None:
        key = (ev.candidate, ev.task_id)
        self.tokens[key] = self.tokens.get(key, 0) + ev.tokens
        if self._mine(ev.candidate, ev.task_id) and self.meter is not None:
            self.meter.add(ev.tokens)

    def _on_task_retrying(self, ev: xe.TaskRetrying) -> None:
        self.say(f"  {self._who(ev.candidate)}{ev.task_id}: retry {ev.attempt}: {ev.reason}")

    def _on_task_done(self, ev: xe.TaskDone) -> None:
        self._end_step()
        files = f" ({', '.join(ev.files)})" if ev.files else ""
        if ev.resumed:
            self.say(f"  {self._who(ev.candidate)}{ev.task_id}: already done, {ev.commit[:10]}")
        else:
            n = self.tokens.get((ev.candidate, ev.task_id), 0)
            self.say(f"  {self._who(ev.candidate)}{ev.task_id}: done, {ev.commit[:10]}{files}, "
                     f"{plural(n, 'token')}")
            if ev.unlisted:
                self.say(f"  {self._who(ev.candidate)}{ev.task_id}: also changed, outside the task's files: "
                         f"{', '.join(ev.unlisted)}")

    def _on_task_failed(self, ev: xe.TaskFailed) -> None:
        self._end_step()
        self.say(f"  {self._who(ev.candidate)}{ev.task_id}: failed: {ev.error}")

    def _on_task_skipped(self, ev: xe.TaskSkipped) -> None:
        self.say(f"  {self._who(ev.candidate)}{ev.task_id}: {ev.reason}")

    def _on_tests_started(self, ev: xe.TestsStarted) -> None:
        self.say(f"moot: {self._who(ev.candidate)}tests: {ev.command}")
        self.step(f"{self._who(ev.candidate)}tests: {ev.command}")

    def _on_test_output(self, ev: xe.TestOutput) -> None:
        if self.show_test_output:
            self.say(f"    {self._who(ev.candidate)}| {ev.line}")

    def _on_tests_done(self, ev: xe.TestsDone) -> None:
        self._end_step()
        r = ev.result
        how = "passed" if ev.passed else ("timed out" if r.get("timed_out") else f"failed (exit {r.get('exit_code')})")
        self.say(f"moot: {self._who(ev.candidate)}tests {how} in {r.get('duration_s', 0):.1f} s")

    def _on_debug_started(self, ev: xe.DebugStarted) -> None:
        what = "escalation" if ev.escalation else f"debug round {ev.round}"
        self.say(f"moot: {self._who(ev.candidate)}{what}: {ev.model} fixes the failing tests")

    def _on_review_started(self, ev: xe.ReviewStarted) -> None:
        self.say(f"moot: {self._who(ev.candidate)}review by {ev.model}…")
        self.step(f"{self._who(ev.candidate)}review · {ev.model}")

    def _on_review_done(self, ev: xe.ReviewDone) -> None:
        self._end_step()
        if ev.error:
            self.say(f"moot: {self._who(ev.candidate)}review failed: {ev.error}")
        else:
            count = len((ev.review or {}).get("findings") or [])
            self.say(f"moot: {self._who(ev.candidate)}review: {ev.verdict}, {count} finding(s)")

    def _on_candidate_done(self, ev: xe.CandidateDone) -> None:
        if self.several:
            tests = {True: "tests passed", False: "tests failed", None: "no tests"}[ev.tests_passed]
            self.say(f"moot: candidate {ev.candidate}: {'ok' if ev.ok else 'failed'}, {tests}, "
                     f"{plural(ev.diff_lines, 'line')} changed")

    def _on_note(self, ev: xe.Note) -> None:
        self.say(f"moot: {self._who(ev.candidate)}{ev.text}")

    def _on_run_done(self, ev: xe.RunDone) -> None:
        winner = f", winner: candidate {ev.winner}" if self.several and ev.winner is not None else ""
        self.say(f"moot: run {ev.run_id} {ev.state}{winner}")


@contextlib.asynccontextmanager
async def ticking(printer: ExecPrinter) -> AsyncIterator[None]:
    """Call ``printer.tick`` every half second while the body runs."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(0.5)
            printer.tick()

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        printer._end_step()
