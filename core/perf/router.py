"""The router: for one role's request, the local model or the hosted one, on measured speed.

The local candidate is the role's model in ``[roles]`` when it is an ``ollama/`` or ``local/`` model; the hosted
one is ``[router] hosted[role]``. The rules, in order:

- no local model for the role: the role's model (or the hosted one);
- local down: hosted (local when there is no hosted alternative);
- no measurements yet: local, which produces them;
- predicted latency within ``local_max_latency_s``: local; when in the top 20 % of the limit, the request is
  shrunk (a smaller context budget first, then fewer output tokens, each by at most half) so the prediction
  drops below 80 % of the limit, or as far as it can;
- predicted latency above the limit: hosted (local when there is no hosted alternative).

Every ``Decision`` carries its reason as a sentence, e.g. ``backend → ollama/qwen2.5-coder:7b: predicted 12 s
≤ 30 s``; ``record_decision`` stores it in ``route_decisions``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..words import plural
from .analyse import Analyser, Prediction
from .store import PerfStore, host_of, perf_store

if TYPE_CHECKING:
    from ..config.models import Config, ModelConfig
    from ..storage import Store

CLOSE_FRACTION = 0.2
"""A prediction within this top fraction of the limit is close: the request is shrunk."""
MIN_KEEP = 0.5
"""Shrinking keeps at least this fraction of the context and of the output tokens."""


class RoutingError(ValueError):
    """No model at all for a role."""


@dataclass(frozen=True, slots=True)
class Adjustments:
    """How a local request was shrunk to fit the limit."""

    prompt_tokens: int
    """The prompt size to send."""
    output_tokens: int
    """The output cap to send (``max_tokens``)."""
    context_cut: int
    """Tokens to take off the context budget (the prompt as asked minus ``prompt_tokens``)."""
    predicted_s: float
    """The prediction for the shrunk request."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "context_cut": self.context_cut,
            "predicted_s": round(self.predicted_s, 3),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """Which model serves one role's request, and why."""

    role: str
    chosen_alias: str
    local_alias: str | None
    hosted_alias: str | None
    predicted_s: float | None
    """The local model's predicted latency for the request as asked (None without figures)."""
    limit_s: float
    reason: str
    adjustments: Adjustments | None = None
    prompt_tokens: int = 0
    output_tokens: int = 0
    prediction: Prediction | None = field(default=None, compare=False)

    @property
    def local(self) -> bool:
        """Whether the local model was chosen."""
        return self.chosen_alias == self.local_alias

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "chosen": self.chosen_alias,
            "local_alias": self.local_alias,
            "hosted_alias": self.hosted_alias,
            "predicted_s": round(self.predicted_s, 3) if self.predicted_s is not None else None,
            "limit_s": self.limit_s,
            "reason": self.reason,
            "adjustments": self.adjustments.to_dict() if self.adjustments else None,
        }


def fmt_s(seconds: float) -> str:
    """Seconds as the reasons show them: ``12 s``, ``4.5 s``."""
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s".replace(".0 s", " s")


def _tokens(x: float) -> int:
    return max(0, math.ceil(x - 1e-9))


def shrink(prediction: Prediction, prompt_tokens: int, output_tokens: int, target_s: float) -> Adjustments | None:
    """The smallest cut that brings the prediction down to ``target_s``: the context first (prompt tokens are
    cheap, so it takes many of them), then the output, each by at most ``1 - MIN_KEEP``. None when nothing
    could be cut."""
    excess = prediction.seconds - target_s
    p, o = prompt_tokens, output_tokens
    if excess > 0 and prediction.prompt_rate and p:
        cut = min(p - math.ceil(p * MIN_KEEP), _tokens(excess * prediction.prompt_rate))
        p -= cut
        excess -= cut / prediction.prompt_rate
    if excess > 1e-9 and o:
        cut = min(o - math.ceil(o * MIN_KEEP), _tokens(excess * prediction.eval_rate))
        o -= cut
    if (p, o) == (prompt_tokens, output_tokens):
        return None
    return Adjustments(p, o, prompt_tokens - p, prediction.seconds_for(p, o))


def _describe(adj: Adjustments, prompt_tokens: int, output_tokens: int) -> str:
    parts = []
    if adj.context_cut:
        parts.append(f"context cut by {plural(adj.context_cut, 'token')} ({prompt_tokens} → {adj.prompt_tokens})")
    if adj.output_tokens != output_tokens:
        parts.append(f"output capped at {plural(adj.output_tokens, 'token')} (was {output_tokens})")
    return ", ".join(parts) + f"; now predicted {fmt_s(adj.predicted_s)}"


def choose(
    role: str,
    config: Config,
    analyser: Analyser,
    *,
    prompt_tokens: int,
    output_tokens: int,
    local_up: bool | None = None,
    loaded: bool | None = None,
) -> Decision:
    """Choose the model for one request of ``role``.

    Args:
        role: a role name (``backend``, ``tests``…).
        config: the merged config (``[roles]``, ``[router]``).
        analyser: the measured figures (and, when it observed a host snapshot, which hosts are up).
        prompt_tokens: the request's prompt size.
        output_tokens: the most tokens it may write.
        local_up: whether the local model's host is up; None asks the analyser's last host snapshot, and
            counts it as up when that does not say.
        loaded: whether the local model is loaded; None lets the analyser judge.

    Raises:
        RoutingError: the role has neither a model in ``[roles]`` nor a hosted one in ``[router]``.
    """
    limit = config.router.local_max_latency_s
    role_alias = config.roles.get(role)
    role_model = config.model(role_alias) if role_alias else None
    hosted_alias = config.router.hosted.get(role)
    hosted = config.model(hosted_alias) if hosted_alias else None
    if hosted is None:
        hosted_alias = None

    def decide(chosen: ModelConfig, reason: str, **kw: Any) -> Decision:
        return Decision(
            role=role, chosen_alias=chosen.name, local_alias=local.name if local else None,
            hosted_alias=hosted_alias, limit_s=limit, reason=f"{role} → {chosen.model}: {reason}",
            prompt_tokens=prompt_tokens, output_tokens=output_tokens, **kw,
        )

    local = role_model if role_model is not None and role_model.is_local else None
    if local is None:
        chosen = role_model or hosted
        if chosen is None:
            raise RoutingError(f"no model for role {role!r}: set [roles] {role} or [router] hosted.{role}")
        return decide(chosen, "no local model for this role", predicted_s=None)

    hosts = [host_of(local.on_host(h)) for h in local.pool] or [host_of(local)]
    seen = [(analyser.host_up(h), analyser.predict(local.model, h, prompt_tokens, output_tokens, loaded=loaded))
            for h in hosts]  # a pool: its best host that is not down speaks for it
    live = [s for s in seen if s[0] is not False] or seen
    measured = [s for s in live if s[1] is not None]
    host_up, prediction = min(measured, key=lambda s: s[1].seconds if s[1] else 0.0) if measured else live[0]
    up = local_up if local_up is not None else host_up
    predicted = prediction.seconds if prediction is not None else None
    if up is False:
        if hosted is not None:
            return decide(hosted, f"{local.model} is down", predicted_s=predicted, prediction=prediction)
        return decide(local, "down, but no hosted alternative is configured", predicted_s=predicted,
                      prediction=prediction)
    if prediction is None or predicted is None:
        return decide(local, "no measurements yet", predicted_s=None)
    if predicted <= limit:
        reason = f"predicted {fmt_s(predicted)} ≤ {fmt_s(limit)}"
        adjustments = None
        if predicted > (1 - CLOSE_FRACTION) * limit:
            adjustments = shrink(prediction, prompt_tokens, output_tokens, (1 - CLOSE_FRACTION) * limit)
            if adjustments is not None:
                reason += ", close to the limit: " + _describe(adjustments, prompt_tokens, output_tokens)
        return decide(local, reason, predicted_s=predicted, adjustments=adjustments, prediction=prediction)
    over = f"predicted {fmt_s(predicted)} > {fmt_s(limit)}"
    if hosted is not None:
        return decide(hosted, f"{local.model} {over}", predicted_s=predicted, prediction=prediction)
    return decide(local, f"{over}, but no hosted alternative is configured", predicted_s=predicted,
                  prediction=prediction)


def record_decision(
    store: Store | PerfStore, decision: Decision, run_id: str | None = None, task_id: str | None = None
) -> int:
    """Store ``decision`` in ``route_decisions``; returns its id."""
    return perf_store(store).record_decision(
        {
            "run_id": run_id,
            "role": decision.role,
            "task_id": task_id,
            "chosen": decision.chosen_alias,
            "local_alias": decision.local_alias,
            "hosted_alias": decision.hosted_alias,
            "prompt_tokens": decision.prompt_tokens,
            "output_tokens": decision.output_tokens,
            "predicted_s": decision.predicted_s,
            "limit_s": decision.limit_s,
            "reason": decision.reason,
            "adjustments": decision.adjustments.to_dict() if decision.adjustments else None,
        }
    )
