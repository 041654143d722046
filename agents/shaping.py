"""A local task's query, shaped from what moot learned of its model (``core.perf.shapes``), and what came of it.

    shaper = Shaper(config, store)
    choice = shaper.choose("backend", model, files=["app.py"], context_tokens=1800, prompt_tokens=400)
    ...                                   # the task, asked in choice.shape's way
    shaper.record(choice, model, run_id, task_id, parsed=True, applied=True, retried=False, output_tokens=210)

The choice (its shape and the evidence for it) is shown as the task's routing line; the outcome is settled
when the run's tests and review are in (``settle``), and the run's share of tasks done locally is kept.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence

from moot.core.config.models import Config, ModelConfig
from moot.core.perf.analyse import Analyser
from moot.core.perf.shapes import (
    Outcome,
    ShapeChoice,
    choose_shape,
    record_outcome,
    record_share,
    settle_run,
    size_task,
)
from moot.core.perf.store import host_of
from moot.core.providers.base import Message
from moot.core.storage import Store

from . import runs
from .steps import EditOutcome, EngineBase
from .worktree import Worktree


class Shaper:
    """Chooses the shape of each local task's query and records its outcome."""

    def __init__(self, config: Config, store: Store, *, rng: random.Random | None = None) -> None:
        self.config, self.store = config, store
        self.analyser = Analyser(store)
        self.rng = rng or random.Random()

    def applies(self, model: ModelConfig) -> bool:
        return self.config.router.learn_shapes and model.is_local

    def choose(self, role: str, model: ModelConfig, *, files: Sequence[str], context_tokens: int,
               prompt_tokens: int) -> ShapeChoice:
        """The shape for this task: ``prompt_tokens`` is the request without its repository context."""
        size = size_task(self.store, role, files=len(files), context_tokens=context_tokens)
        host = host_of(model)

        def predict(shape) -> float | None:  # type: ignore[no-untyped-def]
            p = self.analyser.predict(model.model, host, prompt_tokens + min(shape.context, context_tokens),
                                      min(shape.output, model.max_tokens, size.expected_output))
            return p.seconds if p is not None else None

        return choose_shape(self.store, model, role, size, predict=predict,
                            limit_s=self.config.router.local_max_latency_s, rng=self.rng)

    def record(self, choice: ShapeChoice, model: ModelConfig, run_id: str, task_id: str, *, parsed: bool | None,
               applied: bool, retried: bool, candidate: int | None = None, output_tokens: int = 0,
               latency_s: float | None = None) -> None:
        record_outcome(self.store, Outcome(
            model.model, host_of(model), choice.role, choice.shape.key, choice.size.bucket, run_id=run_id,
            task_id=task_id, candidate=candidate, parsed=parsed, applied=applied, retried=retried, reason=choice.describe(),
            output_tokens=output_tokens, latency_s=latency_s))

    def settle(self, run_id: str, candidate: int, *, tests_passed: bool | None, verdict: str | None,
               escalated: bool) -> None:
        """A candidate's tests (their first run: what the local models' edits did), its review and whether it
        needed the escalation model, on that candidate's local outcomes."""
        settle_run(self.store, run_id, tests_passed=tests_passed, verdict=verdict, escalated=escalated or None,
                   candidate=candidate)

    def share(self, run_id: str, aliases: Sequence[str]) -> None:
        """Keep how many of the run's tasks a local model carried out."""
        local = sum(1 for a in aliases if (m := self.config.model(a)) is not None and m.is_local)
        record_share(self.store, run_id, len(aliases), local, self.config.roles.get("planner"))


class ShapedTasks(EngineBase):
    """The engine's steps for a shaped local task (mixed into ``execute.Engine``)."""

    shaper: Shaper

    async def _shape(self, n: int, t: runs.TaskRow, model: ModelConfig, wt: Worktree, text: str, plan: str,
                     context: str) -> ModelConfig | tuple[ShapeChoice, ModelConfig, str, list[str], list[Message]]:
        """Choose the task's shape and build its request that way; or, when no shape is likely to succeed and
        the role has a hosted model, that model (the task goes there, as asked)."""
        from moot.core.tokens import count_tokens

        from . import prompts
        from .events import TaskRouted
        from .speed import prompt_tokens

        bare = prompt_tokens(prompts.task_messages(t.role, t.title, t.description, t.files, plan, ""), model.model)
        choice = await asyncio.to_thread(self.shaper.choose, t.role, model, files=t.files,
                                         context_tokens=count_tokens(context, model.model), prompt_tokens=bare)
        hosted = self.config.model(self.config.router.hosted.get(t.role, ""))
        if not choice.local and hosted is not None and not hosted.is_local:
            runs.set_task_model(self.store, self.run_id, n, t.task_id, hosted.name)
            t.model_alias = hosted.name
            self.emit(TaskRouted(n, t.task_id, hosted.name, choice.describe(), kind="shape"))
            return hosted
        shaped = model.model_copy(update={"max_tokens": min(model.max_tokens, choice.shape.output)})
        budget = min(self.config.budget_for(t.role) or choice.shape.context, choice.shape.context)  # yours caps it
        context, shown = await self._context(wt, text, t.files, t.role, shaped, n, budget)
        messages = prompts.task_messages(t.role, t.title, t.description, t.files, plan, context,
                                         terse=choice.shape.prompt == "terse")
        self.emit(TaskRouted(n, t.task_id, model.name, choice.describe(), kind="shape"))
        return choice, shaped, context, shown, messages

    async def _file_by_file(self, n: int, wt: Worktree, t: runs.TaskRow, model: ModelConfig, context: str,
                            on_retry: Callable[[int, str], None]) -> EditOutcome:
        """The task asked one file at a time (a shape for models that do better with a narrow question); it
        fails at the first file that fails."""
        from . import prompts

        files: list[str] = []
        for path in t.files:
            one, _ = await self._context(wt, f"{t.title}\n{t.description}", [path], t.role, model, n,
                                         max(200, len(context) // 4 // max(1, len(t.files))))
            messages = prompts.task_messages(t.role, f"{t.title} (only the part in {path})", t.description, [path],
                                             "", one, terse=True)
            outcome = await self._edit_round(n, wt, t.task_id, model, messages, "execute", on_retry)
            files += [f for f in outcome.files if f not in files]
            if outcome.error is not None:
                return EditOutcome(files, f"{path}: {outcome.error}")
        return EditOutcome(files)
