"""Snapshots of the history list, the run view and the help, from fixed runs written straight to the store."""

from __future__ import annotations

import time
from typing import Any

import pytest

from conftest import sql
from moot.tui.screens.run_view import RunViewScreen

SIZE = (120, 34)
T0 = 1_767_268_800.0
"""2026-01-01 12:00 UTC: the first run's start; times are shown in UTC here (TZ is set below)."""


def proposal(label: str, model: str, variant: str, text: str, tokens: int, cost: float,
             status: str = "done", error: str | None = None) -> dict[str, Any]:
    return {"label": label, "model": model, "variant": variant, "status": status, "text": text,
            "error": error, "usage": {"prompt_tokens": 120, "completion_tokens": tokens}, "cost_usd": cost,
            "latency_s": 2.5, "ttft_s": 0.4, "perf": None}


def document(run_id: str, task: str) -> dict[str, Any]:
    return {
        "run_id": run_id, "task": task, "strategy": "ensemble",
        "proposals": [
            proposal("A", "alpha", "default", "1. Add `--verbose` to the parser.\n2. Log at DEBUG when set.",
                     18, 0.0012),
            proposal("B", "beta", "terse", "1. Add a `-v` flag.\n2. Count repeats for the level.",
                     14, 0.0008),
            proposal("C", "gamma", "default", "", 0, 0.0, status="failed", error="auth: scripted auth"),
        ],
        "ranking": {"ballots": {"A": ["B"], "B": ["A"]}, "scores": {"A": 1, "B": 1}, "order": ["A", "B"],
                    "notes": []},
        "judge": {"model": "alpha", "text": "", "error": None, "consensus": ["a flag on the main parser"],
                  "divergence": ["one flag or a count of repeats"], "resolution": "a count covers both",
                  "unique_insights": ["log at DEBUG"]},
        "plan": "1. Add `-v/--verbose` (repeatable) to the parser.\n2. Map the count to a log level.",
        "notes": ["gamma failed: auth: scripted auth"],
        "totals": {"cost_usd": 0.003, "prompt_tokens": 480, "completion_tokens": 92, "wall_s": 7.25},
    }


def seed(app: Any) -> None:
    """Two finished runs, an hour apart, with fixed ids, times and documents."""
    store = app.store
    for i, task in enumerate(("add a --verbose flag to the CLI", "write the README's install section")):
        run_id = f"run-000{i + 1}"
        store.start_run(run_id, "plan", task, "ensemble", None)
        store.finish_run(run_id, "done", document(run_id, task))
        sql(store, "UPDATE runs SET created_at = ?, finished_at = ? WHERE id = ?",
                      (T0 + 3600 * i, T0 + 3600 * i + 8, run_id))


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    """Local time is UTC for the test, so the 'When' column does not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def settle(pilot) -> None:
    """The screen's thread worker done, its rows in the table, and the table laid out again for them (a busy
    machine can otherwise draw the columns at their headers' widths)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    for table in pilot.app.screen.query("#history-table"):  # widths follow the rows on an idle turn: wait for it
        for _ in range(500):
            when = next(iter(table.columns.values()), None)
            if not table.row_count or (when is not None and when.content_width >= len("2026-01-01 13:00")):
                break
            await pilot.pause(0.01)
        table._clear_caches()  # rows drawn before the widths changed are cached at the old widths: drop them
        table.refresh(layout=True)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()


def test_history_list(workbench, utc, snap_compare) -> None:
    """The history: a bold title bar, an empty search box, and the table (focused: accent border, first row
    highlighted) of two runs, newest first: "write the README's install section" at 2026-01-01 13:00 above
    "add a --verbose flag to the CLI" at 12:00; both done, ensemble, 3 proposals, $0.0030. The footer shows
    esc Back, u Reuse task, / Search."""
    app = workbench()
    seed(app)

    async def open_history(pilot) -> None:
        await pilot.press("f3")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_history)


def test_run_view(workbench, utc, snap_compare) -> None:
    """One past run: the task in the bold top bar, then "run-0001 · ensemble · done · $0.0030 · 572 tok (480 in,
    92 out) · 7.2 s". Three proposal columns, each titled in its border in its proposal colour: "Plan A · alpha"
    (focused: accent border; "done · 18 tok · $0.0012") and "Plan B · beta" ("done · 14 tok · $0.0008") with their numbered plans,
    gamma "✗" with "failed · 0 tok" and "auth: scripted auth" in the error colour. Below, in a judge-coloured
    border titled "Synthesis · alpha": the note about gamma, the plan, Consensus, Divergent approaches (the
    insights, resolution and Borda table are further down). The footer offers only m Maximise, esc Back,
    u Reuse task: a past run is read-only."""
    app = workbench()
    seed(app)

    async def open_run(pilot) -> None:
        await app.push_screen(RunViewScreen("run-0001"))
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_run)


def test_help(workbench, snap_compare) -> None:
    """The help over the main screen (prompt focused): an accent-bordered dialog titled "Keys · MainScreen"
    whose first table, "This screen", lists Tab, shift+Tab, then F2 Strategy (tooltip wrapped on two lines,
    run.strategy), F3 History … F8, Esc Cancel (run.cancel-all) and ctrl+l Prompt (prompt.focus); below it the
    focused PromptInput's keys begin (↑ Older task prompt.older, ↓, ←, →, Home, ctrl+a …); further down (out of
    view) the prompt's commands (/open …, @model TEXT). The last line says that Esc, F1 or ? closes it."""
    app = workbench()

    async def open_help(pilot) -> None:
        await pilot.press("f1")
        for _ in range(3):  # the warm-up's worker and the tables' second layout, whatever finishes first
            await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_help)
