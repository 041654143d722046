"""Configuration: the schema (``models``) and the layered loader (``loader``)."""

from .loader import ConfigError, LoadedConfig, data_dir, default_models, load_config, project_root
from .models import Config, EnsembleConfig, ModelConfig, StrategyConfig, StrategyMember

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
