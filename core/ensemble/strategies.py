"""Who proposes: turning a strategy name (and command-line choices) into a list of proposers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config.models import Config, ModelConfig, StrategyConfig

BUILTIN = ("diverse", "role-based", "consensus", "self-moa")
ROLE_BASED_VARIANTS = ("architect", "security-engineer", "test-engineer")
SELF_MOA_SAMPLES = 4


class StrategyError(ValueError):
    """A strategy that cannot be resolved (unknown name, unknown alias, no usable model)."""


@dataclass(frozen=True)
class Proposer:
    model: ModelConfig
    variant: str = "default"
    temperature: float | None = None


def _spread(n: int, lo: float = 0.2, hi: float = 1.0) -> list[float]:
    return [round(lo + (hi - lo) * i / max(1, n - 1), 2) for i in range(n)]


def default_strategy(config: Config, usable: Sequence[str]) -> str:
    if config.ensemble.default_strategy:
        return config.ensemble.default_strategy
    return "diverse" if len(usable) > 1 else "role-based"


def _lookup(config: Config, alias: str) -> ModelConfig:
    model = config.model(alias)
    if model is None:
        raise StrategyError(f"unknown model {alias!r} (known: {', '.join(config.aliases)})")
    return model


def _primary(config: Config, usable: Sequence[str]) -> ModelConfig:
    for alias in (config.roles.get("planner"), *usable):
        if alias and alias in usable:
            return _lookup(config, alias)
    raise StrategyError("no usable model: moot doctor says what is missing")


def resolve(
    name: str,
    config: Config,
    usable: Sequence[str],
    *,
    models: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
) -> list[Proposer]:
    """The proposers for strategy ``name``. ``models`` / ``variants`` from the command line override it.

    Built-in strategies draw only on usable models; members named explicitly are used as given (a member
    that is not usable fails alone, with its reason).
    """
    limit = config.ensemble.max_proposers
    if models or variants:
        chosen = [_lookup(config, a) for a in models] if models else [_primary(config, usable)]
        vs = list(variants) if variants else ["default"]
        # equal lengths pair up (model i with variant i); otherwise every model with every variant
        pairs = list(zip(chosen, vs, strict=True)) if len(chosen) == len(vs) else [(m, v) for m in chosen for v in vs]
        return [Proposer(m, v) for m, v in pairs][:limit]

    own: StrategyConfig | None = config.strategies.get(name)
    if own is not None and own.members:
        return [Proposer(_lookup(config, m.model), m.variant, m.temperature) for m in own.members][:limit]
    if name not in BUILTIN and own is None:
        known = ", ".join(sorted(set(BUILTIN) | set(config.strategies)))
        raise StrategyError(f"unknown strategy {name!r} (known: {known})")
    one = _lookup(config, own.model) if own and own.model else None

    if name == "self-moa" or (own and own.samples):
        model = one or _primary(config, usable)
        n = min(limit, (own.samples if own and own.samples else SELF_MOA_SAMPLES))
        return [Proposer(model, "default", t) for t in _spread(n)]
    if name == "role-based" or (own and own.variants):
        model = one or _primary(config, usable)
        vs = own.variants if own and own.variants else list(ROLE_BASED_VARIANTS)
        return [Proposer(model, v) for v in vs][:limit]
    if not usable:
        raise StrategyError("no usable model: moot doctor says what is missing")
    if name == "consensus":
        hosted = [a for a in usable if not _lookup(config, a).is_local]
        pool = hosted if len(hosted) > 1 else list(usable)
        if len(pool) == 1:  # one model: several samples of it are the closest thing to a panel
            return [Proposer(_lookup(config, pool[0]), "default", t) for t in _spread(3, 0.3, 0.9)]
        return [Proposer(_lookup(config, a)) for a in pool][:limit]
    # diverse
    if len(usable) == 1:
        return resolve("role-based", config, usable)
    return [Proposer(_lookup(config, a)) for a in usable][:limit]


def chosen_name(proposers: Sequence[Proposer]) -> str:
    """What proposers chosen by hand (``--models`` / ``--variants``) amount to, in the built-in strategies'
    words: one model under several variants is role-based, one model under one variant is self-moa (samples of
    one model), two or more models are diverse."""
    if len({p.model.name for p in proposers}) > 1:
        return "diverse"
    return "role-based" if len({p.variant for p in proposers}) > 1 else "self-moa"


def judge_model(config: Config, usable: Sequence[str], strategy: str, override: str | None = None) -> ModelConfig:
    """The judge: ``--judge``, else the strategy's, else ``[roles] judge``/``planner``, else the first usable
    hosted model, else the first usable one."""
    own = config.strategies.get(strategy)
    for alias in (override, own.judge if own else None, config.roles.get("judge"), config.roles.get("planner")):
        if alias:
            return _lookup(config, alias)
    hosted = [a for a in usable if not _lookup(config, a).is_local]
    for alias in (*hosted, *usable):
        return _lookup(config, alias)
    raise StrategyError("no usable model for the judge: moot doctor says what is missing")
