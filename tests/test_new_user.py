"""What a new user trips over: each test here failed before its fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gitrepo import make_repo
from moot.cli import entry
from moot.core import tokens

MOOT = [sys.executable, "-c", "import sys; from moot.cli.entry import main; sys.exit(main())"]


def test_a_reader_that_went_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`moot history | head -1`: the pipe's reader is gone before moot writes; no traceback, no message."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([*MOOT, "history"], stdout=write, stderr=subprocess.PIPE, cwd=tmp_path, timeout=60)
    finally:
        os.close(write)
    assert done.stderr.decode() == ""
    assert done.returncode == 1


@pytest.fixture
def fresh_encodings():
    """tiktoken's own cache of loaded encodings and ours, emptied so that the next count loads from files."""
    import tiktoken.registry

    saved = dict(tiktoken.registry.ENCODINGS)
    tiktoken.registry.ENCODINGS.clear()
    tokens._encoding.cache_clear()
    yield
    tokens._encoding.cache_clear()
    tiktoken.registry.ENCODINGS.clear()
    tiktoken.registry.ENCODINGS.update(saved)


def test_a_tiktoken_cache_without_the_encodings_falls_back_to_the_shipped_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_encodings: None) -> None:
    """A user who set TIKTOKEN_CACHE_DIR for another program: moot counts from the files that ship with the
    installed packages (never the network), and leaves the user's setting as it was."""
    elsewhere = tmp_path / "other-cache"
    elsewhere.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(elsewhere))
    import tiktoken.load

    def no_network(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("went to the network")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    assert tokens.count_tokens("hello world") == 2
    assert tokens.count_tokens("hello world", "openai/gpt-4o") == 2
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(elsewhere)
    assert list(elsewhere.iterdir()) == []


def test_a_tiktoken_cache_that_has_the_encoding_is_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_encodings: None) -> None:
    own = tmp_path / "own-cache"
    own.mkdir()
    bundled = tokens._bundled_dir()
    assert bundled is not None
    name = tokens._cached_file("cl100k_base")
    (own / name).write_bytes((bundled / name).read_bytes())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(own))
    assert tokens.encoding_folder("cl100k_base") == own
    assert tokens.encoding_folder("o200k_base") == bundled
    assert tokens.count_tokens("hello world") == 2


def test_no_encoding_anywhere_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                fresh_encodings: None, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(empty))
    monkeypatch.setattr(tokens, "_bundled_dir", lambda: None)
    with pytest.raises(tokens.TokenizerUnavailable, match=r"no tokenizer file for cl100k_base on this machine: "
                                                          r"TIKTOKEN_CACHE_DIR \(.*empty\) lacks it"):
        tokens.count_tokens("hello")
    repo = make_repo(tmp_path / "repo", {"app.py": "def greet(name):\n    return name\n"})
    monkeypatch.chdir(repo)
    assert entry.main(["context", "fix greet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("moot: no tokenizer file for cl100k_base on this machine")


async def test_the_command_palette_names_each_key_once(workbench) -> None:
    """Ctrl+p over the main screen: a binding without a tooltip of its own is one line ("Move cursor left"),
    not its name twice; one with a tooltip keeps it as help."""
    from textual.command import CommandPalette

    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        commands = palette.query_one("CommandList")
        lines = [str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count)]
        assert "Move cursor left" in lines
        assert "Move cursor left\nMove cursor left" not in lines
        assert not [line for line in lines if len(set(line.split("\n"))) < len(line.split("\n"))]
        assert "Older task\nThe previous task" in lines


def test_the_budget_message_keeps_the_digits_that_matter() -> None:
    """The limit was rounded away: "and $0.0005 of the run's $0.00 is left"."""
    from moot.core.ensemble.budget import Budget, usd
    from moot.core.events import ProviderError

    budget = Budget(max_usd=0.0005)
    with pytest.raises(ProviderError) as refused:
        budget.reserve("alpha", 0.0012)
    assert "it could cost up to $0.0012 and $0.0005 of the run's $0.0005 is left (max_usd)" in str(refused.value)
    assert [usd(x) for x in (0, 0.00049, 0.004, 0.4, 2)] == ["$0.00", "$0.00049", "$0.004", "$0.40", "$2.00"]


async def test_each_finished_pane_carries_the_letter_the_synthesis_speaks_of(workbench, scripted) -> None:
    scripted.enqueue("alpha", "plan by alpha")
    scripted.enqueue("beta", "plan by beta")
    scripted.enqueue("gamma", error=("auth", False))
    scripted.enqueue("alpha", "## Plan\n1. Do it.\n")
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"add a flag", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        from moot.tui.widgets.proposals import ProposalsArea

        panes = app.screen.query_one(ProposalsArea).panes
        result = app.screen.result
        letters = {p.proposer.model.name: p.label for p in result.proposals if p.status == "done"}
        assert sorted(letters.values()) == ["A", "B"]
        titles = {pane.model: str(pane.border_title) for pane in panes}
        for model, letter in letters.items():
            assert f"Plan {letter} · {model} · default" in titles[model]
        assert "Plan" not in titles["gamma"]  # failed: the judge never saw it, it has no letter


async def test_a_lone_surviving_plan_is_the_plan_for_accept_edit_export_and_run(workbench, scripted) -> None:
    """The synthesis said "only plan A (alpha) survived, so it is the plan"; F5 must not answer "There is no
    synthesis to accept yet", and F10 carries it out without a choice first."""
    scripted.enqueue("alpha", "1. Add the flag.")
    for name in ("beta", "gamma"):
        scripted.enqueue(name, error=("auth", False))
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"add a flag", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        screen = app.screen
        assert screen.result.synthesis is None and screen.result.plan == "1. Add the flag."
        await pilot.press("f5")
        await pilot.pause()
        assert screen.chosen == ("Plan A (alpha · default)", "1. Add the flag.")
        assert "plan: Plan A (alpha · default)" in str(screen.query_one("#header").render())
        screen.chosen = None  # F10 alone, with nothing chosen: the lone plan is carried out
        await pilot.press("f10")
        await pilot.pause()
        from moot.tui.screens.run import RunScreen

        assert isinstance(app.screen, RunScreen)


async def test_the_task_under_way_is_shown_as_typed(workbench, scripted) -> None:
    """The prompt clears on Enter: the synthesis's lower border says which task it is for, as typed (a task's
    brackets are text, not markup)."""
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"plan by {name}")
    scripted.enqueue("alpha", "## Plan\n1. Do it.\n")
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"add [bold]x[/bold] flag", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        from textual.content import Content

        from moot.tui.widgets.synthesis import SynthesisPane

        shown = Content.from_markup(app.screen.query_one(SynthesisPane).border_subtitle)  # as the border draws it
        assert shown.plain == "task: add [bold]x[/bold] flag" and not shown.spans
        assert app.screen.query_one("#prompt").value == ""


async def test_esc_says_what_was_cancelled_and_keeps_what_finished(workbench, scripted) -> None:
    """Esc after one proposal finished: its plan is kept (it is the plan: F5 accepts it), the others say they
    were stopped (not "cancelled: cancelled"), and the synthesis says cancelled, not "judge failed"/"no plan"."""
    scripted.enqueue("alpha", "1. Add the flag.")
    scripted.enqueue("beta", hang=True)
    scripted.enqueue("gamma", hang=True)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        from moot.tui.widgets.proposals import ProposalsArea
        from moot.tui.widgets.synthesis import SynthesisPane

        await pilot.click("#prompt")
        await pilot.press(*"add a flag", "enter")
        screen = app.screen
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.result is not None and screen.result.proposals[0].status == "done":
                break
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        result = screen.result
        assert [p.status for p in result.proposals] == ["done", "cancelled", "cancelled"]
        assert result.plan == "1. Add the flag."
        assert result.notes[0] == "cancelled: 1 proposal of 3 had finished and is kept"
        panes = screen.query_one(ProposalsArea).panes
        assert [p.error for p in panes[1:]] == ["stopped before it finished"] * 2
        synthesis = screen.query_one(SynthesisPane)
        assert synthesis.state == "cancelled" and "judge failed" not in str(synthesis.border_title)
        assert result.to_json()["proposals"][1]["error"] == "stopped before it finished"
        assert [p["label"] for p in result.to_json()["proposals"]] == ["A", "B", "C"]
        await pilot.press("f5")
        assert screen.chosen == ("Plan A (alpha · default)", "1. Add the flag.")


def test_a_config_file_named_outright_and_missing_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt MOOT_CONFIG was ignored silently (`moot models` exit 0, `moot doctor` "(none)")."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOOT_CONFIG", str(tmp_path / "confg.toml"))
    for command in (["models"], ["doctor"]):
        assert entry.main(command) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / 'confg.toml'}: MOOT_CONFIG names this file and it does not exist" in err
        assert "Traceback" not in err
    monkeypatch.setenv("MOOT_CONFIG", os.devnull)  # none, said outright
    assert entry.main(["models"]) == 0


def _plan_in(folder: Path, scripted, monkeypatch: pytest.MonkeyPatch, task: str) -> None:
    from moot.cli.main import main as cli

    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"plan by {name}")
    scripted.enqueue("alpha", "## Plan\n1. Do it.\n")
    assert cli(["plan", task, "-o", "plan.md"]) == 0


def test_history_shows_this_projects_runs_and_show_lays_out_its_calls(
        tmp_path: Path, scripted, user_config, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`moot history` mixed every repository's runs; `--json` listed proposals B, A, C; `moot show` printed
    "- decompose -  cloud (-)" and could not show the messages sent."""
    import json

    from conftest import SCRIPTED_CONFIG
    from moot.cli.main import main as cli

    user_config(SCRIPTED_CONFIG)
    _plan_in(tmp_path / "one", scripted, monkeypatch, "task of project one")
    _plan_in(tmp_path / "two", scripted, monkeypatch, "task of project two")
    capsys.readouterr()
    assert cli(["history"]) == 0
    out = capsys.readouterr().out
    assert "task of project two" in out and "task of project one" not in out
    assert cli(["history", "--all"]) == 0
    out = capsys.readouterr().out
    assert "task of project two" in out and "task of project one" in out
    monkeypatch.chdir(tmp_path)
    assert cli(["history"]) == 0
    assert "no runs yet in this project (--all: every project's)" in capsys.readouterr().out

    monkeypatch.chdir(tmp_path / "two")
    assert cli(["history", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)[0]["id"]
    assert cli(["show", run_id, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["result"]
    assert [p["label"] for p in doc["proposals"]] == ["A", "B", "C"]
    assert cli(["show", run_id, "--prompts"]) == 0
    shown = capsys.readouterr().out
    calls = [line for line in shown.splitlines() if line.startswith("- propose") or line.startswith("- judge")]
    assert len(calls) == 4
    assert all(" -  " not in line and "(-)" not in line for line in calls)
    assert any(re.fullmatch(r"- propose   alpha \(default\): done, \d+\+3 tokens, \d+\.\d s", line)
               for line in calls), calls
    assert "### system" in shown and "### user" in shown and "task of project two" in shown
    assert cli(["show", run_id]) == 0
    assert "### system" not in capsys.readouterr().out


def test_the_projects_pins_and_drops_apply_to_every_entry_point(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Dropped in the workbench's inspector, a file was still in `moot context` and `moot plan`; and
    `moot context --model smollm2` counted against 4000 tokens where planning gives it 2048."""
    import json

    from moot.cli.main import main as cli
    from moot.context.choice import ContextChoice
    from moot.core.storage import Store

    repo = make_repo(tmp_path / "repo", {
        "app.py": "def greet(name):\n    return 'hi ' + name\n",
        "secret_notes.py": "def greet_twice(name):\n    return greet(name) * 2\n",
        "util.py": "def unrelated():\n    return 1\n",
    })
    monkeypatch.chdir(repo)
    store = Store()
    ContextChoice(pinned=["util.py"], dropped=["secret_notes.py"]).write(store, repo)
    store.close()
    assert cli(["context", "change greet in app.py", "--json", "--model", "smollm2"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    paths = [item["path"] for item in doc["items"]]
    assert "secret_notes.py" not in paths and paths[0] == "util.py"
    assert "the project's choice: 1 file pinned, 1 file dropped" in captured.err
    assert doc["budget"] == 2048  # the embedded default's 8192-token window, a quarter of it
    from moot.cli.commands import _planning_context
    from moot.core.config import load_config

    loaded = load_config(repo)
    text = _planning_context(loaded, "change greet in app.py", [loaded.config.model("smollm2")])
    assert text is not None and "secret_notes.py" not in text and "util.py" in text


def test_undo_outside_a_repository_says_it_as_run_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from moot.cli.main import main as cli

    monkeypatch.chdir(tmp_path)
    assert cli(["undo"]) == 2
    err = capsys.readouterr().err
    assert "is not inside a git repository (run `git init` and commit first)" in err and "fatal" not in err


def test_a_files_byte_order_mark_and_coding_declaration_are_honoured(tmp_path: Path) -> None:
    """A Latin-1 `.py` with a coding declaration was shown with replacement characters; a UTF-16 file was left
    out as binary."""
    from moot.context.cache import build_index
    from moot.context.files import list_files
    from moot.context.scope import scope

    latin = "# -*- coding: latin-1 -*-\ndef café():\n    return 'déjà vu'\n"
    wide = "def wide_greeting():\n    return 'grüß dich'\n"
    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    (repo / "latin.py").write_bytes(latin.encode("latin-1"))
    (repo / "wide.py").write_bytes(wide.encode("utf-16"))  # with its mark
    (repo / "blob.bin.py").write_bytes(b"\0\1\2 not text")
    index = build_index(repo, files=list_files(repo, sniff=False))
    assert "wide.py" in index.files and "blob.bin.py" not in index.files
    assert "wide_greeting" in {t.name for t in index.files["wide.py"].tags}
    assert "café" in {t.name for t in index.files["latin.py"].tags}
    result = scope(index, "fix wide_greeting and café", 4000, pinned=["latin.py", "wide.py"])
    assert "return 'déjà vu'" in result.text and "return 'grüß dich'" in result.text
    assert "\ufffd" not in result.text


def test_pinning_a_file_left_out_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from moot.cli.main import main as cli

    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n", ".gitignore": "build.log\n"})
    (repo / "blob.dat").write_bytes(b"\0\1\2")
    (repo / "build.log").write_text("noise\n")
    monkeypatch.chdir(repo)
    for name, why in [("blob.dat", "it looks binary"), ("build.log", "git ignores it"),
                      ("nothere.py", "there is no such file")]:
        assert cli(["context", "x", "--files", name]) == 2
        assert f"moot: {name} is not a file moot can show: {why}" in capsys.readouterr().err


def test_counts_are_said_in_the_singular_when_there_is_one() -> None:
    """"1 tasks", "indexed 1 files", "1 tokens": every count goes through one rule."""
    from moot.core.words import plural

    assert [plural(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
    assert plural(1, "file") == "1 file" and plural(3, "index", "indices") == "3 indices"


async def test_i_on_a_proposal_shows_the_exact_messages_it_was_sent(workbench, scripted) -> None:
    """The messages were stored but could not be seen: `i` on a proposal opens them, as text."""
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"plan by {name}")
    scripted.enqueue("alpha", "## Plan\n1. Do it.\n")
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"add a [b]flag[/b]", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        from moot.tui.screens.prompts import PromptsScreen
        from moot.tui.widgets.proposals import ProposalsArea

        app.screen.query_one(ProposalsArea).panes[1].focus()
        await pilot.press("i")
        await pilot.pause()
        shown = app.screen
        assert isinstance(shown, PromptsScreen)
        sent = [m for _, m, _ in scripted.calls if m][1]
        assert shown.messages == sent and "add a [b]flag[/b]" in sent[-1]["content"]
        texts = [str(w.render()) for w in shown.query(".prompts-content")]
        assert any("add a [b]flag[/b]" in t for t in texts)  # as typed, not markup
        assert "beta · default" in str(shown.query_one("#prompts-title").render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PromptsScreen)


async def test_i_on_a_past_proposal_shows_what_it_was_sent(workbench, scripted) -> None:
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"plan by {name}")
    scripted.enqueue("alpha", "## Plan\n1. Do it.\n")
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"add a flag", "enter")
        await app.workers.wait_for_complete()
        run_id = app.screen.result.run_id
        from moot.tui.screens.prompts import PromptsScreen
        from moot.tui.screens.run_view import RunViewScreen

        await app.push_screen(RunViewScreen(run_id))
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        await pilot.press("i")  # the first pane has the focus
        await pilot.pause()
        assert isinstance(app.screen, PromptsScreen)
        assert any("add a flag" in str(m["content"]) for m in app.screen.messages)


async def test_panes_end_on_the_providers_own_token_counts(workbench, scripted) -> None:
    """A pane said "done · 8 tok" where `moot show` said 41: the live count is of pieces, the provider's is of
    tokens; once a call ends, every figure is the provider's."""
    scripted.enqueue("alpha", "one two three", reported=41)
    scripted.enqueue("beta", "four five", reported=17)
    scripted.enqueue("gamma", "six", reported=9)
    scripted.enqueue("alpha", "## Plan\n1. Do it.\n", reported=68)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"add a flag", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        from moot.tui.widgets.proposals import ProposalsArea
        from moot.tui.widgets.synthesis import SynthesisPane

        panes = app.screen.query_one(ProposalsArea).panes
        assert [p.tokens for p in panes] == [41, 17, 9]
        assert "41 tok" in str(panes[0].query_one(".pane-title").render())
        synthesis = app.screen.query_one(SynthesisPane)
        assert synthesis.tokens == 68 and "68 tok" in str(synthesis.border_title)
