"""Shared fixtures: every test runs with its own MOOT_HOME and MOOT_CONFIG, offline and deterministic."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# Offline: litellm's bundled cost map, no telemetry; tiktoken reads litellm's bundled encodings.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

_KEY_VARS = (
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY", "MISTRAL_API_KEY",
    "GROQ_API_KEY", "DEEPSEEK_API_KEY", "XAI_API_KEY", "OLLAMA_HOST", "OLLAMA_API_KEY",
)


@pytest.fixture(autouse=True)
def moot_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MOOT_HOME and MOOT_CONFIG at tmp_path and clear every provider key from the environment."""
    home = tmp_path / "moot-home"
    home.mkdir()
    monkeypatch.setenv("MOOT_HOME", str(home))
    monkeypatch.setenv("MOOT_CONFIG", str(tmp_path / "user-config.toml"))
    for var in _KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    # Nothing listens here: an Ollama probe during a test fails fast instead of finding a real server.
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    return home


@pytest.fixture
def scripted():
    """The scripted backend, registered for ``scripted/<name>`` models for the duration of a test."""
    from scripted import ScriptedBackend

    backend = ScriptedBackend.install()
    yield backend
    ScriptedBackend.uninstall()


@pytest.fixture
def user_config(tmp_path: Path):
    """Write the user config file (MOOT_CONFIG) and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "user-config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


SCRIPTED_CONFIG = """
[[models]]
name = "alpha"
model = "scripted/alpha"

[[models]]
name = "beta"
model = "scripted/beta"

[[models]]
name = "gamma"
model = "scripted/gamma"

[roles]
judge = "alpha"
"""
