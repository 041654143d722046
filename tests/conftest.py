"""Shared fixtures: every test runs with its own MOOT_HOME and user config folder, offline and deterministic."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# Snapshots compare what is drawn. An empty piece of text leaves a zero-width rectangle in the SVG, invisible;
# whether the renderer emits one for the help's tables depends on what earlier tests left in its caches.
try:
    import pytest_textual_snapshot as _snapshots
except ImportError:  # the dev extra is not installed: no snapshot tests either
    _snapshots = None
if _snapshots is not None:
    import re as _re

    _drawn = _snapshots.normalize_svg
    _snapshots.normalize_svg = lambda svg: _re.sub(r'<rect [^>]*width="0" [^>]*/>', "", _drawn(svg))

# Offline: litellm's bundled cost map, no telemetry; tiktoken reads litellm's bundled encodings.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

_KEY_VARS = (
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY", "MISTRAL_API_KEY",
    "GROQ_API_KEY", "DEEPSEEK_API_KEY", "XAI_API_KEY", "OLLAMA_HOST", "OLLAMA_API_KEY",
)


def sql(store: Any, statement: str, args: tuple[Any, ...] = ()) -> list[Any]:
    """Raw SQL on a store's database, for a test that sets up or inspects rows itself (moot's own modules
    reach only the tables they own, through ``Store.tables``)."""
    return store._run_sql(statement, args)


@pytest.fixture(autouse=True)
def moot_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MOOT_HOME and the user config's folder (XDG_CONFIG_HOME) at tmp_path and clear every provider key
    from the environment."""
    home = tmp_path / "moot-home"
    home.mkdir()
    monkeypatch.setenv("MOOT_HOME", str(home))
    monkeypatch.delenv("MOOT_CONFIG", raising=False)  # a file it names must exist: tests write theirs here
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    for var in _KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    # Nothing listens here: an Ollama probe during a test fails fast instead of finding a real server.
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("MOOT_NO_WATCH", "1")  # no file watchers unless a test turns them on
    return home


@pytest.fixture(autouse=True)
def _fresh_num_ctx():
    """Each test starts with no remembered context sizes (moot keeps one per local model for the process)."""
    from moot.core.perf import num_ctx

    num_ctx.forget_all()
    yield
    num_ctx.forget_all()


@pytest.fixture
def scripted():
    """The scripted backend, registered for ``scripted/<name>`` models for the duration of a test."""
    from scripted import ScriptedBackend

    backend = ScriptedBackend.install()
    yield backend
    ScriptedBackend.uninstall()


@pytest.fixture
def user_config(tmp_path: Path):
    """Write the user config file ($XDG_CONFIG_HOME/moot/config.toml) and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "xdg-config" / "moot" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
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


@pytest.fixture
def workbench(tmp_path: Path, user_config, scripted, monkeypatch: pytest.MonkeyPatch):
    """A factory for the workbench app on the scripted models (alpha, beta, gamma; alpha judges), in a fresh
    project directory, with every model usable and a frozen pane clock (deterministic figures)."""
    from moot.agents import meter
    from moot.core.config import load_config
    from moot.core.discovery import ModelStatus
    from moot.core.providers.base import Availability
    from moot.core.storage import Store
    from moot.tui.app import MootApp
    from moot.tui.widgets.proposals import pane

    user_config(SCRIPTED_CONFIG)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setattr(pane, "clock", lambda: 100.0)
    monkeypatch.setattr(meter, "clock", lambda: 100.0)
    # run ids seed the shuffle that gives plans their letters: make them deterministic, distinct per run
    from itertools import count

    from moot.core.ensemble import engine

    runs = count(1)
    monkeypatch.setattr(engine, "new_run_id", lambda: f"20260101-000000-{next(runs):04d}")
    stores: list[Store] = []

    def make(config: str | None = None) -> MootApp:
        if config is not None:
            user_config(config)
        loaded = load_config(project)
        store = Store()
        stores.append(store)
        statuses = [ModelStatus(m, Availability(True)) for m in loaded.config.models]
        return MootApp(loaded, store, statuses, cursor_blink=False)

    yield make
    for s in stores:
        s.close()
