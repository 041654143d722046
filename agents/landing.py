"""The steps around carrying out a plan that every front end takes the same way: splitting the plan into tasks
for a new run, landing the chosen hunks of a finished run on the user's branch, and dropping a run whole.

``moot run``, ``moot accept`` and ``moot reject`` and the workbench share these, so a run ends the same way
whichever of them the user drives it from.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moot.core.config.models import Config, ModelConfig
from moot.core.storage import Store

from . import runs
from . import worktree as wtree
from .accept import AcceptMode, AcceptResult, accept
from .tasks import DecomposeError, InvalidTaskListError, Task, whole_plan_task

if TYPE_CHECKING:
    from moot.core.calls import EventSink

#: The trailer that names the run an accepted commit came from (``moot undo`` looks for it).
TRAILER = "Moot-Run"


def planner_model(config: Config) -> ModelConfig | None:
    """The model that splits plans into tasks: ``[roles] planner``, else the judge, else the first model."""
    for role in ("planner", "judge"):
        alias = config.roles.get(role)
        if alias and (m := config.model(alias)) is not None:
            return m
    return config.models[0] if config.models else None


async def split_plan(config: Config, store: Store, repo: Path, run_id: str,
                     plan: str, on_event: EventSink | None = None) -> tuple[list[Task], str | None]:
    """Split ``plan`` into tasks with the planner, showing it the repository context the planner's budget
    allows; the calls are logged under ``run_id``, and their events go to ``on_event`` (for progress).

    Returns:
        The tasks, and a note when the planner's task list was invalid twice and the whole plan became one
        task instead (the user sees the tasks before any begins, so they can still stop here).

    Raises:
        DecomposeError: no model is configured, or the call failed.
    """
    from moot.context.planning import planning_context
    from moot.core.calls import CallContext

    from .tasks import decompose

    model = planner_model(config)
    if model is None:
        raise DecomposeError("no model is configured to split the plan into tasks")
    from moot.context.files import list_files

    context = await asyncio.to_thread(planning_context, repo, plan, config.budget_for("planner"), model.model)
    known = [f.rel for f in await asyncio.to_thread(list_files, repo)]
    brief = await asyncio.to_thread(local_brief_for, config, store, model)
    try:
        found = await decompose(plan, model, ctx=CallContext(store, run_id, "decompose"),
                                context_text=context.text if context else "", known_files=known, on_event=on_event,
                                brief=brief)
    except InvalidTaskListError as e:
        return [whole_plan_task(plan)], f"{e}; the whole plan is one task instead"
    return list(found.tasks), None


def local_brief_for(config: Config, store: Store, planner: ModelConfig) -> str:
    """What a hosted planner is told of the local models the roles name (their speed, window and success by
    task size), so that it writes tasks they can carry out; nothing for a local planner or without them."""
    if planner.is_local or not config.router.learn_shapes:
        return ""
    from moot.core.perf.shapes import local_brief

    local = [m for alias in dict.fromkeys(config.roles.values())
             if (m := config.model(alias)) is not None and m.is_local]
    return local_brief(store, local) if local else ""


def accept_message(task: str, run_id: str) -> str:
    """The message of the commit that lands a run: its task as the subject, and the run's trailer."""
    title = " ".join(task.split()) or "carry out the plan"
    return f"moot: {title[:72]}\n\n{TRAILER}: {run_id}\n"


class BlockedError(Exception):
    """The reviewer's verdict on the candidate is BLOCK: nothing lands unless the user overrides it."""

    def __init__(self, review: dict[str, Any]):
        self.review = review
        super().__init__(f"the reviewer ({review.get('model') or 'unknown'}) says BLOCK")


def blocking_review(candidate: runs.CandidateRow) -> dict[str, Any] | None:
    """The candidate's review when its verdict is BLOCK, else None."""
    review = candidate.review
    return review if review and review.get("verdict") == "BLOCK" else None


def findings_text(review: dict[str, Any]) -> str:
    """The review's summary and findings as plain lines (model text: show it through ``terminal_safe``)."""
    lines = [str(review.get("summary") or "").strip()]
    for f in review.get("findings") or []:
        where = f"{f.get('file')}:{f.get('line')}" if f.get("file") and f.get("line") else (f.get("file") or "")
        lines.append(f"- {where + ': ' if where else ''}{f.get('text', '')}")
    return "\n".join(line for line in lines if line)


def land(store: Store, run: runs.ExecRun, candidate: runs.CandidateRow,
         selection: Mapping[str, set[int] | None], *, mode: AcceptMode, force: bool = False) -> AcceptResult:
    """Land the chosen hunks of ``candidate`` on the user's branch, then close the run: the candidate becomes
    the winner, the run's worktrees and branches are removed, and the run is recorded as accepted.

    Args:
        store: where the run is recorded.
        run: the run, as loaded.
        candidate: the candidate whose changes are landed.
        selection: path to chosen hunk indices, as for :func:`moot.agents.hunks.patch_text`.
        mode: ``commit`` (one commit with the ``Moot-Run`` trailer) or ``uncommitted``.
        force: land it although the reviewer said BLOCK; the override is stored with the candidate's review.

    Raises:
        BlockedError: the reviewer said BLOCK and ``force`` is not given; nothing was changed.
        DirtyTreeError: the user has uncommitted changes in files the hunks touch; nothing was changed.
        AcceptError: the hunks could not be applied; nothing was changed.
    """
    blocked = blocking_review(candidate)
    if blocked is not None and not force:
        raise BlockedError(blocked)
    repo = Path(run.repo_dir)
    result = accept(repo, run.base_sha, candidate.branch, selection, mode=mode,
                    message=accept_message(run.task, run.run_id))
    if blocked is not None:  # landed over the reviewer's BLOCK: the user's override is kept with the run
        runs.set_candidate(store, run.run_id, candidate.candidate,
                           review={**blocked, "overridden": {"verdict": "BLOCK", "at": time.time()}})
    if candidate.candidate != (run.winner or 0):
        runs.set_winner(store, run.run_id, candidate.candidate)
    wtree.remove(repo, run.run_id)
    runs.set_accepted(store, run.run_id, result.commit)
    runs.set_state(store, run.run_id, runs.RunState.ACCEPTED)
    return result


def drop(store: Store, run: runs.ExecRun) -> list[str]:
    """Reject the whole run: remove its worktrees and branches and record it as rejected. The user's files are
    not touched. Returns the branches removed.

    Raises:
        WorktreeError: the repository cannot be opened.
    """
    removed = wtree.remove(Path(run.repo_dir), run.run_id)
    runs.set_state(store, run.run_id, runs.RunState.REJECTED)
    return removed
