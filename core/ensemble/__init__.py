"""Ensemble planning: several proposers, optional peer ranking, one judge."""

from .engine import Ensemble, PlanOptions, Progress, new_run_id
from .result import PlanResult, Proposal
from .strategies import BUILTIN, Proposer, StrategyError

__all__ = ["BUILTIN", "Ensemble", "PlanOptions", "PlanResult", "Progress", "Proposal", "Proposer", "StrategyError",
           "new_run_id"]
