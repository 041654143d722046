"""What a task's agent is given: the plan (whole, distilled or none, by ``[context] strategy``), the
repository context scoped to the task, and, on the embedded engine, the grammar its edits are decoded under."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from moot.core.config.models import ModelConfig
from moot.core.structured import decodes_grammar

from .events import Note
from .steps import EngineBase
from .worktree import Worktree

GRAMMAR_FILES = 3
"""A task that names no file may edit the first few files its context shows (under the embedded engine's edit
grammar)."""
ANSWER_FRAME_TOKENS, TOKENS_PER_LINE, MIN_REPLACE_LINES = 120, 10, 8
"""Under the edit grammar, a REPLACE may have as many lines as fit the model's token cap after the rest of the
answer (its sentence, the path, the SEARCH lines), at about ten tokens a line: a small model repeats its new
lines until the grammar makes it close the block, and the block has to close before the cap cuts it."""
EDIT_TEMPERATURE = 0.2
"""The most a model under the edit grammar is sampled at: its SEARCH copies lines, its REPLACE is code."""


class TaskInputs(EngineBase):
    _distilled: str | None
    _distilling: asyncio.Lock

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
            found = scope(index, text, budget, context_strategy=strategy, model=model.model, pinned=pinned,  # type: ignore[arg-type]
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
