"""Hostile text at the output boundary: escapes and markup in tasks, model answers, provider errors and test output
never reach a terminal raw, and no key reaches the database, an export, the output, the tests' environment or a
prompt."""

from __future__ import annotations

import io
import json
import sys
import unicodedata
from pathlib import Path

import pytest

from conftest import SCRIPTED_CONFIG
from gitrepo import hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.cli.main import main
from moot.core.text import clean, control, guarded_output, terminal_safe
from standins.ollama_server import OllamaStandIn
from standins.openai_server import OpenAIStandIn

pytestmark = pytest.mark.hostile

TITLE = "\x1b]0;PWNED\x07"
CLIPBOARD = "\x1b]52;c;cHduZWQ=\x07"
HOSTILE = (f"x {TITLE} {CLIPBOARD} \x1b[2J\x1b[31mred\x1b[0m \x9b6n \x1bP+q\x1b\\ back\bspace del\x7f "
           "over\rwrite \u202eevil\u202c \u2066iso\u2069 zero\u200bwidth")
MARKUP = "[bold]loud[/bold] [link=https://evil.example]click[/link] [red on white]x[/]"
FAKE_KEY = "sk-test-0123456789abcdefABCDEF"
ODD_KEY = "zz-cred-9f8e7d6c5b4a3210"
"""A key in a variable whose name does not say it holds one (the config's ``api_key_env`` names it)."""


def raw_controls(text: str) -> set[str]:
    """Every character in ``text`` that could act on a terminal."""
    return {ch for ch in text if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")}


def db_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("moot.db*"))


# ------------------------------------------------------------------------------------------ the sanitiser


def test_terminal_safe_escapes_every_control_visibly() -> None:
    out = terminal_safe(HOSTILE)
    assert raw_controls(out) == set()
    assert "\\x1b]0;PWNED\\x07" in out and "\\x1b]52;c;cHduZWQ=\\x07" in out  # shown, not dropped
    assert "\\x9b6n" in out and "back\\x08space" in out and "del\\x7f" in out and "over\\x0dwrite" in out
    assert "\\u202eevil\\u202c" in out and "\\u2066iso\\u2069" in out and "zero\\u200bwidth" in out


def test_terminal_safe_keeps_ordinary_text() -> None:
    text = "line one\n\tindented — café, 日本語, emoji 🎉, `code` [bold]x[/bold] \\x1b as written\n"
    assert terminal_safe(text) == text
    assert terminal_safe("a\r\nb\r\n") == "a\nb\n"
    assert terminal_safe("bad byte \udcff") == "bad byte \\udcff"  # an undecodable byte, which print would refuse


def test_clean_redacts_then_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    assert clean(f"\x1b]52;c;{FAKE_KEY}\x07") == "\\x1b]52;c;[redacted]\\x07"


def test_guarded_output_covers_every_print_but_moot_s_own_cursor_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    out, errs = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", errs)
    with guarded_output():
        print(f"{TITLE}{FAKE_KEY}")
        print(HOSTILE, file=sys.stderr)
        control(sys.stderr, "\r\x1b[2K")
    assert sys.stdout is out and sys.stderr is errs
    assert out.getvalue() == "\\x1b]0;PWNED\\x07[redacted]\n"
    assert raw_controls(errs.getvalue().removesuffix("\r\x1b[2K")) == set()
    assert errs.getvalue().endswith("\r\x1b[2K")


# ------------------------------------------------------------------------------- plan, history, show


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_config) -> Path:
    user_config(SCRIPTED_CONFIG)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_hostile_task_and_answers_reach_no_terminal_raw(scripted, project, capsys) -> None:
    scripted.enqueue("alpha", f"plan a {HOSTILE} {MARKUP}")
    scripted.enqueue("beta", f"plan b {HOSTILE}")
    scripted.enqueue("gamma", error=("auth", False))
    scripted.enqueue("alpha", f"## Plan\nDo it {HOSTILE}\n{MARKUP}\n## Consensus\n- {TITLE}both agree\n")
    assert main(["plan", f"fix it {HOSTILE}", "-o", "plan.md"]) == 0
    export = (project / "plan.md").read_text(encoding="utf-8")
    assert raw_controls(export) == set() and "\\x1b]52;c;cHduZWQ=\\x07" in export and MARKUP in export
    printed = capsys.readouterr()
    assert raw_controls(printed.out + printed.err) == set()

    assert main(["history"]) == 0
    listed = capsys.readouterr().out
    assert raw_controls(listed) == set() and "fix it x \\x1b]0;PWNED\\x07" in listed
    run_id = listed.split()[0]
    for argv in (["show", run_id], ["show", run_id, "--json"], ["history", "--json"]):
        assert main(argv) == 0
        shown = capsys.readouterr()
        assert raw_controls(shown.out + shown.err) == set(), argv
    assert main(["plan", "again", "--json"]) == 0
    assert raw_controls(capsys.readouterr().out) == set()


def test_binary_stdin_is_a_usage_error(project, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    for argv in (["plan", "-"], ["run", "-", "--yes"], ["context", "-"]):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")))
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "not text" in err and "Traceback" not in err, argv


def test_a_task_with_an_undecodable_argument_is_a_usage_error(project, capsys) -> None:
    assert main(["plan", "fix \udcff it"]) == 2
    assert "not text" in capsys.readouterr().err


def test_more_models_than_proposers_is_a_usage_error(scripted, project, capsys) -> None:
    models = ",".join(["alpha", "beta", "gamma"] * 3)
    assert main(["plan", "x", "--models", models]) == 2
    err = capsys.readouterr().err
    assert "9 proposers" in err and "at most 6" in err and "max_proposers" in err
    assert main(["plan", "x", "--models", "alpha,beta", "--variants", "default,critic,minimal,default"]) == 2
    assert "8 proposers" in capsys.readouterr().err
    assert scripted.calls == []


# ------------------------------------------------------------------------------- keys and remote servers


def _cloud_config(user_config, url: str) -> None:
    user_config(f"""
[[models]]
name = "cloud"
model = "openai/gpt-4o-mini"
api_base = "{url}"
api_key_env = "MY_LLM_CRED"
retries = 0

[roles]
judge = "cloud"
""")


def test_a_hostile_server_s_answers_and_errors_are_escaped_and_the_key_redacted(
    project, user_config, moot_env, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_LLM_CRED", ODD_KEY)
    with OpenAIStandIn() as server:
        _cloud_config(user_config, server.url)
        # the server echoes the key it was sent, with escapes, in its answer (proposal and judge)
        server.script("gpt-4o-mini", f"## Plan\nUse Authorization: Bearer {ODD_KEY} {TITLE}{CLIPBOARD} {MARKUP}\n")
        assert main(["plan", "--models", "cloud", "fix it", "--json", "-o", "plan.json"]) == 0
        assert server.requests and server.requests[0].headers["authorization"] == f"Bearer {ODD_KEY}"
        assert main(["plan", "--models", "cloud", "fix it", "-o", "plan.md"]) == 0
        assert main(["plan", "--models", "cloud", "fix it"]) == 0
        answered = capsys.readouterr()
        # and in its error
        server.fail(401, times=5, message=f"bad key Bearer {{api_key}} {TITLE}{CLIPBOARD}\x1b[2J {ODD_KEY}")
        assert main(["plan", "--models", "cloud", "fix it"]) == 1
        failed = capsys.readouterr()
        prompts = [json.dumps(r.body) for r in server.requests]
    exports = [(project / name).read_text(encoding="utf-8") for name in ("plan.json", "plan.md")]
    for text in exports:
        assert ODD_KEY not in text and "[redacted]" in text and raw_controls(text) == set()
    assert "\\u001b" not in exports[0]  # the JSON holds the escape as text, not an encoded ESC
    for text in (answered.out, answered.err, failed.out, failed.err):
        assert ODD_KEY not in text and raw_controls(text) == set()
    assert "[redacted]" in answered.out and "bad key" in failed.err and "\\x1b]52;c;cHduZWQ=" in failed.err
    assert main(["history"]) == 0
    run_id = capsys.readouterr().out.split()[0]
    for argv in (["show", run_id], ["show", run_id, "--json"]):
        assert main(argv) == 0
        shown = capsys.readouterr()
        assert ODD_KEY not in shown.out and raw_controls(shown.out + shown.err) == set()
    assert ODD_KEY.encode() not in db_bytes(moot_env)
    assert all(ODD_KEY not in p for p in prompts)  # the judge is not handed the echoed key either


def test_a_hostile_ollama_error_is_escaped(project, user_config, capsys) -> None:
    with OllamaStandIn() as server:
        server.add_model("qwen:7b", fail="bad_request", error=f"bad {TITLE}{CLIPBOARD}\x9b2J options")
        user_config(f'[ollama]\nhost = "{server.url}"\n\n[[models]]\nname = "q"\nmodel = "ollama/qwen:7b"\n'
                    '[roles]\njudge = "q"\n')
        assert main(["plan", "--models", "q", "fix it"]) == 1
        printed = capsys.readouterr()
    assert "bad \\x1b]0;PWNED" in printed.err and raw_controls(printed.out + printed.err) == set()


# ------------------------------------------------------------------------------------------- moot run

RUN_CONFIG = """
[[models]]
name = "alpha"
model = "scripted/alpha"
api_key_env = "MY_LLM_CRED"
timeout_s = 60

[roles]
judge = "alpha"
planner = "alpha"
backend = "alpha"

[project]
test_command = "env; cat leak.txt; printf '\\\\033]52;c;cHduZWQ=\\\\007 \\\\033]0;PWNED\\\\007\\\\n'; exit 1"

[agents]
debug_limit = 1
"""


def test_a_run_s_tests_see_no_key_and_their_output_is_redacted_everywhere(
    scripted, tmp_path: Path, user_config, moot_env, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("MY_LLM_CRED", ODD_KEY)
    user_config(RUN_CONFIG)
    repo = make_repo(tmp_path / "repo", {"x.txt": "no\n", "leak.txt": f"leaked {FAKE_KEY} and {ODD_KEY}\n"})
    monkeypatch.chdir(repo)
    (tmp_path / "plan.md").write_text("# Make x ok\n\nChange x.txt.\n")
    tasks = {"tasks": [{"id": "t1", "role": "backend", "title": f"make x ok {TITLE}{MARKUP}", "files": ["x.txt"]}]}
    scripted.enqueue("alpha", "```json\n" + json.dumps(tasks) + "\n```")
    scripted.enqueue("alpha", f"Done {CLIPBOARD}.\n\nx.txt\n<<<<<<< SEARCH\nno\n=======\nok {TITLE}\n>>>>>>> REPLACE\n")
    scripted.enqueue("alpha", "Nothing to fix.")
    code = main(["run", "--plan", str(tmp_path / "plan.md"), "--yes", "--json"])
    printed = capsys.readouterr()
    assert code == 1
    doc = json.loads(printed.out)
    tail = doc["tests"]["output_tail"]
    names = {line.split("=", 1)[0] for line in tail.splitlines() if "=" in line}
    assert "PATH" in names and not {"OPENAI_API_KEY", "MY_LLM_CRED"} & names  # the tests ran without keys
    assert "leaked [redacted] and [redacted]" in tail
    for text in (printed.out, printed.err):
        assert FAKE_KEY not in text and ODD_KEY not in text and raw_controls(text) == set()
    assert "| leaked [redacted] and [redacted]" in printed.err and "\\x1b]52;c;cHduZWQ=\\x07" in printed.err
    debug = [m for _, messages, _ in scripted.calls for m in messages if "The project's tests fail" in m["content"]]
    assert debug, "the failing output went to the model"
    for m in debug:
        assert FAKE_KEY not in m["content"] and ODD_KEY not in m["content"] and "[redacted]" in m["content"]
    data = db_bytes(moot_env)
    assert FAKE_KEY.encode() not in data and ODD_KEY.encode() not in data
    run_id = doc["run_id"]
    for argv in (["review", run_id], ["review", run_id, "--json"], ["history"], ["show", run_id]):
        main(argv)
        shown = capsys.readouterr()
        assert raw_controls(shown.out + shown.err) == set(), argv
        assert FAKE_KEY not in shown.out + shown.err and ODD_KEY not in shown.out + shown.err, argv


# ------------------------------------------------------------------------------------------ the workbench


def _drawn(svg: str) -> str:
    """The text of a screenshot, with its characters as they were drawn."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


async def test_the_workbench_shows_hostile_answers_as_text(
    workbench, scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    answer = f"plan {FAKE_KEY} {TITLE} then {CLIPBOARD}\x1b[2J\x9b2J \u202eevil\n\n[bold]loud[/bold]\n\n[link=https://evil.example]click[/link]\n"
    scripted.enqueue("alpha", answer)
    scripted.enqueue("beta", f"beta {CLIPBOARD}")
    scripted.enqueue("gamma", error=("auth", False))
    scripted.enqueue("alpha", f"## Plan\n1. {TITLE}[bold]x[/bold] [link=https://evil.example]y[/link]\n")
    app = workbench()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"fix [bold]it[/bold]", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        svg = app.export_screenshot()
        app.screen.query_one("#proposal-0").focus()
        await pilot.press("p", "f7")
        await app.workers.wait_for_complete()
    drawn = _drawn(svg)
    (exported,) = (app.loaded.project_dir / "plans").glob("*.md")
    text = exported.read_text(encoding="utf-8")
    assert FAKE_KEY not in text and "[redacted]" in text and raw_controls(text) == set()
    assert "\\x1b]52;c;cHduZWQ=" in text and "[bold]loud[/bold]" in text
    assert raw_controls(drawn) == set()
    assert "\\x1b]52;c;cHduZWQ=" in drawn  # shown, as the terminal commands do
    assert "[bold]loud[/bold]" in drawn and "[link=https://evil.example]click[/link]" in drawn
    assert "fix [bold]it[/bold]" in drawn


async def test_model_chosen_names_in_borders_and_notices_are_text(tmp_path: Path) -> None:
    """A task id or a file name is chosen by a model: in a border title or a notice it is text, not markup."""
    from textual.app import App, ComposeResult

    from moot.tui.widgets.tasks.list import TaskList
    from moot.tui.widgets.tasks.model import TaskItem

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield TaskList(id="tasks")

    hostile_id = "[link=https://evil.example]t1[/link]"
    async with Host().run_test(size=(100, 30)) as pilot:
        tasks = pilot.app.query_one(TaskList)
        tasks.upsert(TaskItem(0, hostile_id, f"title {MARKUP}", "backend", "[b]alpha[/b]"))
        await pilot.pause()
        drawn = _drawn(pilot.app.export_screenshot())
    assert f"{hostile_id} · [b]alpha[/b] · queued" in drawn  # the output's border, as written
    assert "title [bold]loud[/bold]" in drawn


def test_a_strategy_with_more_members_than_proposers_says_so(scripted, project, user_config, capsys) -> None:
    members = ", ".join('{ model = "alpha", variant = "default" }' for _ in range(8))
    user_config(SCRIPTED_CONFIG + f"\n[strategies.crowd]\nmembers = [{members}]\n")
    assert main(["plan", "x", "--strategy", "crowd"]) == 0
    err = capsys.readouterr().err
    assert "strategy crowd names 8 members; the first 6 propose ([ensemble] max_proposers = 6)" in err


def test_a_repository_cannot_hand_its_tests_the_user_s_keys(tmp_path: Path, user_config) -> None:
    """``[agents] test_env_allow`` is not among the keys an untrusted project file may set."""
    from moot.core.config import load_config

    user_config(SCRIPTED_CONFIG + '\n[agents]\ntest_env_allow = ["MOOT_OWN_TOKEN"]\n')
    repo = tmp_path / "cloned"
    (repo / ".moot").mkdir(parents=True)
    (repo / ".moot" / "config.toml").write_text('[agents]\ntest_env_allow = ["OPENAI_API_KEY"]\ndebug_limit = 3\n')
    loaded = load_config(repo)
    assert loaded.config.agents.test_env_allow == ["MOOT_OWN_TOKEN"] and loaded.config.agents.debug_limit == 3


def test_an_answer_is_redacted_as_it_streams_however_the_engine_cuts_it(monkeypatch) -> None:
    """A key the model echoes never reaches the screen: each word waits for the whitespace after it, so a key
    cut into pieces by the engine is whole when it is redacted; the token counts still add up."""
    from moot.core.calls import _WordByWord
    from moot.core.events import Done, TextDelta

    key = "k3y-" + "q" * 24
    monkeypatch.setenv("MY_LLM_CRED", key)
    from moot.core.storage import register_secret_env

    register_secret_env("MY_LLM_CRED")
    seen: list = []
    sink = _WordByWord(seen.append)
    for piece in ["Your key is ", key[:6], key[6:15], key[15:], " and", " sk-", "abcdefghijklmnopqrstuv", "."]:
        sink(TextDelta(piece))
    sink(Done("stop"))
    text = "".join(e.text for e in seen if isinstance(e, TextDelta))
    assert text == "Your key is [redacted] and [redacted]."
    assert sum(e.tokens for e in seen if isinstance(e, TextDelta)) == 8
    assert isinstance(seen[-1], Done)


async def test_a_key_in_a_prompt_is_not_sent_and_an_echoed_one_not_kept(scripted, monkeypatch) -> None:
    from moot.core.calls import run_call
    from moot.core.config import ModelConfig
    from moot.core.events import TextDelta
    from moot.core.storage import register_secret_env

    key = "k3y-" + "z" * 24
    monkeypatch.setenv("MY_OTHER_CRED", key)
    register_secret_env("MY_OTHER_CRED")
    scripted.enqueue("alpha", f"echo {key} back")
    seen: list = []
    result = await run_call(ModelConfig(name="alpha", model="scripted/alpha"),
                            [{"role": "user", "content": f"the repository's .env says {key}"}], on_event=seen.append)
    sent = scripted.calls[-1][1]
    assert key not in str(sent) and "[redacted]" in sent[0]["content"]
    assert key not in result.text and key not in "".join(e.text for e in seen if isinstance(e, TextDelta))


def test_words_that_cannot_grow_into_a_key_are_not_held(monkeypatch) -> None:
    """Only text that could still become a secret waits: an ordinary word goes on at once (holding every last
    word made the last one of each answer wait ~1 s for the hosted client's end of stream)."""
    from moot.core.calls import _WordByWord
    from moot.core.events import TextDelta

    monkeypatch.setenv("MY_LLM_CRED", "k3y-" + "q" * 24)
    from moot.core.storage import register_secret_env

    register_secret_env("MY_LLM_CRED")
    seen: list = []
    sink = _WordByWord(seen.append)
    sink(TextDelta("hello wor"))
    assert "".join(e.text for e in seen) == "hello wor"
    sink(TextDelta("ld k3"))  # could be the key's start: held
    assert "".join(e.text for e in seen) == "hello world "
    sink(TextDelta("x"))  # "k3x" cannot: out it goes
    assert "".join(e.text for e in seen) == "hello world k3x"
    sink(TextDelta(" Bearer abc"))  # "Bearer" and what follows it: held together until the token ends
    assert "".join(e.text for e in seen) == "hello world k3x "
    sink(TextDelta("defghijklmnopqrstuvwxyz0 done"))
    assert "".join(e.text for e in seen).endswith("Bearer [redacted] done")
