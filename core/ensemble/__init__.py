"""Ensemble planning: several proposers, optional peer ranking, one judge.

The names below are imported on first use, so that ``moot.core.ensemble.strategies`` (what the command line's
help lists) can be imported without the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Ensemble, Phase, PlanOptions, Progress, Step, new_run_id
    from .result import PlanResult, Proposal
    from .strategies import BUILTIN, Proposer, StrategyError

_WHERE = {"Ensemble": "engine", "Phase": "engine", "PlanOptions": "engine", "Progress": "engine", "Step": "engine",
          "new_run_id": "engine",
          "PlanResult": "result", "Proposal": "result",
          "BUILTIN": "strategies", "Proposer": "strategies", "StrategyError": "strategies"}

__all__ = ["BUILTIN", "Ensemble", "Phase", "PlanOptions", "PlanResult", "Progress", "Proposal", "Proposer", "Step",
           "StrategyError", "new_run_id"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
