"""History, the run view and the help, with the scripted models: list, search, open, reuse, keys."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Markdown, Static

from moot.tui.screens.help import HelpScreen, key_label
from moot.tui.screens.history import HistoryScreen, run_cells
from moot.tui.screens.main import MainScreen
from moot.tui.screens.run_view import RunViewScreen
from moot.tui.widgets.proposals import ProposalPane
from moot.tui.widgets.synthesis import synthesis_from_json

JUDGE = "## Plan\n1. Change `cli.py`.\n\n## Consensus\n- add a flag\n\n## Divergent approaches\n- A vs B\n"


async def run_task(pilot, task: str) -> None:
    await pilot.click("#prompt")
    await pilot.press(*task, "enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def settle(pilot) -> None:
    """Let the screen's thread worker finish and its call back into the UI run."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def help_rows(screen: HelpScreen) -> list[list[str]]:
    return [r for t in screen.query(DataTable) for r in rows(t)]


def enqueue_run(scripted, text: str = "") -> None:
    scripted.enqueue("alpha", f"alpha plan {text}")
    scripted.enqueue("beta", f"beta plan {text}")
    scripted.enqueue("gamma", error=("auth", False))
    scripted.enqueue("alpha", JUDGE)


async def test_history_lists_searches_opens_and_reuses(workbench, scripted) -> None:
    enqueue_run(scripted, "one")
    enqueue_run(scripted, "two")
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await run_task(pilot, "add a verbose flag")
        await run_task(pilot, "write the docs")
        await pilot.press("f3")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        table = screen.query_one("#history-table", DataTable)
        listed = rows(table)
        assert [r[5] for r in listed] == ["write the docs", "add a verbose flag"]
        assert [r[1] for r in listed] == ["done", "done"]
        assert [r[3] for r in listed] == ["3", "3"]

        await pilot.press(*"verbose")
        await settle(pilot)
        assert screen.query_one("#history-search", Input).value == "verbose"
        assert [r[5] for r in rows(table)] == ["add a verbose flag"]

        await pilot.press("down", "enter")
        await settle(pilot)
        view = app.screen
        assert isinstance(view, RunViewScreen)
        panes = list(view.query(ProposalPane))
        assert [p.state for p in panes] == ["done", "done", "failed"]
        assert panes[0].text == "alpha plan one" and panes[1].text == "beta plan one"
        assert panes[2].error and panes[2].error.startswith("auth")
        assert "add a verbose flag" in str(view.query_one("#run-task", Static).render())
        synthesis = view.query_one("#run-synthesis-markdown", Markdown).source
        assert "1. Change `cli.py`." in synthesis
        assert "### Consensus" in synthesis and "add a flag" in synthesis

        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert app.screen.query_one("#prompt", Input).value == "add a verbose flag"


async def test_search_without_matches_and_reuse_from_the_list(workbench, scripted) -> None:
    enqueue_run(scripted)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await run_task(pilot, "refactor the parser")
        await pilot.press("f3")
        await settle(pilot)
        screen = app.screen
        await pilot.press(*"zzz")
        await settle(pilot)
        assert not screen.query_one("#history-table").display
        assert "No runs match" in str(screen.query_one("#history-empty", Static).render())
        await pilot.press("backspace", "backspace", "backspace")
        await settle(pilot)
        await pilot.press("down", "u")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert app.screen.query_one("#prompt", Input).value == "refactor the parser"


async def test_empty_history_and_escape(workbench) -> None:
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        empty = app.screen.query_one("#history-empty", Static)
        assert empty.display and str(empty.render()) == "No runs yet"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_an_interrupted_run_opens(workbench) -> None:
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        app.store.start_run("run-interrupted", "plan", "the task that never finished", "auto", None)
        app.store.mark_interrupted()
        await pilot.press("f3")
        await settle(pilot)
        listed = rows(app.screen.query_one("#history-table", DataTable))
        assert listed[0][1:5] == ["interrupted", "auto", "—", "—"]
        await pilot.press("down", "enter")
        await settle(pilot)
        view = app.screen
        assert isinstance(view, RunViewScreen)
        assert not view.query(ProposalPane)
        assert "interrupted" in str(view.query_one("#run-empty", Static).render())
        assert "the task that never finished" in str(view.query_one("#run-task", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)


async def test_help_lists_every_key_and_closes(workbench, scripted) -> None:
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        listed = help_rows(help_screen)
        ids = {r[3] for r in listed}
        assert {"run.strategy", "screen.history", "app.quit", "proposal.maximise", "prompt.focus"} <= ids
        strategy = next(r for r in listed if r[3] == "run.strategy")
        assert strategy[:2] == ["F2", "Strategy"] and strategy[2].startswith("Choose the strategy")
        assert next(r for r in listed if r[3] == "app.quit")[0] == "ctrl+q"
        titles = [str(s.render()) for s in help_screen.query(".help-section")]
        assert "When a proposal is focused" in titles
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("f1")
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_help_shows_remapped_keys(workbench, scripted) -> None:
    from conftest import SCRIPTED_CONFIG

    app = workbench(SCRIPTED_CONFIG + '\n[keys]\n"run.strategy" = "ctrl+s"\n"proposal.maximise" = "z"\n')
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        listed = {r[3]: r for r in help_rows(app.screen)}
        assert listed["run.strategy"][0] == "ctrl+s"
        assert listed["proposal.maximise"][0] == "z"


async def test_run_view_is_read_only_and_its_help(workbench, scripted) -> None:
    enqueue_run(scripted)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await run_task(pilot, "a task")
        run_id = app.store.runs()[0]["id"]
        await app.push_screen(RunViewScreen(run_id))
        await settle(pilot)
        view = app.screen
        first = view.query_one("#run-proposal-0", ProposalPane)
        assert view.focused is first
        await pilot.press("p", "k", "r", "c")  # disabled on a past run: nothing happens
        assert app.screen is view and first.state == "done"
        await pilot.press("m")
        assert view.maximized is first
        await pilot.press("f1")
        await pilot.pause()
        listed = {r[3] for r in help_rows(app.screen)}
        assert {"run-view.back", "run-view.reuse", "proposal.maximise", "app.help"} <= listed
        assert "proposal.choose" not in listed
        titles = [str(s.render()) for s in app.screen.query(".help-section")]
        assert "When a proposal is focused" not in titles
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen is view
        await pilot.press("escape")
        assert view.maximized is None
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_help_on_the_history_lists_what_the_search_takes(workbench) -> None:
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen.focused, Input)  # no runs: the search has the focus
        await pilot.press("f1")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        titles = [str(s.render()) for s in help_screen.query(".help-section")]
        assert titles[0] == "This screen" and "Everywhere" in titles
        assert any(t.startswith("Not while Input is focused") for t in titles)
        listed = {r[3]: r for r in help_rows(help_screen)}
        assert listed["history.reuse"][0] == "u" and listed["history.back"][0] == "Esc"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)


def test_key_labels() -> None:
    assert [key_label(k) for k in ("f2", "ctrl+q", "question_mark", "escape", "u")] == \
        ["F2", "ctrl+q", "?", "Esc", "u"]


def test_synthesis_from_json_has_the_borda_table() -> None:
    doc = {
        "plan": "1. do it", "notes": ["one model failed"],
        "proposals": [{"label": "A", "model": "alpha", "variant": "default"},
                      {"label": "B", "model": "beta", "variant": "terse"}],
        "ranking": {"ballots": {}, "scores": {"A": 1, "B": 3}, "order": ["B", "A"], "notes": []},
        "judge": {"model": "alpha", "consensus": ["x"], "divergence": [], "resolution": "because",
                  "unique_insights": ["y"], "error": None},
    }
    text = synthesis_from_json(doc)
    assert text.startswith("> one model failed\n\n1. do it")
    assert "### Consensus\n\n- x" in text and "### Unique insights\n\n- y" in text
    assert "### Resolution rationale\n\nbecause" in text
    assert "|---|---|---|\n| B | beta · terse | 3 |\n| A | alpha · default | 1 |" in text


def test_run_cells_for_plan_and_execution_runs() -> None:
    """A plan run counts its proposals and cost; an execution run has neither column, whatever it stored."""
    plan = {"kind": "plan", "status": "done", "strategy": "diverse", "task": "add a flag\nmore", "created_at": 0,
            "result_json": '{"proposals": [{}, {}], "totals": {"cost_usd": 0.0123}}'}
    assert run_cells(plan)[1:5] == ("done", "diverse", "2", "$0.0123")
    assert str(run_cells(plan)[5]) == "add a flag"
    for stored in (None, '{"tasks": [], "proposals": []}'):
        exec_run = {"kind": "exec", "status": "failed", "task": "t", "created_at": 0, "result_json": stored}
        assert run_cells(exec_run)[1:5] == ("failed", "carry out", "—", "—")
