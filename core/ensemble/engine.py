"""The ensemble engine: proposers in parallel, optional peer ranking, then the judge.

Each proposer runs in its own task and fails alone: its error is kept on its ``Proposal`` and the others
carry on. Progress is reported through a callback, so the CLI prints it and the workbench turns it into
messages; the engine itself knows nothing of either.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from ..calls import CallContext, CallResult, run_call
from ..config import LoadedConfig, ModelConfig
from ..events import Done, Error, Event, ProviderError, TextDelta
from ..providers.base import Message, Params
from ..storage import Store
from ..structured import decodes_schema
from ..tokens import count_tokens
from ..words import plural
from . import prompts
from . import shape as shape_mod
from .budget import Budget, worst_case_usd
from .judge import JsonToMarkdown, judge_schema, parse_synthesis
from .ranking import Ranking, borda, parse_ranking, ranking_schema
from .result import STOPPED, PlanResult, Proposal
from .shape import Shape
from .strategies import StrategyError, chosen_name, default_strategy, judge_model, resolve

MIN_RANKED = 3


class Phase(StrEnum):
    """Where a piece of progress comes from."""

    PROPOSE = "propose"
    """A proposer's call (``Progress.index`` says which)."""
    RANK = "rank"
    """A peer ranker's call."""
    JUDGE = "judge"
    """The judge's call."""
    RUN = "run"
    """The run itself moved on to a new step (``Progress.step``)."""


class Step(StrEnum):
    """The run's steps after the proposals, announced with ``Phase.RUN``."""

    RANKING = "ranking"
    JUDGING = "judging"


@dataclass(frozen=True)
class Progress:
    """Something happened in a run: an event from one call, or the run's next step."""

    phase: Phase
    index: int | None = None
    """The proposer's index (in strategy order); None for the judge and for run steps."""
    event: Event | None = None
    step: Step | None = None
    """With ``Phase.RUN``: which step began."""
    note: str | None = None
    """With ``Phase.RUN``: the step in words, for a person ("judging with gpt")."""


@dataclass
class PlanOptions:
    """Choices for one run; ``None`` means the config's."""

    strategy: str | None = None
    models: Sequence[str] | None = None
    variants: Sequence[str] | None = None
    judge: str | None = None
    rank: bool | None = None
    max_usd: float | None = None
    context: str | None = None
    params: Params = field(default_factory=Params)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(4))


class Ensemble:
    """Runs planning for one task. Create one per run; ``cancel`` stops a proposer (or all)."""

    def __init__(
        self,
        loaded: LoadedConfig,
        store: Store | None,
        usable: Sequence[str],
        on_progress: Callable[[Progress], None] | None = None,
    ):
        self.loaded = loaded
        self.config = loaded.config
        self.store = store
        self.usable = list(usable)
        self.on_progress: Callable[[Progress], None] = on_progress or (lambda p: None)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self.proposals: list[Proposal] = []
        self.run_id = new_run_id()
        self.shape: Shape | None = None
        """How the run was cut to fit the embedded engine (``fit``), when it was."""

    # ------------------------------------------------------------------------------------------ control

    def cancel(self, index: int | None = None) -> None:
        """Cancel one proposer by index, or every running one."""
        for i, task in self._tasks.items():
            if index is None or i == index:
                task.cancel()

    # ------------------------------------------------------------------------------------------- phases

    async def _call(
        self, model: ModelConfig, messages: list[Message], params: Params, budget: Budget, ctx: CallContext,
        report: Callable[[Event], None],
    ) -> CallResult:
        try:
            worst = 0.0
            if budget.max_usd is not None:
                worst = worst_case_usd(model, messages, params.resolve(model).max_tokens or 0)
            reserved = budget.reserve(ctx.label or model.name, worst)
        except ProviderError as e:
            report(e.to_event())
            return CallResult(model=model, error=e.to_event())
        result = CallResult(model=model, cancelled=True)
        try:
            result = await run_call(model, messages, params, ctx=ctx, on_event=report)
        finally:
            budget.settle(reserved, result.cost_usd)
        return result

    async def _propose(self, p: Proposal, task: str, opts: PlanOptions, budget: Budget) -> None:
        system = prompts.variant_text(p.proposer.variant, self.config, self._config_dir())
        messages = prompts.proposer_messages(task, system, opts.context)
        params = replace(opts.params, temperature=p.proposer.temperature) if p.proposer.temperature is not None \
            else opts.params
        p.status = "running"
        ctx = CallContext(self.store, self.run_id, "propose", p.proposer.variant)
        try:
            p.result = await self._call(
                p.proposer.model, messages, params, budget, ctx,
                lambda ev: self.on_progress(Progress(Phase.PROPOSE, p.index, ev)),
            )
            p.status = "done" if p.result.ok and p.result.text.strip() else "failed"
            if p.result.ok and not p.result.text.strip():
                p.result.error = Error("internal", "the model returned an empty answer")
        except asyncio.CancelledError:
            p.status = "cancelled"
            p.result = p.result or CallResult(model=p.proposer.model, cancelled=True)
            self.on_progress(Progress(Phase.PROPOSE, p.index, Error("cancelled", STOPPED)))

    async def _rank(self, task: str, survivors: list[Proposal], opts: PlanOptions, budget: Budget) -> Ranking:
        labels = [p.label for p in survivors]

        async def ballot(voter: Proposal) -> tuple[str, list[str] | None]:
            others = [(p.label, p.text) for p in survivors if p is not voter]
            allowed = [lbl for lbl, _ in others]
            model = voter.proposer.model
            # Every ballot carries its schema: a local engine decodes under it (and is asked for the JSON form),
            # a hosted model gets it as response_format where its provider supports that; either form is read.
            params = replace(opts.params, schema=ranking_schema(allowed))
            messages = prompts.rank_messages(task, others, as_json=decodes_schema(model))
            ctx = CallContext(self.store, self.run_id, "rank", voter.proposer.variant, voter.label)
            r = await self._call(model, messages, params, budget, ctx,
                                 lambda ev: self.on_progress(Progress(Phase.RANK, voter.index, ev)))
            return voter.label, parse_ranking(r.text, allowed) if r.ok else None

        results = await asyncio.gather(*(ballot(v) for v in survivors))
        ranking = borda({v: order for v, order in results if order}, labels)
        ranking.notes += [f"plan {v}'s ranking could not be read" for v, order in results if not order]
        return ranking

    def _config_dir(self) -> Path | None:
        return self.loaded.layers[-1].path.parent if self.loaded.layers else None

    # --------------------------------------------------------------------------------------------- run

    async def plan(self, task: str, opts: PlanOptions | None = None) -> PlanResult:
        """Run the whole planning flow for ``task``; never raises for a model's failure."""
        self.begin(task, opts)
        return await self.complete()

    async def complete(self, between: Callable[[], object] | None = None) -> PlanResult:
        """After ``begin``: propose, synthesise and record the run (as cancelled if it is cancelled).

        ``between`` is called once the proposals are in, before the judge starts (the workbench shows the
        last of the proposals' text there)."""
        status = "cancelled"
        try:
            await self.propose()
            if between is not None:
                between()
            await self.synthesise()
            status = "done" if self.result.ok else "failed"
        finally:
            if status == "cancelled":
                self._settle_cancelled()
            self.finish(status)
        return self.result

    def _settle_cancelled(self) -> None:
        """After a cancel: what had not finished is cancelled, what had is kept and lettered, and the notes say
        so; a lone finished proposal is the plan, as it would have been had the others failed."""
        result = self.result
        for p in self.proposals:
            if p.status in ("waiting", "running"):
                p.status = "cancelled"
                p.result = p.result or CallResult(model=p.proposer.model, cancelled=True)
        finished = [p for p in self.proposals if p.status == "done"]
        if not any(p.label for p in self.proposals):
            finished = self._label(self.proposals)
        else:
            finished.sort(key=lambda p: p.label)
        if result.synthesis is not None or (result.plan and len(finished) == 1):
            return  # cancelled after the plan was made: nothing was lost
        result.notes = [f"cancelled: {plural(len(finished), 'proposal')} of {len(self.proposals)} had finished"
                        + (" and are kept" if len(finished) > 1 else " and is kept" if finished else "")]
        if len(finished) == 1:
            p = finished[0]
            result.plan = p.text
            result.notes.append(f"plan {p.label} ({p.proposer.model.name}) is the plan; no judge was needed")
        elif finished:
            result.notes.append("no synthesis: choose one of the finished plans, or run the task again")

    # The phases, for callers that drive a run step by step (the workbench retries one proposer, then judges
    # again). ``begin`` must come first; ``finish`` records the result.

    def begin(self, task: str, opts: PlanOptions | None = None) -> PlanResult:
        """Resolve the strategy and create the proposals; raises StrategyError / UnknownVariant."""
        opts = opts or PlanOptions()
        strategy = opts.strategy or default_strategy(self.config, self.usable)
        proposers = resolve(strategy, self.config, self.usable, models=opts.models, variants=opts.variants)
        if not opts.strategy and (opts.models or opts.variants):
            strategy = chosen_name(proposers)  # chosen by hand: say what they are, not the default's name
        for pr in proposers:  # fail on an unknown variant before anything starts
            prompts.variant_text(pr.variant, self.config, self._config_dir())
        self.proposals = [Proposal(i, pr) for i, pr in enumerate(proposers)]
        self.task, self.opts = task, opts
        self.result = PlanResult(self.run_id, task, strategy, self.proposals)
        self.budget = Budget(opts.max_usd if opts.max_usd is not None else self.config.ensemble.max_usd)
        self._started = time.monotonic()
        if self.store:
            self.store.start_run(self.run_id, "plan", task, strategy, str(self.loaded.project_dir))
        return self.result

    async def fit(self, context: int) -> Shape | None:
        """After ``begin``: when every proposer and the judge run on the embedded engine, cut the run (how many
        proposers, how long their answers and the judge's, ``context`` tokens of repository context) so that it is
        predicted to be done within ``[ensemble] embedded_target_s``, from the engine's measured speed (a short
        probe call measures it the first time). Returns the shape, or None when the run is not embedded-only, the
        target is 0 or the engine cannot be measured: then nothing changes."""
        target = self.config.ensemble.embedded_target_s
        models = [p.proposer.model for p in self.proposals]
        if not target:
            return None
        try:
            judge = judge_model(self.config, self.usable, self.result.strategy, self.opts.judge)
        except StrategyError:
            judge = None
        if not models or judge is None or not shape_mod.embedded_only([*models, judge]):
            return None
        rates = await shape_mod.engine_rates(models[0], self.store)
        if rates is None:
            return None
        asked = min((self.opts.params.max_tokens or m.max_tokens) for m in models)
        shape = shape_mod.fit(rates, proposers=len(self.proposals), proposal_tokens=asked, context=context,
                              task_tokens=count_tokens(self.task, models[0].model), target_s=target)
        self.proposals[shape.proposers:] = []
        self.result.proposals = self.proposals
        self.opts.params = replace(self.opts.params, max_tokens=shape.proposal_tokens)
        self.shape = self.result.shape = shape
        return shape

    async def propose(self, indices: Sequence[int] | None = None) -> None:
        """Run the proposers (all, or those in ``indices``) concurrently; each fails alone."""
        chosen = [p for p in self.proposals if indices is None or p.index in indices]
        self._tasks = {
            p.index: asyncio.create_task(self._propose(p, self.task, self.opts, self.budget), name=f"propose-{p.index}")
            for p in chosen
        }
        try:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        finally:
            self._tasks = {}

    async def retry(self, index: int) -> None:
        """Run proposer ``index`` again (after it failed or was cancelled)."""
        p = self.proposals[index]
        p.status, p.result = "waiting", None
        await self.propose([index])

    async def synthesise(self) -> None:
        """Label the surviving proposals, then rank and judge them (or take the only one)."""
        result = self.result
        result.notes = []  # every note comes from this phase: a second synthesis starts clean
        result.ranking = result.judge = result.synthesis = None
        result.plan = ""
        survivors = self._label(self.proposals)
        if not survivors:
            result.notes.append("every proposer failed; see each one's error")
        elif len(survivors) == 1:
            result.plan = survivors[0].text
            result.notes.append(f"only plan {survivors[0].label} ({survivors[0].proposer.model.name}) "
                                "survived, so it is the plan; no judge was needed")
        else:
            await self._judge(self.task, result.strategy, survivors, self.opts, self.budget, result)

    def finish(self, status: str | None = None) -> PlanResult:
        """Record the run's result (again, after a retry)."""
        result = self.result
        result.wall_s = time.monotonic() - self._started
        if self.store:
            self.store.finish_run(self.run_id, status or ("done" if result.ok else "failed"), result.to_json())
        return result

    def _label(self, proposals: list[Proposal]) -> list[Proposal]:
        """Give the survivors shuffled letters A, B, … (what the judge sees); failed ones come after."""
        survivors = [p for p in proposals if p.status == "done"]
        random.Random(self.run_id).shuffle(survivors)
        rest = [p for p in proposals if p.status != "done"]
        for letter, p in zip(string.ascii_uppercase, survivors + rest, strict=False):
            p.label = letter
        return sorted(survivors, key=lambda p: p.label)

    async def _judge(
        self, task: str, strategy: str, survivors: list[Proposal], opts: PlanOptions, budget: Budget,
        result: PlanResult,
    ) -> None:
        rank = opts.rank if opts.rank is not None else self.config.ensemble.rank
        note = None
        if rank and len(survivors) >= MIN_RANKED:
            self.on_progress(Progress(Phase.RUN, step=Step.RANKING, note="ranking"))
            result.ranking = await self._rank(task, survivors, opts, budget)
            note = " > ".join(result.ranking.order)
        elif rank:
            result.notes.append(f"peer ranking needs at least {MIN_RANKED} plans; skipped")
        judge = judge_model(self.config, self.usable, strategy, opts.judge)
        self.on_progress(Progress(Phase.RUN, step=Step.JUDGING, note=f"judging with {judge.name}"))
        plans = [(p.label, p.text) for p in survivors]
        ctx = CallContext(self.store, self.run_id, "judge")
        if decodes_schema(judge):
            # A local engine decodes under the schema, so even a small judge writes every section. Its JSON is
            # turned into Markdown as it streams: progress (the workbench, the CLI) and the synthesis get Markdown;
            # the logged call keeps the JSON. An answer cut off by the token cap counts as far as it went.
            markdown = JsonToMarkdown()

            def report(ev: Event) -> None:
                if isinstance(ev, TextDelta):
                    ev = TextDelta(markdown.feed(ev.text))  # one event per piece, so token counts stay right
                elif isinstance(ev, Done | Error) and (tail := markdown.finish()):
                    self.on_progress(Progress(Phase.JUDGE, None, TextDelta(tail)))
                self.on_progress(Progress(Phase.JUDGE, None, ev))

            messages = prompts.judge_messages(task, plans, note, as_json=True)
            params = replace(opts.params, schema=judge_schema())
            if self.shape is not None:  # the judge's share of the time the run was shaped to
                params = replace(params, max_tokens=self.shape.judge_tokens,
                                 schema=judge_schema(**shape_mod.judge_bounds(self.shape.judge_tokens)))
            result.judge = await self._call(judge, messages, params, budget, ctx, report)
            markdown.finish()
            text = markdown.text
        else:
            # A hosted judge writes Markdown under the headings it is given (they follow them), and what it
            # streams is what the user reads, so it gets no schema: response_format would make it stream JSON.
            messages = prompts.judge_messages(task, plans, note)
            result.judge = await self._call(judge, messages, opts.params, budget, ctx,
                                            lambda ev: self.on_progress(Progress(Phase.JUDGE, None, ev)))
            text = result.judge.text
        if result.judge.ok and text.strip():
            result.synthesis = parse_synthesis(text)
            result.plan = result.synthesis.plan
        else:
            best = result.ranking.order[0] if result.ranking else survivors[0].label
            chosen = next(p for p in survivors if p.label == best)
            result.plan = chosen.text
            why = result.judge.error.message if result.judge.error else "empty answer"
            result.notes.append(f"the judge ({judge.name}) failed ({why}); plan {best} is shown as the plan")
