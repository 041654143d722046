"""The live local-model performance panel."""

from .panel import PerfPanel

__all__ = ["PerfPanel"]
