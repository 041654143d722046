"""A planning run shaped to fit the embedded engine.

When every proposer and the judge run on the embedded engine, their calls take turns on one engine, so the
run's length is the sum of theirs. ``fit`` chooses how many proposers, how long each answer, how long the
judge's synthesis and how much repository context, so that the whole plan is predicted to be done within
``TARGET_S``, from the engine's own measured speed (the perf store's recent figures; a short probe call makes
the first ones). What it cut, and why, is said in ``Shape.note`` for the header and stderr.

A run with an Ollama or hosted model in it is not shaped: those calls run side by side, and their speed is
theirs to know.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config.models import ModelConfig
from ..words import plural

if TYPE_CHECKING:
    from ..storage import Store

TARGET_S = 45.0
"""The time a shaped plan is meant to take by default (``[ensemble] embedded_target_s``), proposals and
synthesis together, leaving room under a minute for what the prediction does not see (building the context,
the screen, a slower moment of the machine)."""

CONTEXT_STEPS = (1500, 1000, 600, 300)
"""Context budgets tried, largest first, below the configured one."""
OUTPUT_STEPS = (320, 256, 200)
"""Proposal lengths tried before a proposer is dropped."""
SHORT_OUTPUT_STEPS = (160, 128)
"""Proposal lengths tried once two proposers are left."""
JUDGE_MIN, JUDGE_MAX, JUDGE_EXTRA = 200, 512, 128
"""The judge writes a proposal's length plus room for its sections, within these bounds."""
FRAME_TOKENS = 220
"""Prompt tokens around a proposer's task and context (its variant's system text, the framing)."""
JUDGE_FRAME_TOKENS = 260
"""Prompt tokens of the judge's instructions around the plans."""
CALL_OVERHEAD_S = 0.15
"""Per call: sending it, the chat template, the first sampling steps."""
PROBE_PROMPT, PROBE_OUTPUT = 300, 24
"""The probe call that measures an engine with no figures yet."""


@dataclass(frozen=True, slots=True)
class Rates:
    """The engine's speed: tokens per second generated and read, and where the figures come from."""

    eval_rate: float
    prompt_rate: float
    samples: int


@dataclass(frozen=True, slots=True)
class Shape:
    """A planning run cut to fit ``TARGET_S`` on one engine."""

    proposers: int
    proposal_tokens: int
    """Each proposer's answer cap (``max_tokens``)."""
    judge_tokens: int
    """The judge's answer cap; 0 with one proposer (no judge is needed)."""
    context_tokens: int
    """Repository context per proposer."""
    predicted_s: float
    rates: Rates
    cut: tuple[str, ...] = ()
    """What was cut from the run as configured, in words (``3 → 2 proposers``)."""

    @property
    def note(self) -> str:
        """One line for the header: what the run is, why, and what was cut."""
        judge = f", judge {self.judge_tokens}" if self.judge_tokens else ", no judge"
        what = f"{self.proposers} × {self.proposal_tokens} tokens{judge}, context {self.context_tokens}"
        why = f"~{self.predicted_s:.0f} s at {self.rates.eval_rate:.0f} tok/s"
        cut = f"; cut {', '.join(self.cut)}" if self.cut else ""
        return f"shaped for the embedded engine: {what} ({why}){cut}"

    @property
    def brief(self) -> str:
        """The header's short form: ``embedded: 3 × 384 tok, judge 512, ctx 2048 · ~38 s at 80 tok/s``."""
        judge = f", judge {self.judge_tokens}" if self.judge_tokens else ""
        return (f"embedded: {self.proposers} × {self.proposal_tokens} tok{judge}, ctx {self.context_tokens} · "
                f"~{self.predicted_s:.0f} s at {self.rates.eval_rate:.0f} tok/s")

    def to_json(self) -> dict[str, object]:
        return {
            "proposers": self.proposers,
            "proposal_tokens": self.proposal_tokens,
            "judge_tokens": self.judge_tokens,
            "context_tokens": self.context_tokens,
            "predicted_s": round(self.predicted_s, 1),
            "eval_rate": round(self.rates.eval_rate, 1),
            "prompt_rate": round(self.rates.prompt_rate, 1),
            "samples": self.rates.samples,
            "cut": list(self.cut),
        }


def embedded_only(models: Sequence[ModelConfig]) -> bool:
    """Whether every one of ``models`` runs on the embedded engine."""
    return bool(models) and all(m.provider_kind.in_process for m in models)


def judge_tokens(proposal_tokens: int) -> int:
    return max(JUDGE_MIN, min(JUDGE_MAX, proposal_tokens + JUDGE_EXTRA))


def judge_bounds(judge_tokens: int) -> dict[str, int]:
    """The bounds of the judge's sections (``judge.judge_schema``) for an answer of ``judge_tokens`` tokens,
    about three characters each: half for the plan, three short points per list. A small judge fills every
    list it is given, so fewer points leave more of its time to the plan."""
    chars = judge_tokens * 3
    return {"plan_chars": min(1000, chars // 2), "items": 3, "item_chars": 160,
            "rationale_chars": min(400, chars // 5)}


def predict(rates: Rates, proposers: int, proposal_tokens: int, context: int, task_tokens: int) -> float:
    """Seconds for the run: the proposers one after another, then the judge reading every proposal."""
    def call(prompt: int, output: int) -> float:
        return prompt / rates.prompt_rate + output / rates.eval_rate + CALL_OVERHEAD_S

    total = proposers * call(FRAME_TOKENS + task_tokens + context, proposal_tokens)
    if proposers > 1:
        judge_prompt = JUDGE_FRAME_TOKENS + task_tokens + proposers * proposal_tokens
        total += call(judge_prompt, judge_tokens(proposal_tokens))
    return total


def fit(rates: Rates, *, proposers: int, proposal_tokens: int, context: int, task_tokens: int,
        target_s: float = TARGET_S) -> Shape:
    """The largest run that is predicted to fit ``target_s``, cutting in this order: context (to 600 tokens),
    answer length (to 200), proposers (to two), answers again (to 128), context again (to 300), then a single
    proposer. When nothing fits, the smallest run."""
    k, o, c = proposers, proposal_tokens, context

    def steps() -> list[tuple[int, int, int]]:
        out = [(k, o, c)]
        cc = c
        for step in CONTEXT_STEPS[:-1]:
            if step < cc:
                cc = step
                out.append((k, o, cc))
        oo = o
        for step in OUTPUT_STEPS:
            if step < oo:
                oo = step
                out.append((k, oo, cc))
        kk = k
        while kk > 2:
            kk -= 1
            out.append((kk, oo, cc))
        for step in SHORT_OUTPUT_STEPS:
            if step < oo:
                oo = step
                out.append((kk, oo, cc))
        if CONTEXT_STEPS[-1] < cc:
            cc = CONTEXT_STEPS[-1]
            out.append((kk, oo, cc))
        if kk > 1:
            out.append((1, oo, cc))
        return out

    candidates = steps()
    chosen = candidates[-1]
    for cand in candidates:
        if predict(rates, *cand, task_tokens) <= target_s:
            chosen = cand
            break
    ck, co, cc = chosen
    cut = []
    if ck < k:
        cut.append(f"{k} → {plural(ck, 'proposer')}")
    if co < o:
        cut.append(f"answers {o} → {plural(co, 'token')}")
    if cc < c:
        cut.append(f"context {c} → {plural(cc, 'token')}")
    return Shape(ck, co, judge_tokens(co) if ck > 1 else 0, cc, predict(rates, ck, co, cc, task_tokens), rates,
                 tuple(cut))


def measured_rates(model: ModelConfig, store: Store | None) -> Rates | None:
    """The engine's recent speed from the perf store; None without figures for both rates."""
    if store is None:
        return None
    from ..perf.analyse import Analyser
    from ..perf.store import host_of

    stats = Analyser(store).stats(model.model, host_of(model))
    if stats is None or stats.eval_rate is None or stats.prompt_eval_rate is None:
        return None
    return Rates(stats.eval_rate.median, stats.prompt_eval_rate.median, stats.samples)


_probing: dict[tuple[str, int], asyncio.Task[object]] = {}
"""Probes in flight, by model and store: a run that starts while the workbench's own probe runs waits for it
instead of queueing a second one on the engine."""


async def engine_rates(model: ModelConfig, store: Store | None) -> Rates | None:
    """The engine's speed: measured figures, else a short probe call that makes them (and loads the model,
    which the first proposal would pay for otherwise). None when the probe fails."""
    rates = measured_rates(model, store)
    if rates is not None or store is None:
        return rates
    from ..perf.bench import BenchCase, run_bench

    key = (model.model, id(store))
    probe = _probing.get(key)
    if probe is None or probe.get_loop() is not asyncio.get_running_loop():
        case = BenchCase("probe", PROBE_PROMPT, PROBE_OUTPUT)
        probe = _probing[key] = asyncio.ensure_future(run_bench(model, store, cases=(case,)))
        probe.add_done_callback(lambda done: _probing.pop(key) if _probing.get(key) is done else None)
    await asyncio.shield(probe)  # a cancelled run leaves the probe to finish for the next one
    return measured_rates(model, store)
