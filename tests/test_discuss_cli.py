"""``moot discuss`` headless: the JSON document, the transcript, continuing a stored discussion, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SCRIPTED_CONFIG
from echo_model import EchoBackend
from moot.cli.main import main


@pytest.fixture
def echo():
    backend = EchoBackend.install()
    backend.echoing |= {"alpha", "beta", "gamma"}
    yield backend
    EchoBackend.uninstall()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_config) -> Path:
    user_config(SCRIPTED_CONFIG)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_json_document_with_rounds_and_conclusion(echo, project, capsys) -> None:
    assert main(["discuss", "which parser?", "--models", "alpha,beta", "--rounds", "1", "--conclude",
                 "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert set(doc) >= {"discussion_id", "topic", "models", "rounds", "conclusion"}
    assert doc["topic"] == "which parser?" and doc["models"] == ["alpha", "beta"]
    assert [(r["n"], r["kind"]) for r in doc["rounds"]] == [(1, "open"), (2, "round")]
    m = doc["rounds"][1]["messages"][1]
    assert set(m) >= {"speaker", "model", "text", "status", "error", "usage", "cost_usd", "latency_s"}
    assert m["speaker"] == "beta" and m["text"] == "beta r2 heard alpha@1 beta@1"
    assert doc["conclusion"]["speaker"] == "alpha" and doc["conclusion"]["text"].startswith("## Agreed")
    assert "round 1 (first answers): alpha, beta" in out.err  # progress on stderr


def test_continue_with_a_message_to_one_model_then_show(echo, project, capsys) -> None:
    assert main(["discuss", "which parser?", "--rounds", "0", "--json"]) == 0
    did = json.loads(capsys.readouterr().out)["discussion_id"]
    before = len(echo.calls)
    assert main(["discuss", "--continue", did[:15], "--to", "gamma", "--message", "and speed?", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c[0] for c in echo.calls[before:]] == ["gamma"]
    last = doc["rounds"][-1]
    assert last["kind"] == "mention" and [m["speaker"] for m in last["messages"]] == ["you", "gamma"]
    assert main(["show", did]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"# Discussion {did}") and "## Round 2 · asked by name" in shown
    assert "**you:** and speed?" in shown
    assert main(["history", "--json"]) == 0
    assert did in capsys.readouterr().out


def test_question_from_stdin(echo, project, capsys, monkeypatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("tabs or spaces?\n"))
    assert main(["discuss", "-", "--models", "alpha", "--rounds", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["topic"].strip() == "tabs or spaces?"


@pytest.mark.parametrize("argv, said", [
    (["discuss"], "needs a QUESTION"),
    (["discuss", "q", "--models", "alpha,zeta"], "unknown model 'zeta'"),
    (["discuss", "q", "--to", "alpha", "--message", "hi"], "use it with --continue"),
    (["discuss", "--continue", "nope"], "no discussion 'nope'"),
    (["discuss", "q", "--rounds", "-1"], "0 or more"),
])
def test_bad_usage_is_exit_2_with_a_reason(echo, project, capsys, argv, said) -> None:
    assert main(argv) == 2
    assert said in capsys.readouterr().err
    assert echo.calls == []


def test_every_model_failing_is_exit_1(echo, project, capsys) -> None:
    for name in ("alpha", "beta"):
        echo.enqueue(name, error=("auth", False))
    assert main(["discuss", "q", "--models", "alpha,beta", "--rounds", "0"]) == 1
    assert "auth" in capsys.readouterr().out


def test_a_strategy_can_make_its_discussions_sequential(echo, project, capsys, user_config) -> None:
    user_config(SCRIPTED_CONFIG + '\n[ensemble]\ndefault_strategy = "talk"\n\n[strategies.talk]\n'
                'members = [{ model = "alpha" }, { model = "beta" }]\nsequential = true\n')
    assert main(["discuss", "which parser?", "--rounds", "0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sequential"] is True and doc["models"] == ["alpha", "beta"]
    assert doc["rounds"][0]["messages"][1]["text"] == "beta r1 heard alpha@1"
