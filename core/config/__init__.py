"""Configuration: the schema (``models``), the layered loader (``loader``), and what of a repository's own config
file applies before the user trusts it (``trust``).

The schema's names are imported from ``models`` when first asked for: importing it imports pydantic and builds
every model (0.1 s), which the workbench's first frame does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .loader import ConfigError, LoadedConfig, data_dir, default_models, load_config, project_root

if TYPE_CHECKING:
    from .models import Config, EnsembleConfig, ModelConfig, StrategyConfig, StrategyMember

_SCHEMA = ("Config", "EnsembleConfig", "ModelConfig", "StrategyConfig", "StrategyMember")

__all__ = [
    "Config",
    "ConfigError",
    "EnsembleConfig",
    "LoadedConfig",
    "ModelConfig",
    "StrategyConfig",
    "StrategyMember",
    "data_dir",
    "default_models",
    "load_config",
    "project_root",
]


def __getattr__(name: str) -> Any:
    if name in _SCHEMA:
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
