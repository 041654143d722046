"""App-wide behaviour: key remapping by binding id, remembered themes, the first-run header, the real
embedded model end to end through the workbench."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SCRIPTED_CONFIG
from moot.core.providers.embedded import engine_installed, shipped_model_path
from moot.tui.widgets.proposals import ProposalPane, ProposalsArea


async def test_keys_remap_by_binding_id(workbench, scripted) -> None:
    app = workbench(SCRIPTED_CONFIG + '\n[keys]\n"screen.history" = "f9"\n"proposal.choose" = "u"\n')
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f3")
        assert app.screen.__class__.__name__ == "MainScreen"  # f3 no longer opens history
        await pilot.click("#prompt")
        await pilot.press(*"task", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.screen.query_one("#proposal-0", ProposalPane).focus()
        await pilot.press("u")
        assert app.screen.chosen is not None and app.screen.chosen[1] == "plan from alpha"


async def test_theme_is_remembered(workbench) -> None:
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        assert app.theme == "moot-dark"
        app.theme = "moot-high-contrast"
        await pilot.pause()
    again = workbench()
    async with again.run_test(size=(120, 34)):
        assert again.theme == "moot-high-contrast"
        assert again.get_css_variables()["proposal-1"] == "#ffff00"


async def test_every_shipped_theme_defines_our_variables(workbench) -> None:
    from moot.themes import THEMES, VARIABLE_DEFAULTS

    for theme in THEMES:
        assert set(VARIABLE_DEFAULTS) <= set(theme.variables)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        app.theme = "textual-light"  # a theme of Textual's own still has every variable, from the fallbacks
        await pilot.pause()
        assert app.get_css_variables()["judge"] == VARIABLE_DEFAULTS["judge"]


async def test_first_run_header_says_embedded_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from moot.core.config import load_config
    from moot.core.discovery import ModelStatus
    from moot.core.providers.base import Availability
    from moot.core.storage import Store
    from moot.tui.app import MootApp

    monkeypatch.chdir(tmp_path)
    loaded = load_config(tmp_path)
    assert loaded.defaulted_models
    with Store() as store:
        app = MootApp(loaded, store, [ModelStatus(m, Availability(True)) for m in loaded.config.models],
                      cursor_blink=False)
        async with app.run_test(size=(120, 34)):
            header = str(app.screen.query_one("#header").render())
            assert "embedded model only" in header and "moot doctor" in header


@pytest.mark.embedded
@pytest.mark.skipif(not (engine_installed() and shipped_model_path()), reason="embedded engine not installed")
async def test_real_embedded_model_through_the_workbench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Discovery, three role-based proposals and the judge, all on SmolLM2, driven by keys."""
    from moot.core.config import load_config
    from moot.core.storage import Store
    from moot.tui.app import MootApp

    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[[models]]\nname = "smollm2"\nmodel = "local/smollm2"\nmax_tokens = 32\nnum_ctx = 4096\n'
                   "[ensemble]\nembedded_target_s = 100000\n")  # room for the whole run, however slow
    monkeypatch.setenv("MOOT_CONFIG", str(cfg))
    monkeypatch.chdir(tmp_path)
    with Store() as store:
        app = MootApp(load_config(tmp_path), store, cursor_blink=False)  # real discovery
        async with app.run_test(size=(120, 34)) as pilot:
            await app.models_ready.wait()
            assert app.usable == ["smollm2"]
            await pilot.click("#prompt")
            await pilot.press(*"Add a --verbose flag", "enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            panes = app.screen.query_one(ProposalsArea).panes
            assert [p.variant for p in panes] == ["architect", "security-engineer", "test-engineer"]
            assert all(p.state == "done" and p.text.strip() and p.tokens > 0 for p in panes)
            assert app.screen.result.judge is not None and app.screen.result.plan.strip()
            rows = store.calls(store.runs()[0]["id"])
            assert len(rows) == 4 and all(r["perf"]["eval_rate"] > 0 for r in rows)


def test_the_workbench_draws_up_to_120_frames_a_second_without_passing_the_setting_on() -> None:
    """Before Textual is imported, the workbench raises its frame rate to ``FPS``, unless ``TEXTUAL_FPS`` is
    given; the variable is not left in the environment of the programs moot starts."""
    import os
    import subprocess
    import sys

    probe = ("import os; from moot.tui import use_workbench_frame_rate; use_workbench_frame_rate(); "
             "import textual.constants as c; print(c.MAX_FPS, os.environ.get('TEXTUAL_FPS'))")
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    ours = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert ours.stdout.split() == ["120", "None"]
    given = subprocess.run([sys.executable, "-c", probe], env={**env, "TEXTUAL_FPS": "30"}, capture_output=True,
                           text=True, check=True)
    assert given.stdout.split() == ["30", "30"]


@pytest.mark.embedded
@pytest.mark.skipif(not (engine_installed() and shipped_model_path()),
                    reason="the embedded engine is not installed (pip install 'moot[local]')")
async def test_an_embedded_only_run_is_shaped_to_its_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a target no run can meet, the workbench probes the engine, plans with one short proposal and says so
    in the header."""
    from moot.core.config import load_config
    from moot.core.storage import Store
    from moot.tui.app import MootApp

    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[[models]]\nname = "smollm2"\nmodel = "local/smollm2"\nnum_ctx = 4096\n'
                   "[ensemble]\nembedded_target_s = 1\n")
    monkeypatch.setenv("MOOT_CONFIG", str(cfg))
    monkeypatch.chdir(tmp_path)
    with Store() as store:
        app = MootApp(load_config(tmp_path), store, cursor_blink=False)
        async with app.run_test(size=(120, 34)) as pilot:
            await app.models_ready.wait()
            await pilot.click("#prompt")
            await pilot.press(*"Add a greet function", "enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            result = app.screen.result
            assert result.shape is not None and result.shape.proposers == 1 and result.judge is None
            assert [p.result.usage.completion_tokens <= 128 for p in result.proposals] == [True]
            assert "embedded: 1 × 128 tok" in app.header_text()
            assert [r["phase"] for r in store.calls(result.run_id)] == ["propose"]  # the probe is not in the run
