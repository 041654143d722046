"""Carrying out one phase of each type with moot's own engines: the ensemble, the discussion engine, one model
call, the run session (tasks on a branch), or several phases at once.

A runner gets the phase, the text it works from (the task, the phase's instructions and its input) and the
workflow's ``Scope``; it returns a ``PhaseOutcome``. The engine (``engine.py``) records it and decides the
checkpoints.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moot.core.calls import CallContext, run_call
from moot.core.config import LoadedConfig
from moot.core.config.models import ModelConfig
from moot.core.providers.base import Message, Params
from moot.core.storage import Store

from .model import DiscussionPhase, EnsemblePhase, ParallelPhase, RoutedPhase, SinglePhase

#: The kind of phase an effort policy names, by phase type (a single phase by its format and role).
EFFORT_KIND = {"ensemble": "planning", "discussion": "discussion", "routed": "implementation"}

#: How much of a routed phase's diff its output carries (for the phases that review it).
DIFF_SHOWN = 12_000

SYSTEM = ("You are one step of a software workflow in a code repository. Do what this step asks, in Markdown, "
          "concisely; do not repeat the input.")


class PhaseFailed(Exception):
    """A phase could not give a result; the workflow stops there (and can be resumed at it)."""


class CheckpointStop(Exception):
    """A checkpoint must ask and nobody can be asked (no terminal, no ``--yes``); the run is kept."""


class WorkflowStopped(Exception):
    """The user said no at a checkpoint; the run is kept and can be resumed there."""


@dataclass
class PhaseOutcome:
    output: str = ""
    """What later phases get as ``NAME.output``."""
    outputs: list[str] = field(default_factory=list)
    """What later phases get as ``NAME.outputs``: each task's or sub-phase's result."""
    tasks: list[dict[str, Any]] | None = None
    """A task list phase's tasks."""
    child_run: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    """Model, parameters, tokens, cost, latency: written beside the output."""
    facts: dict[str, Any] = field(default_factory=dict)
    """What the thresholds look at: files changed, the diff's text, tokens handed in."""


@dataclass
class Scope:
    """What every phase of one workflow run shares."""

    loaded: LoadedConfig
    store: Store
    usable: list[str]
    repo: Path
    run_id: str
    task: str
    on_event: Callable[[Any], None] = lambda e: None
    confirm_tasks: Callable[[RoutedPhase, list[Any]], Awaitable[bool]] | None = None
    """Asked before a routed phase carries out its tasks (the execute checkpoint); None: go on."""
    candidates: int | None = None
    """How many models carry out a routed phase that does not say (``moot run --candidates``)."""
    interrupted: dict[str, str] = field(default_factory=dict)
    """Routed phases to go on with: phase name → the branch run it had begun."""
    ensemble_progress: Callable[[list[str]], Any] | None = None
    """Given an ensemble phase's proposers, what follows its progress (called with each ``Progress``; its
    ``finish()`` when the phase ends): a command line's status lines. None: the events alone."""

    async def repository(self, phase: Any, text: str, budget: int | None = None) -> tuple[str | None, dict[str, Any]]:
        """The repository context for ``phase`` working on ``text``, by its ``context_strategy`` (else
        ``[context] strategy``) within its role's budget (or ``budget``); and what was chosen, for its meta."""
        config = self.loaded.config
        strategy = phase.context_strategy or config.context.strategy
        if strategy == "distilled":
            strategy = "scoped"  # distilled: the inputs are condensed; the repository is scoped
        role = "proposer" if phase.type in ("ensemble", "discussion") else getattr(phase, "role", "planner")
        budget = config.budget_for(role) if budget is None else budget
        if budget <= 0:
            return None, {"strategy": strategy, "tokens": 0}

        def build() -> Any:
            from moot.context.cache import TagCache, build_index
            from moot.context.choice import ContextChoice
            from moot.context.files import git_lists, list_files
            from moot.context.scope import scope

            if not git_lists(self.repo):
                return None
            cache = TagCache()
            try:
                index = build_index(self.repo, files=list_files(self.repo, sniff=False), cache=cache)
            finally:
                cache.close()
            return scope(index, text, budget, context_strategy=strategy,
                         **ContextChoice.read(self.store, self.repo).options())

        found = await asyncio.to_thread(build)
        if found is None:
            return None, {"strategy": strategy, "tokens": 0}
        return found.text, {"strategy": strategy, "tokens": found.total_tokens, "budget": budget,
                            "items": len(found.items)}


def effort_for(phase: Any, scope: Scope) -> str | None:
    """The phase's own effort, else the policy's for its kind."""
    if phase.effort:
        return str(phase.effort)
    kind = EFFORT_KIND.get(phase.type)
    if phase.type == "single":
        kind = "review" if phase.role == "reviewer" else "planning"
    return getattr(scope.loaded.config.effort_policy, kind or "", None)


def takes_effort(model: ModelConfig) -> bool:
    """Whether ``model`` takes a reasoning effort (only hosted models the client says do)."""
    if model.is_local:
        return False
    from moot.core.providers.hosted import supports_effort

    return supports_effort(model)


def _model_for(scope: Scope, alias: str | None, role: str) -> ModelConfig:
    from moot.agents.landing import planner_model

    config = scope.loaded.config
    if alias:
        if (m := config.model(alias)) is None:
            raise PhaseFailed(f"unknown model {alias!r} (known: {', '.join(config.aliases)})")
        return m
    if (named := config.roles.get(role)) and (m := config.model(named)) is not None:
        return m
    if (m := planner_model(config)) is None:
        raise PhaseFailed("no model is configured")
    return m


async def run_single(phase: SinglePhase, text: str, scope: Scope) -> PhaseOutcome:
    model = _model_for(scope, phase.model, phase.role)
    if phase.format == "tasks":
        from moot.agents.landing import split_plan

        tasks, note = await split_plan(scope.loaded.config, scope.store, scope.repo, scope.run_id, text)
        if note:
            scope.on_event(("note", phase.name, note))
        listed = "\n".join(f"{n}. {t.title} ({t.role or 'role from its files'}): {', '.join(t.files) or 'no files'}"
                           for n, t in enumerate(tasks, start=1))
        return PhaseOutcome(output=listed + (f"\n\n{note}" if note else ""),
                            outputs=[t.title for t in tasks], tasks=[t.model_dump() for t in tasks],
                            meta={"model": model.name, "model_string": model.model, "format": "tasks"})
    effort = effort_for(phase, scope)
    context, chosen = await scope.repository(phase, text)
    user = text + (f"\n\n## Repository context\n\n{context}" if context else "")
    messages: list[Message] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    params = Params(role="propose", effort=effort, seed=phase.seed)
    result = await run_call(model, messages, params,
                            ctx=CallContext(scope.store, scope.run_id, "workflow", label=phase.name))
    if not result.ok:
        why = f"{result.error.kind}: {result.error.message}" if result.error else "no answer"
        raise PhaseFailed(f"{model.name}: {why}")
    return PhaseOutcome(output=result.text.strip(),
                        meta={**_call_meta(model, params, result), "context": chosen})


def _call_meta(model: ModelConfig, params: Params, result: Any) -> dict[str, Any]:
    return {"model": model.name, "model_string": model.model,
            "parameters": {"max_tokens": params.max_tokens or model.max_tokens,
                           "temperature": params.temperature if params.temperature is not None else model.temperature,
                           "effort": params.effort, "seed": params.seed if params.seed is not None else model.seed},
            **({"effort_ignored": f"{model.model} takes no reasoning effort"}
               if params.effort and not takes_effort(model) else {}),
            "prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens,
            "cost_usd": result.cost_usd, "latency_s": result.latency_s}


async def run_ensemble(phase: EnsemblePhase, text: str, scope: Scope) -> PhaseOutcome:
    from moot.core.ensemble import Ensemble, PlanOptions

    effort = effort_for(phase, scope)
    opts = PlanOptions(strategy=phase.strategy, models=phase.models, variants=phase.variants, judge=phase.judge,
                       params=Params(effort=effort, seed=phase.seed))
    ensemble = Ensemble(scope.loaded, scope.store, scope.usable)
    result = ensemble.begin(text, opts)
    scope.on_event(("ensemble", phase.name, result.run_id))
    from moot.context.planning import context_budget

    budget = context_budget(scope.loaded.config.budget_for("proposer"), [p.proposer.model for p in ensemble.proposals])
    if (shape := await ensemble.fit(budget)) is not None:  # an embedded-only run, cut to its engine
        budget = int(shape.context_tokens)
        scope.on_event(("note", phase.name, shape.note))
    opts.context, chosen = await scope.repository(phase, text, budget)
    printer = None
    if scope.ensemble_progress is not None:
        printer = scope.ensemble_progress([f"{p.proposer.model.name} ({p.proposer.variant})"
                                           for p in result.proposals])
        ensemble.on_progress = printer
    try:
        if phase.mode == "sequential":  # each proposer sees the proposals before it
            for p in ensemble.proposals:
                earlier = [q for q in ensemble.proposals[:p.index] if q.status == "done" and q.text.strip()]
                ensemble.task = text + "".join(f"\n\n## An earlier proposal ({q.proposer.model.name})\n\n"
                                               f"{q.text.strip()}" for q in earlier)
                await ensemble.propose([p.index])
            ensemble.task = text
            await ensemble.synthesise()
            ensemble.finish("done" if result.ok else "failed")
        else:
            await ensemble.complete()
    finally:
        if printer is not None:
            printer.finish()
    if not result.ok or not result.plan.strip():
        raise PhaseFailed("no proposal and no synthesis: " + "; ".join(
            f"{p.proposer.model.name}: {p.error}" for p in result.proposals if p.error) or "every model failed")
    totals = result.totals()
    judge = result.judge
    return PhaseOutcome(output=result.plan.strip(), child_run=result.run_id,
                        outputs=[p.text.strip() for p in result.proposals if p.status == "done"],
                        meta={"models": [f"{p.proposer.model.name} ({p.proposer.variant})" for p in result.proposals],
                              "judge": judge.model.name if judge is not None else None, "strategy": result.strategy,
                              "mode": phase.mode, "effort": effort, "context": chosen,
                              **({"seed": phase.seed} if phase.seed is not None else {}), **totals})


async def run_discussion(phase: DiscussionPhase, text: str, scope: Scope) -> PhaseOutcome:
    from moot.core.discussion import Discussion, DiscussionEngine, participants_of
    from moot.core.ensemble.engine import new_run_id
    from moot.core.ensemble.strategies import default_strategy, judge_model, resolve

    config = scope.loaded.config
    if phase.participants:
        names = list(phase.participants)
    else:
        strategy = default_strategy(config, scope.usable)
        names = participants_of([(p.model, p.variant) for p in resolve(strategy, config, scope.usable)])
    judge = _model_for(scope, phase.judge, "judge") if phase.judge else judge_model(config, scope.usable or names,
                                                                                       "", None)
    context, chosen = await scope.repository(phase, text)
    d = Discussion(id=new_run_id(), topic=text, participants=names, sequential=phase.sequential, context=context)
    engine = DiscussionEngine.start(config, scope.store, d, judge=judge, project_dir=str(scope.repo))
    scope.on_event(("discussion", phase.name, d.id))
    await engine.open()
    if phase.rounds:
        await engine.discuss(phase.rounds)
    if phase.conclude:
        said = await engine.conclude()
        output = said.text.strip()
    else:
        output = "\n\n".join(f"**{m.speaker}**: {m.text.strip()}" for m in d.rounds[-1].messages if m.heard)
    if not output:
        raise PhaseFailed("the discussion gave no outcome")
    return PhaseOutcome(output=output, child_run=d.id,
                        meta={"participants": names, "rounds": len(d.rounds), "judge": judge.name if judge else None,
                              "context": chosen})


async def run_routed(phase: RoutedPhase, text: str, tasks: list[dict[str, Any]] | None, plan: str,
                     scope: Scope) -> PhaseOutcome:
    """Carry out ``tasks`` (a task list phase's) or split ``plan`` into tasks, on a branch of the run's own."""
    from moot.agents.session import RunSession
    from moot.agents.tasks import Task

    from . import store as stored

    config = scope.loaded.config
    if phase.routing:
        config = config.model_copy(update={"roles": {**config.roles, **phase.routing}})
    session = RunSession(config, scope.store, scope.repo, on_event=scope.on_event)
    if (begun := _begun(scope, phase.name)) is not None:  # resumed: the branch run it had begun goes on
        scope.on_event(("routed", phase.name, begun.run_id))
        run = await session.resume(begun.run_id) if begun.state in _UNFINISHED else begun
        session.release()
        return await _routed_outcome(run, scope)
    run_id = session.begin(scope.task, plan)
    stored.child_begun(scope.store, scope.run_id, phase.name, run_id)
    scope.on_event(("routed", phase.name, run_id))
    try:
        if tasks is not None:
            session.take([Task.model_validate(t) for t in tasks])
        else:
            await session.split()
        candidates = phase.candidates if phase.candidates > 1 else scope.candidates or 1
        if candidates > 1:
            session.set_candidates(candidates)
        scope.on_event(("tasks", phase.name, (session.routed, session.models)))
        if scope.confirm_tasks is not None:
            try:
                await scope.confirm_tasks(phase, session.routed)
            except (WorkflowStopped, CheckpointStop):
                session.cancel()  # nothing was changed
                raise
        run = await session.carry_out()
    finally:
        session.release()
    return await _routed_outcome(run, scope)


#: Branch run states an interrupted routed phase goes on from (carried on), besides ready and failed (kept).
_UNFINISHED = ("executing", "testing", "reviewing", "interrupted")


def _begun(scope: Scope, phase: str) -> Any:
    """The branch run an interrupted routed phase had begun, when it got past its task list: it is carried on
    (or, if it had finished, kept) rather than begun again. None: begin a new one."""
    from moot.agents import runs

    begun = scope.interrupted.get(phase)
    run = runs.load(scope.store, begun) if begun else None
    if run is None or str(run.state) not in (*_UNFINISHED, "ready", "failed"):
        return None
    return run


async def _routed_outcome(run: Any, scope: Scope) -> PhaseOutcome:
    chosen = run.chosen
    done = [t for t in (chosen.tasks if chosen else [])]
    outputs = [f"{t.title}: {t.status}" + (f" ({t.commit[:10]})" if t.commit else "") +
               (f": {t.error}" if t.error else "") for t in done]
    review = chosen.review if chosen else None
    summary = [f"Run {run.run_id} on {chosen.branch if chosen else 'no branch'}: {run.state}"]
    if chosen and chosen.tests is not None:
        summary.append(f"tests {'passed' if chosen.tests_passed else 'failed'}")
    if review:
        summary.append(f"review {review.get('verdict')}")
    facts = await asyncio.to_thread(_diff_facts, scope.repo, run) if chosen else {}
    diff = facts.get("diff", "")
    shown = diff if len(diff) <= DIFF_SHOWN else diff[:DIFF_SHOWN] + "\n… (the diff goes on)"
    return PhaseOutcome(output="; ".join(summary) + "\n\n" + "\n".join(f"- {o}" for o in outputs)
                        + (f"\n\n## The change\n\n```diff\n{shown}\n```" if shown else ""),
                        outputs=outputs, child_run=run.run_id, facts=facts,
                        meta={"run": run.run_id, "state": str(run.state), "branch": chosen.branch if chosen else None,
                              "tasks": len(done), "verdict": review.get("verdict") if review else None})


def _diff_facts(repo: Path, run: Any) -> dict[str, Any]:
    """The files the run changed and its diff's text, for the thresholds."""
    import subprocess

    chosen = run.chosen
    if chosen is None or not chosen.head_sha:
        return {}
    out = subprocess.run(["git", "diff", "--name-only", run.base_sha, chosen.head_sha], cwd=repo,
                         capture_output=True, text=True, timeout=60)
    diff = subprocess.run(["git", "diff", run.base_sha, chosen.head_sha], cwd=repo, capture_output=True,
                          text=True, timeout=60)
    return {"files_changed": [f for f in out.stdout.splitlines() if f], "diff": diff.stdout[:200_000]}


async def run_parallel(phase: ParallelPhase, text: str, scope: Scope,
                       run_one: Callable[[Any, str], Awaitable[PhaseOutcome]]) -> PhaseOutcome:
    """Every sub-phase at once, each on ``text``; one failing fails the phase once the others are done."""
    started = time.monotonic()
    results = await asyncio.gather(*(run_one(sub, text) for sub in phase.phases), return_exceptions=True)
    failed = [(sub.name, r) for sub, r in zip(phase.phases, results, strict=True) if isinstance(r, BaseException)]
    for _, r in failed:
        if isinstance(r, asyncio.CancelledError):
            raise r
    if failed:
        raise PhaseFailed("; ".join(f"{name}: {r}" for name, r in failed))
    outs = [r for r in results if isinstance(r, PhaseOutcome)]
    return PhaseOutcome(output="\n\n".join(f"## {sub.name}\n\n{r.output}" for sub, r in zip(phase.phases, outs,
                                                                                            strict=True)),
                        outputs=[r.output for r in outs],
                        meta={"phases": [sub.name for sub in phase.phases], "wall_s": time.monotonic() - started})
