"""What the workbench's first frame needs, and nothing more: the config schema (pydantic), discovery, the network
clients, the perf panel and the hosted client are imported after it, when there is no config file to check.

Each check runs in a fresh interpreter and looks at ``sys.modules``, since an import made by an earlier test would
hide one made here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LATER = ("pydantic", "litellm", "ollama", "httpx", "moot.core.config.models", "moot.core.discovery",
         "moot.core.perf.hosts", "moot.tui.widgets.perf", "moot.core.ensemble")
"""Modules the first frame does without."""


def imported(code: str, cwd: Path) -> dict[str, bool]:
    """Run ``code`` in a fresh interpreter, then report which of ``LATER`` it imported."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {LATER!r}}}))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=cwd)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_workbench_and_its_main_screen_leaves_the_rest_for_later(tmp_path: Path) -> None:
    found = imported("import moot.tui.app, moot.tui.screens.main", tmp_path)
    assert not any(found.values()), [m for m, yes in found.items() if yes]


def test_loading_no_config_and_opening_the_store_import_no_schema(tmp_path: Path) -> None:
    code = ("from pathlib import Path\nfrom moot.core.config import load_config\nfrom moot.core.storage import Store\n"
            "loaded = load_config(Path.cwd())\nassert not loaded.built and loaded.defaulted_models\n"
            "Store().close()\nfrom moot.core.providers.process import use_worker_process\nuse_worker_process()")
    found = imported(code, tmp_path)
    assert not any(found.values()), [m for m, yes in found.items() if yes]


def test_the_first_frame_is_drawn_before_the_schema_and_the_panel_are_imported(tmp_path: Path) -> None:
    """The workbench in a headless terminal, no config file: at its first frame none of ``LATER`` is imported;
    soon after, the config is built, the perf panel is on the screen (hidden) and the models are checked."""
    code = """
import asyncio, sys
from pathlib import Path
from moot.core.config import load_config
from moot.core.storage import Store
from moot.tui.app import MootApp

LATER = sys.argv[1:]
seen = {}

class Probe(MootApp):
    def _after_first_frame(self):
        seen.update({m: m in sys.modules for m in LATER})
        super()._after_first_frame()

async def main():
    app = Probe(load_config(Path.cwd()), Store(), cursor_blink=False)
    async with app.run_test(size=(120, 34)) as pilot:
        await asyncio.wait_for(app.models_ready.wait(), 60)
        for _ in range(500):
            if app.screen.query("PerfPanel"):
                break
            await pilot.pause(0.02)
        assert app.loaded.built and app.screen.query("PerfPanel"), "the panel was never added"
        assert "smollm2" in [s.model.name for s in app.statuses]
    bad = sorted(m for m, yes in seen.items() if yes)
    print("FIRST FRAME", bad if seen else "never drawn")

asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code, *LATER], capture_output=True, text=True, timeout=180,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "FIRST FRAME []" in out.stdout, out.stdout


def test_a_config_left_for_later_is_the_one_built_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         user_config) -> None:
    """With no file, the defaults are built on first use, from the environment as it was when loaded; with a
    file, the config is built (and checked) at once, as before."""
    from moot.core.config import load_config
    from moot.core.config.models import Config

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    loaded = load_config(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY")  # too late: the defaults follow the environment at load time
    assert not loaded.built and loaded.defaulted_models and loaded.layers == []
    assert isinstance(loaded.config, Config) and loaded.built
    assert [m.name for m in loaded.config.models] == ["smollm2", "openai"]
    assert loaded.config.models[0].model_dump() == {
        "name": "smollm2", "model": "local/smollm2", "api_base": None, "hosts": None, "pool": [], "api_key_env": None,
        "max_tokens": 384, "temperature": 0.7, "seed": None, "timeout_s": 300.0, "retries": 3, "path": None,
        "num_ctx": 8192}
    assert loaded.config.model_dump(exclude={"models"}) == Config().model_dump(exclude={"models"})

    user_config('[[models]]\nname = "m"\nmodel = "ollama/qwen"\n')
    assert load_config(tmp_path).built
