"""The workbench prompt's discussion commands: parsing, errors that say what would be right, Tab completion."""

from __future__ import annotations

import pytest

from moot.tui.discussion_commands import Command, CommandError, complete, is_command, parse

MODELS = ["alpha", "beta", "gamma"]


@pytest.mark.parametrize("line, expected", [
    ("/open which parser?", Command("open", text="which parser?")),
    ("/discuss", Command("discuss", rounds=3)),
    ("/discuss 2 seq", Command("discuss", rounds=2, sequential=True)),
    ("/next", Command("next")),
    ("/stop", Command("stop")),
    ("/conclude", Command("conclude")),
    ("/plan", Command("plan")),
    ("@beta what about errors?", Command("mention", text="what about errors?", names=("beta",))),
    ("@alpha @gamma: compare", Command("mention", text="compare", names=("alpha", "gamma"))),
])
def test_commands(line: str, expected: Command) -> None:
    assert is_command(line)
    assert parse(line, MODELS) == expected


@pytest.mark.parametrize("line, said", [
    ("/open", "needs a question"),
    ("/discuss 99", "1-20"),
    ("/discuss fast", "not 'fast'"),
    ("/next now", "takes nothing more"),
    ("/frobnicate", "unknown command /frobnicate (commands: /open"),
    ("@zeta hello", "unknown model @zeta (known: @alpha, @beta, @gamma)"),
    ("@beta", "say something to @beta"),
])
def test_mistakes_say_what_would_be_right(line: str, said: str) -> None:
    with pytest.raises(CommandError, match=said.replace("(", r"\(").replace(")", r"\)")):
        parse(line, MODELS)


def test_a_task_is_not_a_command() -> None:
    assert not is_command("add a --verbose flag")


def test_tab_completes_commands_and_names() -> None:
    assert complete("/con", MODELS) == "/conclude "
    assert complete("@g", MODELS) == "@gamma "
    assert complete("@beta and @al", MODELS) == "@beta and @alpha "
    assert complete("/n", MODELS) == "/next "
    assert complete("/", MODELS) is None  # several
    assert complete("plain words", MODELS) is None
