"""Who proposes: turning a strategy name (and command-line choices) into a list of proposers.

The built-in strategies are a registry (``REGISTRY``): each has a name, a one-line description (the
``--strategy`` help and the strategy dialog say it) and a function from what is usable to its proposers. To add
one, write its function here and add a ``Strategy`` line to ``REGISTRY``. A strategy in the config either names
its members, or borrows a built-in's shape (``samples``: self-moa, ``variants``: role-based, else diverse).

This module imports the config schema only for its types, and no dataclasses, so the command line lists the
strategies at no cost to ``moot --help``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ..config.models import Config, ModelConfig, StrategyConfig

ROLE_BASED_VARIANTS = ("architect", "security-engineer", "test-engineer")
SELF_MOA_SAMPLES = 4


class StrategyError(ValueError):
    """A strategy that cannot be resolved (unknown name, unknown alias, no usable model)."""


class Proposer(NamedTuple):
    model: ModelConfig
    variant: str = "default"
    temperature: float | None = None


class Choice(NamedTuple):
    """What a strategy builds its proposers from."""

    config: Config
    usable: Sequence[str]
    own: StrategyConfig | None
    """The strategy's own section in the config, if it has one."""

    @property
    def limit(self) -> int:
        return self.config.ensemble.max_proposers

    def one(self) -> ModelConfig:
        """The one model a single-model strategy uses: its own ``model``, else the planner, else the first usable."""
        if self.own and self.own.model:
            return _lookup(self.config, self.own.model)
        return _primary(self.config, self.usable)

    def usable_models(self) -> list[ModelConfig]:
        if not self.usable:
            raise StrategyError("no usable model: moot doctor says what is missing")
        return [_lookup(self.config, a) for a in self.usable]


class Strategy(NamedTuple):
    name: str
    description: str
    proposers: Callable[[Choice], list[Proposer]]


def _spread(n: int, lo: float = 0.2, hi: float = 1.0) -> list[float]:
    return [round(lo + (hi - lo) * i / max(1, n - 1), 2) for i in range(n)]


def _diverse(c: Choice) -> list[Proposer]:
    models = c.usable_models()
    if len(models) == 1:
        return _role_based(Choice(c.config, c.usable, c.config.strategies.get("role-based")))
    return [Proposer(m) for m in models][:c.limit]


def _role_based(c: Choice) -> list[Proposer]:
    variants = c.own.variants if c.own and c.own.variants else list(ROLE_BASED_VARIANTS)
    model = c.one()
    return [Proposer(model, v) for v in variants][:c.limit]


def _consensus(c: Choice) -> list[Proposer]:
    models = c.usable_models()
    hosted = [m for m in models if not m.is_local]
    pool = hosted if len(hosted) > 1 else models
    if len(pool) == 1:  # one model: several samples of it are the closest thing to a panel
        return [Proposer(pool[0], "default", t) for t in _spread(3, 0.3, 0.9)]
    return [Proposer(m) for m in pool][:c.limit]


def _self_moa(c: Choice) -> list[Proposer]:
    model = c.one()
    n = min(c.limit, (c.own.samples if c.own and c.own.samples else SELF_MOA_SAMPLES))
    return [Proposer(model, "default", t) for t in _spread(n)]


#: The built-in strategies, in the order they are offered.
REGISTRY: dict[str, Strategy] = {s.name: s for s in (
    Strategy("diverse", "every usable model once (one model: its prompt variants)", _diverse),
    Strategy("role-based", "one model as an architect, a security engineer and a test engineer", _role_based),
    Strategy("consensus", "the hosted models, or several samples of the one model there is", _consensus),
    Strategy("self-moa", "several samples of one model at rising temperatures", _self_moa),
)}
BUILTIN = tuple(REGISTRY)


def described() -> str:
    """The built-in strategies for a help text: ``diverse (every usable model once ...), ...``."""
    return "; ".join(f"{s.name}: {s.description}" for s in REGISTRY.values())


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

    own = config.strategies.get(name)
    if own is not None and own.members:
        return [Proposer(_lookup(config, m.model), m.variant, m.temperature) for m in own.members][:limit]
    if name not in REGISTRY and own is None:
        known = ", ".join(sorted(set(REGISTRY) | set(config.strategies)))
        raise StrategyError(f"unknown strategy {name!r} (known: {known})")
    if name == "self-moa" or (own is not None and own.samples):  # a config strategy borrows a built-in's shape
        shape = REGISTRY["self-moa"]
    elif name == "role-based" or (own is not None and own.variants):
        shape = REGISTRY["role-based"]
    else:
        shape = REGISTRY.get(name, REGISTRY["diverse"])
    return shape.proposers(Choice(config, usable, own))


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
