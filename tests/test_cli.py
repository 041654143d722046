"""The headless commands: output shapes, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SCRIPTED_CONFIG
from moot.cli.main import main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_config) -> Path:
    user_config(SCRIPTED_CONFIG)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_plan_json_document(scripted, project, capsys) -> None:
    scripted.enqueue("alpha", "plan a")
    scripted.enqueue("beta", "plan b")
    scripted.enqueue("gamma", error=("auth", False))
    scripted.enqueue("alpha", "## Plan\nDo it.\n## Consensus\n- both agree\n")
    assert main(["plan", "add a flag", "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert set(doc) >= {"run_id", "task", "strategy", "proposals", "ranking", "judge", "totals"}
    assert doc["task"] == "add a flag" and doc["strategy"] == "diverse" and doc["ranking"] is None
    p = doc["proposals"][0]
    assert set(p) >= {"label", "model", "variant", "status", "text", "error", "usage", "cost_usd", "latency_s",
                      "ttft_s", "perf"}
    assert set(p["usage"]) == {"prompt_tokens", "completion_tokens"}
    failed = next(x for x in doc["proposals"] if x["model"] == "gamma")
    assert failed["status"] == "failed" and failed["error"].startswith("auth")
    assert doc["judge"]["model"] == "alpha" and doc["judge"]["consensus"] == ["both agree"]
    assert set(doc["totals"]) == {"cost_usd", "prompt_tokens", "completion_tokens", "wall_s"}
    assert "gamma (default) failed" in out.err  # progress and failures on stderr


def test_plan_markdown_to_file_and_show(scripted, project, capsys) -> None:
    scripted.enqueue("alpha", "plan a")
    scripted.enqueue("beta", "plan b")
    scripted.enqueue("gamma", "plan c")
    scripted.enqueue("alpha", "## Plan\nThe synthesis.\n## Unique insights\n- c saw it\n")
    assert main(["plan", "add a flag", "-o", "plan.md"]) == 0
    text = (project / "plan.md").read_text()
    assert text.startswith("# Plan: add a flag") and "The synthesis." in text and "## Models consulted" in text
    assert capsys.readouterr().out == ""
    run_id = json.loads(subprocess_free_history(capsys))[0]["id"]
    assert main(["show", run_id[:15]]) == 0
    shown = capsys.readouterr().out
    assert "The synthesis." in shown and "## Calls" in shown and "judge" in shown


def test_plan_o_never_replaces_an_edited_export(scripted, project, capsys) -> None:
    assert main(["plan", "add a flag", "-o", "plan.md"]) == 0
    first = (project / "plan.md").read_text()
    assert main(["plan", "add a flag", "-o", "plan.md"]) == 0  # moot's own, untouched: replaced
    assert not (project / "plan.2.md").exists()
    (project / "plan.md").write_text(first.replace("# Plan:", "# My plan:"))
    capsys.readouterr()
    assert main(["plan", "add a flag", "-o", "plan.md"]) == 0
    assert (project / "plan.md").read_text().startswith("# My plan:")
    assert (project / "plan.2.md").read_text().startswith("# Plan: add a flag")
    assert "plan.md was edited since moot wrote it (or is not moot's): it is kept, the plan is in plan.2.md" \
        in capsys.readouterr().err
    (project / "notes.md").write_text("someone else's notes\n")  # not moot's at all
    assert main(["plan", "add a flag", "-o", "notes.md"]) == 0
    assert (project / "notes.md").read_text() == "someone else's notes\n"


def subprocess_free_history(capsys) -> str:
    assert main(["history", "--json"]) == 0
    return capsys.readouterr().out


def test_plan_reads_task_from_stdin(scripted, project, capsys, monkeypatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("task from stdin\n"))
    assert main(["plan", "-", "--models", "beta", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["task"] == "task from stdin\n" and [p["model"] for p in doc["proposals"]] == ["beta"]


def test_every_model_failing_exits_1(scripted, project, capsys) -> None:
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, error=("auth", False))
    assert main(["plan", "x"]) == 1
    err = capsys.readouterr().err
    assert err.count("failed: auth") == 3


def test_unknown_model_variant_or_judge_exits_2(scripted, project, capsys) -> None:
    assert main(["plan", "x", "--models", "zeta"]) == 2
    assert "unknown model 'zeta'" in capsys.readouterr().err
    assert main(["plan", "x", "--variants", "poet"]) == 2
    assert "unknown prompt variant 'poet'" in capsys.readouterr().err
    assert main(["plan", "x", "--judge", "nobody"]) == 2
    assert "unknown judge" in capsys.readouterr().err


def test_models_lists_usability(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "smollm2" and rows[0]["backend"] == "local"


def test_models_shows_missing_key(tmp_path, monkeypatch, capsys, user_config) -> None:
    user_config('[[models]]\nname = "gpt"\nmodel = "openai/gpt-4o"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["models"]) == 0
    assert "unavailable (set OPENAI_API_KEY)" in capsys.readouterr().out


def _moot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moot.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=60)


def test_bad_config_exits_2_without_traceback(tmp_path: Path, user_config) -> None:
    path = user_config('[[models]]\nname = "gpt"\nmodle = "x"\n')
    r = _moot("models", cwd=tmp_path)
    assert r.returncode == 2
    assert f"{path}:3: models[0].modle: unknown key" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    r = _moot("plan", cwd=tmp_path)
    assert r.returncode == 2 and "TASK" in r.stderr


def test_help_does_not_import_heavy_modules(tmp_path: Path) -> None:
    code = ("import sys\nfrom moot.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('litellm', 'pydantic', 'textual', 'ollama', 'llama_cpp') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr


def test_doctor_explains(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert "Ollama: not reachable" in out and "ollama serve" in out
    assert "no provider keys" in out and "OPENAI_API_KEY" in out
    assert ("embedded engine: llama-cpp-python" in out) == (code == 0)


def test_plan_hands_proposers_the_scoped_context(scripted, project, capsys) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / "flags.py").write_text('def add_verbose_flag(parser):\n    """Adds --verbose."""\n    return parser\n')
    (project / "other.py").write_text("def unrelated():\n    return 1\n")
    assert main(["plan", "call add_verbose_flag from main", "--models", "beta", "--json"]) == 0
    prompt = scripted.calls[0][1][-1]["content"]
    assert "Relevant parts of the repository" in prompt and "flags.py" in prompt
    assert "context:" in capsys.readouterr().err


def test_plan_outside_a_repository_has_no_context(scripted, project, capsys) -> None:
    assert main(["plan", "anything", "--models", "beta"]) == 0
    assert "Relevant parts of the repository" not in scripted.calls[0][1][-1]["content"]
    assert "no repository context" in capsys.readouterr().err
