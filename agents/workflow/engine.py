"""Running a workflow: its phases in order, each on the task and the inputs it names, every result stored as
it happens, outputs written with their provenance, and the checkpoints asked where the policy says.

    engine = WorkflowEngine(loaded, store, usable, repo, found, ask=ask, on_event=print)
    result = await engine.run("Add a greet(name) function")      # or: await engine.resume(run_id)

``ask`` is the interface's question (a dialog, a terminal prompt, or ``--yes``): it gets a ``Checkpoint`` and
answers whether to go on. Without one, a checkpoint that must ask stops the run with ``CheckpointStop``; the run
is kept and goes on from that phase with ``resume``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moot.core.config import LoadedConfig
from moot.core.storage import Store

from . import phases as run_phase
from . import provenance
from . import store as stored
from .loader import Found
from .model import ParallelPhase, RoutedPhase, SinglePhase, Workflow
from .phases import CheckpointStop, PhaseFailed, PhaseOutcome, Scope, WorkflowStopped


@dataclass
class Checkpoint:
    """A place where the run may stop for the user."""

    phase: str
    when: str
    """``before`` (a routed phase's tasks, shown) or ``after`` (the phase's output, shown)."""
    value: str
    """ask or auto (off never asks)."""
    setting: str
    """Where the value comes from: ``the workflow``, ``[checkpoints] execute``…"""
    reasons: list[str]
    shown: str
    """What the user should look at: the output, or the task list."""


Ask = Callable[[Checkpoint], Awaitable[bool]]
#: A phase the run did not need (its output only fed phases that were given).
SKIPPED = "skipped"
#: The execute checkpoint nobody configured: it asks on a terminal and goes on without one, as ``moot run`` does.
DEFAULT = "the default"


@dataclass
class PhaseRecord:
    name: str
    type: str
    state: str
    outcome: PhaseOutcome | None = None
    error: str | None = None
    files: list[str] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass
class WorkflowResult:
    run_id: str
    workflow: str
    task: str
    state: str = "running"
    """done, failed, stopped."""
    phases: list[PhaseRecord] = field(default_factory=list)
    error: str | None = None
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "workflow": self.workflow, "task": self.task, "state": self.state,
                "error": self.error, "wall_s": round(self.wall_s, 3),
                "phases": [{"name": p.name, "type": p.type, "state": p.state, "error": p.error, "files": p.files,
                            "output": p.outcome.output if p.outcome else "",
                            "outputs": p.outcome.outputs if p.outcome else [],
                            "child_run": p.outcome.child_run if p.outcome else None,
                            "meta": p.outcome.meta if p.outcome else {}, "wall_s": round(p.wall_s, 3)}
                           for p in self.phases]}


class WorkflowEngine:
    def __init__(self, loaded: LoadedConfig, store: Store, usable: list[str], repo: Path, found: Found | Workflow,
                 *, ask: Ask | None = None, on_event: Callable[[Any], None] | None = None):
        self.loaded, self.store, self.usable, self.repo = loaded, store, usable, Path(repo)
        self.workflow = found.workflow if isinstance(found, Found) else found
        self.ask = ask
        self.on_event = on_event or (lambda e: None)
        self.outcomes: dict[str, PhaseOutcome] = {}
        self.candidates: int | None = None
        self.ensemble_progress: Callable[[list[str]], Any] | None = None
        """What follows an ensemble phase's proposers (see ``Scope.ensemble_progress``)."""
        self.interrupted: dict[str, str] = {}
        """Routed phases stopped mid-way, with the branch run each had begun (``resume`` carries it on)."""

    # ------------------------------------------------------------------------------------------ running

    async def run(self, task: str, *, run_id: str | None = None, given: dict[str, str] | None = None,
                  candidates: int | None = None) -> WorkflowResult:
        """Run every phase on ``task``. ``given`` names phases whose output the user brings (``{"plan": text}``
        for ``moot run --plan FILE``): they are recorded as given, and the phases only they needed are skipped.
        ``candidates`` is how many models carry out a routed phase that does not say."""
        from moot.core.ensemble.engine import new_run_id

        given = given or {}
        unknown = [name for name in given if self.workflow.phase(name) is None]
        if unknown:
            raise PhaseFailed(f"workflow {self.workflow.name} has no phase {', '.join(unknown)}")
        run_id = run_id or new_run_id()
        self.candidates = candidates
        stored.begin(self.store, run_id, self.workflow.name, task, str(self.repo))
        done: dict[str, PhaseOutcome] = {}
        needed = self.needed(set(given))
        for position, phase in enumerate(self.workflow.phases):
            if phase.name in given:
                outcome = PhaseOutcome(output=given[phase.name].strip(), meta={"given": True})
                stored.phase_started(self.store, run_id, position, phase.name, phase.type)
                stored.phase_ended(self.store, run_id, phase.name, state="done", output=outcome.output,
                                   meta=outcome.meta)
                done[phase.name] = outcome
            elif phase.name not in needed:
                stored.phase_started(self.store, run_id, position, phase.name, phase.type)
                stored.phase_ended(self.store, run_id, phase.name, state=SKIPPED)
        return await self._go(run_id, task, done=done, skipped=set(self.phase_names()) - needed - set(given))

    def phase_names(self) -> list[str]:
        return [p.name for p in self.workflow.phases]

    def needed(self, given: set[str]) -> set[str]:
        """The phases that must run when ``given`` are given: every one after the last given, and the earlier
        ones whose output a needed phase takes."""
        names = self.phase_names()
        last = max((names.index(g) for g in given if g in names), default=-1)
        need = set(names[last + 1:])
        for phase in reversed(self.workflow.phases):
            if phase.name not in need:
                continue
            refs = list(phase.input) + [ref for sub in getattr(phase, "phases", []) for ref in sub.input]
            need |= {ref.split(".", 1)[0] for ref in refs} - given
        return need

    async def resume(self, run_id: str) -> WorkflowResult:
        """Go on with a stored run at the first phase that did not finish (or whose checkpoint said no)."""
        run = self.store.run(run_id)
        if run is None or run.get("kind") != stored.KIND:
            raise PhaseFailed(f"there is no workflow run {run_id}")
        done: dict[str, PhaseOutcome] = {}
        reask: set[str] = set()
        skipped: set[str] = set()
        self.interrupted = {}
        for row in stored.phases(self.store, run_id):
            if row["state"] == SKIPPED:
                skipped.add(row["name"])
            elif row["state"] != "done" and row["type"] == "routed" and row["child_run"]:
                self.interrupted[row["name"]] = row["child_run"]  # its branch run goes on where it stopped
            if row["state"] == "done":
                done[row["name"]] = PhaseOutcome(output=row["output"], outputs=row["outputs"], tasks=row["tasks"],
                                                 child_run=row["child_run"], meta=row["meta"])
                if row["decision"] is not None and not row["decision"].get("go_on", True):
                    reask.add(row["name"])  # its output stands; its checkpoint is asked again
        self.store.set_run_status(run_id, "running")
        return await self._go(run_id, str(run["task"]), done=done, reask=reask, skipped=skipped)

    async def _go(self, run_id: str, task: str, done: dict[str, PhaseOutcome],
                  reask: set[str] | None = None, skipped: set[str] | None = None) -> WorkflowResult:
        result = WorkflowResult(run_id, self.workflow.name, task)
        started = time.monotonic()
        scope = Scope(self.loaded, self.store, self.usable, self.repo, run_id, task, on_event=self.on_event,
                      candidates=self.candidates, interrupted=self.interrupted,
                      ensemble_progress=self.ensemble_progress)
        scope.confirm_tasks = lambda phase, routed: self._confirm_tasks(phase, routed, scope)
        status = "failed"
        try:
            for position, phase in enumerate(self.workflow.phases):
                if phase.name in (skipped or set()):
                    result.phases.append(PhaseRecord(phase.name, phase.type, SKIPPED))
                    self.on_event(("phase", phase.name, SKIPPED))
                    continue
                if phase.name in done:
                    self.outcomes[phase.name] = done[phase.name]
                    record = PhaseRecord(phase.name, phase.type, "done", done[phase.name])
                    result.phases.append(record)
                    if phase.name in (reask or set()):
                        await self._after(phase, record, scope)
                    continue
                record = await self._phase(position, phase, scope)
                result.phases.append(record)
                if record.state != "done":
                    result.state, result.error = "failed", record.error
                    break
                await self._after(phase, record, scope)
            else:
                result.state = "done"
            status = result.state
        except (WorkflowStopped, CheckpointStop) as e:
            result.state, result.error = "stopped", str(e)
            status = "stopped"
            if isinstance(e, CheckpointStop):
                raise
        except asyncio.CancelledError:
            result.state = status = "cancelled"
            raise
        finally:
            result.wall_s = time.monotonic() - started
            self.store.finish_run(run_id, status, {"workflow": self.workflow.name, "state": result.state,
                                                   "error": result.error})
        return result

    async def _phase(self, position: int, phase: Any, scope: Scope) -> PhaseRecord:
        stored.phase_started(self.store, scope.run_id, position, phase.name, phase.type)
        self.on_event(("phase", phase.name, "running"))
        started = time.monotonic()
        try:
            handed, distilled = await self._hand_on(phase, scope)
            text = self.compose(phase, scope.task, handed=handed)
            outcome = await self._carry_out(phase, text, scope)
        except (PhaseFailed, Exception) as e:
            if isinstance(e, WorkflowStopped | CheckpointStop):
                stored.phase_ended(self.store, scope.run_id, phase.name, state="stopped", error=str(e))
                self.on_event(("phase", phase.name, "stopped"))
                raise
            error = str(e) if isinstance(e, PhaseFailed) else f"{type(e).__name__}: {e}"
            stored.phase_ended(self.store, scope.run_id, phase.name, state="failed", error=error)
            self.on_event(("phase", phase.name, "failed"))
            return PhaseRecord(phase.name, phase.type, "failed", error=error, wall_s=time.monotonic() - started)
        outcome.meta = {**outcome.meta, "run": scope.run_id, "phase": phase.name, "type": phase.type,
                        "workflow": self.workflow.name, "timestamp": time.time(),
                        "input_sha256": {ref: provenance.sha256(self._input(ref)) for ref in phase.input},
                        **({"distilled": distilled} if distilled else {})}
        self.outcomes[phase.name] = outcome
        files = self._write(phase, outcome, scope)
        stored.phase_ended(self.store, scope.run_id, phase.name, state="done", output=outcome.output,
                           outputs=outcome.outputs, tasks=outcome.tasks, child_run=outcome.child_run,
                           meta={**outcome.meta, "files": files})
        self.on_event(("phase", phase.name, "done"))
        return PhaseRecord(phase.name, phase.type, "done", outcome, files=files, wall_s=time.monotonic() - started)

    async def _carry_out(self, phase: Any, text: str, scope: Scope) -> PhaseOutcome:
        if isinstance(phase, ParallelPhase):
            async def one(sub: Any, shared: str) -> PhaseOutcome:
                own = "".join(self._section(ref) for ref in sub.input)
                outcome = await self._carry_out(sub, shared + own + self._instructions(sub), scope)
                self.outcomes[sub.name] = outcome
                return outcome

            return await run_phase.run_parallel(phase, text.removesuffix(self._instructions(phase)), scope, one)
        if isinstance(phase, RoutedPhase):
            (ref,) = phase.input
            source = self.outcomes[ref.split(".", 1)[0]]
            plan = source.output if source.tasks is None else self._plan_before(ref)
            return await run_phase.run_routed(phase, text, source.tasks, plan, scope)
        if isinstance(phase, SinglePhase):
            return await run_phase.run_single(phase, text, scope)
        if phase.type == "discussion":
            return await run_phase.run_discussion(phase, text, scope)
        return await run_phase.run_ensemble(phase, text, scope)

    def _plan_before(self, ref: str) -> str:
        """The plan a task list was made from: the first input of the phase that made it."""
        maker = self.workflow.phase(ref.split(".", 1)[0])
        if maker is not None and maker.input:
            return self._input(maker.input[0])
        return ""

    # ------------------------------------------------------------------------------------------- inputs

    def _input(self, ref: str) -> str:
        name, which = ref.split(".", 1)
        outcome = self.outcomes.get(name)
        if outcome is None:
            return ""
        if which == "outputs":
            return "\n\n".join(f"- {o}" for o in outcome.outputs) or outcome.output
        return outcome.output

    def _section(self, ref: str, handed: dict[str, str] | None = None) -> str:
        text = handed[ref] if handed is not None and ref in handed else self._input(ref)
        return f"\n\n## {ref}\n\n{text.strip()}"

    @staticmethod
    def _instructions(phase: Any) -> str:
        return f"\n\n## What this step asks\n\n{phase.instructions.strip()}" if phase.instructions else ""

    def compose(self, phase: Any, task: str, *, handed: dict[str, str] | None = None) -> str:
        """What the phase works from: the task, its inputs by name (as ``handed`` on, when given), and its
        instructions."""
        return task.strip() + "".join(self._section(ref, handed) for ref in phase.input) + self._instructions(phase)

    async def _hand_on(self, phase: Any, scope: Scope) -> tuple[dict[str, str], dict[str, Any]]:
        """The inputs as the phase gets them: whole, or under ``context_strategy: distilled`` each condensed by
        the planner (kept with the run, and used only when smaller than its source); and the token counts."""
        texts = {ref: self._input(ref) for ref in phase.input}
        if phase.context_strategy != "distilled":
            return texts, {}
        from moot.agents.landing import planner_model
        from moot.context.distill import DistillError, distill

        model = planner_model(self.loaded.config)
        counts: dict[str, Any] = {}
        for ref, text in texts.items():
            if model is None or not text.strip():
                continue
            try:
                found = await distill(text, model, source=f"{phase.name}:{ref}", store=self.store,
                                      run_id=scope.run_id)
            except DistillError as e:
                self.on_event(("note", phase.name, f"{e}; {ref} is handed on whole"))
                continue
            smaller = found.tokens < found.source_tokens
            counts[ref] = {"model": found.model_alias, "source_tokens": found.source_tokens, "tokens": found.tokens,
                           "used": smaller}
            if smaller:
                texts[ref] = found.text
            self.on_event(("note", phase.name, f"{ref} distilled by {found.model_alias}: {found.source_tokens} → "
                                               f"{found.tokens} tokens" + ("" if smaller else
                                                                            " (not smaller: handed on whole)")))
        return texts, counts

    # ---------------------------------------------------------------------------------------- outputs

    def _write(self, phase: Any, outcome: PhaseOutcome, scope: Scope) -> list[str]:
        if not phase.output:
            return []
        rel = provenance.output_path(phase.output, task=scope.task, run_id=scope.run_id)
        prompt = provenance.prompt_text(self.store, outcome.child_run, None) if outcome.child_run else \
            provenance.prompt_text(self.store, scope.run_id, phase.name)
        try:
            return provenance.write(self.repo, rel, phase.name, outcome.output, prompt, outcome.meta)
        except (provenance.OutputRefused, OSError) as e:
            self.on_event(("note", phase.name, f"the output was not written: {e}"))
            return []

    # ------------------------------------------------------------------------------------- checkpoints

    def _setting(self, phase: Any, when: str) -> tuple[str, str]:
        """(value, where it comes from) of the checkpoint ``when`` the phase."""
        checkpoints = self.loaded.config.checkpoints
        if when == "before":  # a routed phase's tasks
            if phase.checkpoint is not None:
                return phase.checkpoint, f"the workflow's {phase.name} phase"
            return checkpoints.execute or "ask", "[checkpoints] execute" if checkpoints.execute else DEFAULT
        if phase.checkpoint is not None and not isinstance(phase, RoutedPhase):
            return phase.checkpoint, f"the workflow's {phase.name} phase"
        if isinstance(phase, RoutedPhase):
            return checkpoints.pr_cross_review or "off", "[checkpoints] pr_cross_review"
        if phase.name == "plan" or phase.type == "ensemble":
            return checkpoints.plan_review or "off", "[checkpoints] plan_review"
        return "off", "no checkpoint"

    def reasons(self, outcome: PhaseOutcome | None, text: str = "") -> list[str]:
        """What the thresholds see in a phase's result: each a reason to stop and look."""
        t = self.loaded.config.thresholds
        out = []
        facts = outcome.facts if outcome else {}
        files = facts.get("files_changed") or []
        if len(files) >= t.files_changed_suggest_review:
            out.append(f"{len(files)} files changed (thresholds: review from {t.files_changed_suggest_review})")
        if facts.get("diff") and t.security_sensitive_patterns:
            pattern = re.compile("|".join(re.escape(w) for w in t.security_sensitive_patterns), re.I)
            hits = sorted({m.group(0).lower() for m in pattern.finditer(facts["diff"])})
            if hits:
                out.append(f"the change touches {', '.join(hits[:5])}: a second model's review is suggested")
        if text:
            from moot.core.tokens import count_tokens

            tokens = count_tokens(text, "")
            if tokens > t.large_context_tokens:
                out.append(f"the input is {tokens} tokens (over {t.large_context_tokens}): a model with a larger "
                           "window is suggested")
        return out

    async def _checkpoint(self, phase: Any, when: str, shown: str, reasons: list[str], scope: Scope) -> bool:
        value, setting = self._setting(phase, when)
        decision: dict[str, Any] = {"when": when, "value": value, "setting": setting, "reasons": reasons,
                                    "at": time.time()}
        if value == "off" or (value == "auto" and not reasons):
            decision.update(asked=False, go_on=True)
            stored.decided(self.store, scope.run_id, phase.name, decision)
            return True
        why = reasons or [f"{setting} = {value}"]
        point = Checkpoint(phase.name, when, value, setting, why, shown)
        if self.ask is None and setting == DEFAULT:  # as before policy: a task list is confirmed only when asked
            decision.update(asked=False, go_on=True, answer="nobody to ask")
            stored.decided(self.store, scope.run_id, phase.name, decision)
            return True
        if self.ask is None:
            decision.update(asked=False, go_on=False, answer="nobody to ask")
            stored.decided(self.store, scope.run_id, phase.name, decision)
            raise CheckpointStop(f"phase {phase.name} stops to ask ({'; '.join(why)}) and there is no terminal to "
                                 f"ask on: run it on a terminal, or with --yes (then resume {scope.run_id})")
        go_on = await self.ask(point)
        decision.update(asked=True, go_on=go_on)
        stored.decided(self.store, scope.run_id, phase.name, decision)
        if not go_on:
            raise WorkflowStopped(f"stopped at {phase.name}, as you chose (resume {scope.run_id} to go on)")
        return True

    async def _after(self, phase: Any, record: PhaseRecord, scope: Scope) -> None:
        outcome = record.outcome
        text = self.compose(phase, scope.task)
        await self._checkpoint(phase, "after", outcome.output if outcome else "", self.reasons(outcome, text), scope)

    async def _confirm_tasks(self, phase: RoutedPhase, routed: list[Any], scope: Scope) -> bool:
        listed = "\n".join(f"{n}. {r.task.title} · {r.role} · {r.alias}" for n, r in enumerate(routed, start=1))
        return await self._checkpoint(phase, "before", listed, [], scope)
