"""Declarative workflows: files validated with their line and key, the shipped ones, each phase type run by the
one engine on scripted models (inputs handed on, outputs written with their provenance), checkpoints (ask
answered yes and no, auto with and without a threshold, off, nobody to ask), effort passed on, resume at the
phase that stopped, and the ``moot workflow`` commands."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from gitrepo import git, hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.agents.workflow import store as stored
from moot.agents.workflow.engine import Checkpoint, WorkflowEngine
from moot.agents.workflow.loader import available, find, parse
from moot.agents.workflow.phases import CheckpointStop, PhaseFailed
from moot.cli.main import main
from moot.core.config import ConfigError, load_config
from moot.core.storage import Store

CONFIG = """
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
planner = "alpha"
backend = "alpha"
"""

CHAIN = """\
name: chain
description: every phase type but routed
phases:
  - name: first
    type: single
    model: beta
    instructions: Name the approach.
    output: out/{feature}/first.md
    seed: 7
  - name: plan
    type: ensemble
    models: [beta, gamma]
    judge: alpha
    input: first.output
  - name: talk
    type: discussion
    participants: [beta, gamma]
    rounds: 1
    input: plan.output
  - name: checks
    type: parallel
    input: [plan.output, talk.output]
    phases:
      - name: one
        type: single
        model: beta
      - name: two
        type: single
        model: gamma
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_config, scripted) -> Path:
    user_config(CONFIG)
    work = make_repo(tmp_path / "repo", {"x.txt": "no\n"})
    monkeypatch.chdir(work)
    return work


def engine(repo: Path, text: str, *, ask: Any = None, store: Store | None = None) -> WorkflowEngine:
    loaded = load_config(repo)
    return WorkflowEngine(loaded, store or Store(), loaded.config.aliases, repo, parse(text, "wf.yaml"), ask=ask)


def sent(scripted, name: str) -> list[str]:
    """The user messages model ``name`` was sent, in order."""
    return [m[-1]["content"] for n, m, _ in scripted.calls if n == name]


# ------------------------------------------------------------------------------------------------- files


@pytest.mark.parametrize(("text", "where"), [
    ("name: x\nphases:\n  - name: a\n    type: single\n    colour: red\n", "wf.yaml:5: phases[0].colour: unknown key"),
    ("name: x\nphases:\n  - name: a\n    type: solo\n", "wf.yaml:4: phases[0].type: unknown phase type"),
    ("name: x\nphases:\n  - name: a\n    type: single\n    input: b.output\n  - name: b\n    type: single\n",
     "wf.yaml:5: phases[0].input: b.output names a later phase"),
    ("name: x\nphases:\n  - name: a\n    type: single\n  - name: b\n    type: single\n    input: zz.output\n",
     "wf.yaml:7: phases[1].input: zz.output names no phase"),
    ("name: x\nphases:\n  - name: a\n    type: single\n    output: ../{feature}.md\n",
     "wf.yaml:5: phases[0].output: an output path stays inside the repository"),
    ("name: x\nphases:\n  - name: a\n    type: single\n    output: '{who}.md'\n",
     "wf.yaml:5: phases[0].output: unknown field {who}"),
    ("name: x\nphases:\n  - name: a\n    type: discussion\n    rounds: 99\n", "wf.yaml:5: phases[0].rounds:"),
    ("name: x\nphases:\n  - name: a\n   type: single\n", "wf.yaml:4: not valid YAML"),
    ("name: x\nphases:\n  - name: a\n    type: single\n  - name: a\n    type: single\n",
     "wf.yaml:5: phases[1].name: two phases are named 'a'"),
    ("name: x\nphases:\n  - name: a\n    type: single\n    checkpoint: maybe\n", "wf.yaml:5: phases[0].checkpoint:"),
    ("name: x\nphases:\n  - name: p\n    type: parallel\n    phases:\n      - name: b\n        type: single\n"
     "      - name: c\n        type: routed\n", "wf.yaml:9: phases[0].phases[1].type: unknown phase type"),
    ("name: x\nphases: []\n", "wf.yaml:2: phases:"),
])
def test_a_mistake_names_the_file_the_line_and_the_key(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(text, "wf.yaml")
    assert str(e.value).startswith(where), str(e.value)


def test_the_shipped_workflows_read_and_a_project_s_own_takes_a_name_s_place(repo: Path) -> None:
    found, errors = available(repo)
    assert errors == [] and {"workshop", "plan", "feature-build"} <= set(found)
    assert [p.name for p in found["feature-build"].workflow.phases] == [
        "workshop", "plan", "decompose", "execute", "integrate", "audit"]
    own = repo / ".moot" / "workflows"
    own.mkdir(parents=True)
    (own / "plan.yaml").write_text("name: plan\nphases:\n  - name: only\n    type: single\n")
    (own / "broken.yaml").write_text("name: broken\nphases:\n  - name: a\n    typo: single\n")
    found, errors = available(repo)
    assert found["plan"].source == "project" and [p.name for p in found["plan"].workflow.phases] == ["only"]
    assert len(errors) == 1 and "broken.yaml:3: phases[0]: a phase needs a type" in str(errors[0])
    with pytest.raises(ConfigError, match="broken.yaml:3"):
        find("broken", repo)
    with pytest.raises(ConfigError, match="no workflow 'nope'"):
        find("nope", repo)


def test_workflow_list_show_and_check(repo: Path, tmp_path: Path, capsys) -> None:
    assert main(["workflow", "list"]) == 0
    out = capsys.readouterr().out
    assert "feature-build" in out and "workshop → plan → decompose → execute → integrate → audit" in out
    assert main(["workflow", "show", "feature-build"]) == 0
    out = capsys.readouterr().out
    assert "execute     routed    tasks by role" in out and "  security  single    role reviewer" in out
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(CHAIN)
    bad.write_text(CHAIN.replace("rounds: 1", "rounds: one"))
    assert main(["workflow", "check", str(good)]) == 0
    assert "4 phase(s): first, plan, talk, checks" in capsys.readouterr().out
    assert main(["workflow", "check", str(bad)]) == 2
    assert f"{bad}:18: phases[2].rounds:" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ engine


async def test_each_phase_gets_the_inputs_it_names_and_writes_its_output_with_provenance(repo, scripted) -> None:
    scripted.enqueue("beta", "Use a table of handlers.")
    e = engine(repo, CHAIN)
    result = await e.run("Make x ok")
    assert result.state == "done", result.error
    assert [(p.name, p.state) for p in result.phases] == [("first", "done"), ("plan", "done"), ("talk", "done"),
                                                          ("checks", "done")]
    first, plan, talk, checks = (p.outcome for p in result.phases)
    assert first and plan and talk and checks
    assert "Use a table of handlers." in sent(scripted, "beta")[1]  # the plan's proposers were handed first.output
    assert "## first.output" in sent(scripted, "gamma")[0]
    assert plan.child_run and talk.child_run and plan.output in sent(scripted, "beta")[2]  # the discussion's topic
    one, two = sent(scripted, "beta")[-1], sent(scripted, "gamma")[-1]
    for both in (one, two):  # each parallel sub-phase sees the parallel phase's input
        assert "## plan.output" in both and "## talk.output" in both
    assert checks.outputs == [e.outcomes["one"].output, e.outcomes["two"].output]
    folder = repo / "out" / "make-x-ok"
    assert (folder / "first.md").read_text() == "Use a table of handlers.\n"
    meta = json.loads((folder / "first.meta.json").read_text())
    assert meta["model"] == "beta" and meta["phase"] == "first" and meta["run"] == result.run_id
    assert meta["completion_tokens"] == 5 and "latency_s" in meta and "timestamp" in meta
    assert meta["parameters"]["seed"] == 7 and scripted.calls[0][2].seed == 7  # given to the call, and recorded
    prompt = (folder / "first.prompt.txt").read_text()
    assert "Make x ok" in prompt and "Name the approach." in prompt and "[system]" in prompt
    rows = stored.phases(e.store, result.run_id)
    assert [r["state"] for r in rows] == ["done"] * 4 and rows[1]["child_run"] == plan.child_run


async def test_an_output_edited_since_it_was_written_is_kept(repo, scripted) -> None:
    text = "name: w\nphases:\n  - name: first\n    type: single\n    model: beta\n    output: out/first.md\n"
    scripted.enqueue("beta", "one")
    await engine(repo, text).run("t")
    scripted.enqueue("beta", "two")
    await engine(repo, text).run("t")  # unchanged since written: replaced
    assert (repo / "out" / "first.md").read_text() == "two\n"
    (repo / "out" / "first.md").write_text("my own notes\n")
    scripted.enqueue("beta", "three")
    result = await engine(repo, text).run("t")
    assert (repo / "out" / "first.md").read_text() == "my own notes\n"
    assert (repo / "out" / "first.2.md").read_text() == "three\n"
    assert result.phases[0].files == ["out/first.2.md", "out/first.2.prompt.txt", "out/first.2.meta.json"]


async def test_an_output_through_a_symlink_is_not_written(repo, scripted, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / "out").symlink_to(elsewhere)
    text = "name: w\nphases:\n  - name: first\n    type: single\n    model: beta\n    output: out/first.md\n"
    events: list[Any] = []
    e = engine(repo, text)
    e.on_event = events.append
    result = await e.run("t")
    assert result.state == "done" and result.phases[0].files == [] and list(elsewhere.iterdir()) == []
    assert any(ev[0] == "note" and "symlink" in ev[2] for ev in events)


async def test_a_task_list_phase_feeds_a_routed_phase_that_commits_on_a_branch(repo, scripted) -> None:
    tasks = {"tasks": [{"id": "t1", "title": "make x ok", "role": "backend", "files": ["x.txt"]}]}
    scripted.enqueue("alpha", "```json\n" + json.dumps(tasks) + "\n```")
    scripted.enqueue("alpha", "Done.\n\nx.txt\n<<<<<<< SEARCH\nno\n=======\nok\n>>>>>>> REPLACE\n")
    text = ("name: build\nphases:\n  - name: decompose\n    type: single\n    format: tasks\n"
            "  - name: execute\n    type: routed\n    input: decompose.output\n"
            "  - name: audit\n    type: single\n    model: gamma\n    input: execute.output\n")
    asked: list[Checkpoint] = []

    async def ask(point: Checkpoint) -> bool:
        asked.append(point)
        return True

    result = await engine(repo, text, ask=ask).run("Make x ok")
    assert result.state == "done", result.error
    decompose, execute, audit = (p.outcome for p in result.phases)
    assert decompose and decompose.tasks and decompose.tasks[0]["title"] == "make x ok"
    assert execute and execute.child_run and execute.outputs[0].startswith("make x ok: done")
    assert git(repo, "show", f"moot/{execute.child_run}:x.txt") == "ok\n"
    assert (repo / "x.txt").read_text() == "no\n"  # the user's tree is untouched until they accept
    assert [(p.phase, p.when, p.setting) for p in asked] == [("execute", "before", "the default")]
    assert "1. make x ok · backend · alpha" in asked[0].shown
    assert "-no\n+ok" in sent(scripted, "gamma")[0]  # the audit saw the change itself


# ------------------------------------------------------------------------------------------- checkpoints

ASKING = "name: w\nphases:\n  - name: first\n    type: single\n    model: beta\n    checkpoint: {value}\n" \
         "  - name: second\n    type: single\n    model: gamma\n    input: first.output\n"


async def test_ask_answered_no_stops_and_resume_asks_again_then_goes_on(repo, scripted) -> None:
    answers = [False, True]
    asked: list[Checkpoint] = []

    async def ask(point: Checkpoint) -> bool:
        asked.append(point)
        return answers.pop(0)

    store = Store()
    e = engine(repo, ASKING.format(value="ask"), ask=ask, store=store)
    result = await e.run("t")
    assert result.state == "stopped" and "stopped at first" in (result.error or "")
    assert [p.name for p in result.phases] == ["first"] and asked[0].reasons == ["the workflow's first phase = ask"]
    assert store.run(result.run_id)["status"] == "stopped"
    decision = stored.phases(store, result.run_id)[0]["decision"]
    assert decision["asked"] is True and decision["go_on"] is False
    calls = len(scripted.calls)
    again = await engine(repo, ASKING.format(value="ask"), ask=ask, store=store).resume(result.run_id)
    assert again.state == "done" and len(asked) == 2
    assert len(scripted.calls) == calls + 1  # the first phase was not asked of its model again; the second was
    assert stored.phases(store, result.run_id)[0]["decision"]["go_on"] is True


async def test_off_and_auto_without_a_reason_go_on_without_asking(repo, scripted) -> None:
    async def ask(point: Checkpoint) -> bool:
        raise AssertionError("asked")

    for value in ("off", "auto"):
        result = await engine(repo, ASKING.format(value=value), ask=ask).run("t")
        assert result.state == "done"


async def test_auto_asks_when_a_threshold_says_so(repo, scripted, user_config) -> None:
    user_config(CONFIG + "\n[thresholds]\nlarge_context_tokens = 5\n")
    asked: list[Checkpoint] = []

    async def ask(point: Checkpoint) -> bool:
        asked.append(point)
        return True

    text = ASKING.format(value="auto").replace("  - name: second", "    instructions: " + "word " * 20 +
                                                 "\n  - name: second")
    result = await engine(repo, text, ask=ask).run("t")
    assert result.state == "done" and len(asked) == 1
    assert "a model with a larger window is suggested" in asked[0].reasons[0]


async def test_nobody_to_ask_stops_with_a_clear_message_and_the_run_is_kept(repo, scripted) -> None:
    store = Store()
    with pytest.raises(CheckpointStop, match="no terminal to ask on: run it on a terminal, or with --yes"):
        await engine(repo, ASKING.format(value="ask"), store=store).run("t")
    (row,) = [r for r in store.runs(kind="workflow")]
    assert row["status"] == "stopped"


def test_the_command_without_a_terminal_stops_unless_yes(repo, tmp_path: Path, capsys) -> None:
    wf = repo / ".moot" / "workflows"
    wf.mkdir(parents=True)
    (wf / "w.yaml").write_text(ASKING.format(value="ask"))
    assert main(["workflow", "run", "w", "t"]) == 1
    assert "no terminal to ask on" in capsys.readouterr().err
    assert main(["workflow", "run", "w", "t", "--yes", "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["state"] == "done" and [p["name"] for p in doc["phases"]] == ["first", "second"]
    assert "checkpoint at first (the workflow's first phase = ask): going on (--yes)" in out.err


async def test_effort_from_the_policy_and_the_phase_reaches_the_call(repo, scripted, user_config) -> None:
    user_config(CONFIG + '\n[effort_policy]\nplanning = "low"\nreview = "high"\n')
    text = ("name: w\nphases:\n  - name: a\n    type: single\n    model: beta\n"
            "  - name: b\n    type: single\n    model: gamma\n    role: reviewer\n"
            "  - name: c\n    type: single\n    model: beta\n    effort: medium\n")
    await engine(repo, text).run("t")
    assert [p.effort for _, _, p in scripted.calls] == ["low", "high", "medium"]


def test_show_prints_a_workflow_run_phase_by_phase(repo: Path, capsys) -> None:
    wf = repo / ".moot" / "workflows"
    wf.mkdir(parents=True)
    (wf / "w.yaml").write_text(ASKING.format(value="ask"))
    assert main(["workflow", "run", "w", "t", "--yes", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["show", run_id]) == 0
    out = capsys.readouterr().out
    assert f"# Workflow w · run {run_id} · done" in out and "## first (single) · done" in out
    assert "- checkpoint after (the workflow's first phase = ask): asked, went on" in out
    assert main(["history"]) == 0
    assert run_id in capsys.readouterr().out


async def test_a_phase_sees_the_repository_by_its_context_strategy(repo, scripted) -> None:
    (repo / "greeting.py").write_text("def greet(name):\n    return f'hi {name}'\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@t", "commit", "-qm", "greet")
    text = "name: w\nphases:\n  - name: a\n    type: single\n    model: beta\n{extra}"
    result = await engine(repo, text.format(extra="")).run("Change greet in greeting.py")
    assert "## Repository context" in sent(scripted, "beta")[0] and "def greet(name)" in sent(scripted, "beta")[0]
    context = result.phases[0].outcome.meta["context"]  # type: ignore[union-attr]
    assert context["strategy"] == "scoped" and context["tokens"] > 0


async def test_distilled_inputs_are_condensed_kept_and_counted_and_never_larger(repo, scripted) -> None:
    long = " ".join(["detail"] * 300)
    scripted.enqueue("beta", f"The plan: {long}")
    scripted.enqueue("alpha", "Short digest.")  # the planner distils the input
    text = ("name: w\nphases:\n  - name: a\n    type: single\n    model: beta\n"
            "  - name: b\n    type: single\n    model: gamma\n    input: a.output\n    context_strategy: distilled\n")
    result = await engine(repo, text).run("t")
    assert result.state == "done"
    handed = sent(scripted, "gamma")[0]
    assert "Short digest." in handed and "detail detail" not in handed
    counts = result.phases[1].outcome.meta["distilled"]["a.output"]  # type: ignore[union-attr]
    assert counts["used"] is True and counts["tokens"] < counts["source_tokens"]
    scripted.enqueue("beta", "tiny")
    scripted.enqueue("alpha", f"A digest far longer than what it condenses: {long}")
    result = await engine(repo, text).run("t")
    assert "A digest far longer" not in sent(scripted, "gamma")[-1] and "tiny" in sent(scripted, "gamma")[-1]
    assert result.phases[1].outcome.meta["distilled"]["a.output"]["used"] is False  # type: ignore[union-attr]


BUILD = ("name: build\nphases:\n  - name: decompose\n    type: single\n    format: tasks\n"
         "  - name: execute\n    type: routed\n    input: decompose.output\n")


def one_task_edit(scripted, replace: str = "ok\n") -> None:
    tasks = {"tasks": [{"id": "t1", "title": "make x ok", "role": "backend", "files": ["x.txt"]}]}
    scripted.enqueue("alpha", "```json\n" + json.dumps(tasks) + "\n```")
    scripted.enqueue("alpha", f"Done.\n\nx.txt\n<<<<<<< SEARCH\nno\n=======\n{replace}>>>>>>> REPLACE\n")


@pytest.mark.parametrize(("thresholds", "replace", "reason"), [
    ("files_changed_suggest_review = 1", "ok\n", "1 files changed (thresholds: review from 1)"),
    ('security_sensitive_patterns = ["password"]', "password = 'ok'\n",
     "the change touches password: a second model's review is suggested"),
])
async def test_auto_after_a_change_asks_when_a_threshold_is_passed(repo, scripted, user_config, thresholds, replace,
                                                                    reason) -> None:
    user_config(CONFIG + f'\n[checkpoints]\nexecute = "off"\npr_cross_review = "auto"\n\n[thresholds]\n{thresholds}\n')
    one_task_edit(scripted, replace)
    asked: list[Checkpoint] = []

    async def ask(point: Checkpoint) -> bool:
        asked.append(point)
        return True

    result = await engine(repo, BUILD, ask=ask).run("Make x ok")
    assert result.state == "done", result.error
    assert [(p.phase, p.when) for p in asked] == [("execute", "after")] and reason in asked[0].reasons


async def test_auto_after_a_small_harmless_change_goes_on(repo, scripted, user_config) -> None:
    user_config(CONFIG + '\n[checkpoints]\nexecute = "off"\npr_cross_review = "auto"\n')
    one_task_edit(scripted)

    async def ask(point: Checkpoint) -> bool:
        raise AssertionError(f"asked: {point}")

    result = await engine(repo, BUILD, ask=ask).run("Make x ok")
    assert result.state == "done", result.error
    decisions = [r["decision"] for r in stored.phases(Store(), result.run_id) if r["decision"]]
    assert decisions and all(d["asked"] is False and d["go_on"] for d in decisions)


def test_moot_run_goes_through_the_workflow_it_is_given(repo: Path, user_config, capsys) -> None:
    wf = repo / ".moot" / "workflows"
    wf.mkdir(parents=True)
    (wf / "w.yaml").write_text(ASKING.format(value="off"))
    assert main(["run", "--workflow", "w", "t", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["workflow"]  # no branch was made: the workflow's document alone
    assert doc["workflow"] == "w" and [p["name"] for p in doc["phases"]] == ["first", "second"]
    user_config(CONFIG + '\n[agents]\nworkflow = "w"\n')
    assert main(["run", "t", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["workflow"]["workflow"] == "w"
    (repo / "plan.md").write_text("# A plan\n\nDo it.\n")
    assert main(["run", "--workflow", "w", "--plan", "plan.md"]) == 2
    assert "workflow w carries no plan out" in capsys.readouterr().err
    assert main(["run", "--workflow", "w", "--resume", "x"]) == 2
    assert "--workflow takes a TASK or --plan" in capsys.readouterr().err


def test_moot_run_with_a_plan_skips_what_only_the_plan_needed(repo: Path, scripted, capsys) -> None:
    """The build workflow with the plan given: plan is recorded as given, the rest runs; an unknown given phase
    is refused before anything runs."""
    from moot.agents.workflow.loader import plan_phase

    assert plan_phase(find("build", repo).workflow) == "plan"
    assert plan_phase(find("feature-build", repo).workflow) == "plan"
    assert plan_phase(find("workshop", repo).workflow) is None
    one_task_edit(scripted)
    (repo / "plan.md").write_text("# Make x ok\n\nChange x.txt to ok.\n")
    assert main(["run", "--workflow", "build", "--plan", "plan.md", "--json", "--yes"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(p["name"], p["state"]) for p in doc["workflow"]["phases"]] == [
        ("plan", "done"), ("decompose", "done"), ("execute", "done")]
    assert doc["tasks"][0]["status"] == "done" and "Change x.txt to ok." in scripted.calls[0][1][-1]["content"]
    loaded = load_config(repo)
    with pytest.raises(PhaseFailed, match="has no phase nope"):
        asyncio.run(WorkflowEngine(loaded, Store(), [], repo, find("build", repo)).run("t", given={"nope": "x"}))


def test_a_task_list_s_titles_reach_the_terminal_escaped(capsys) -> None:
    """A model writes task titles and file names: they reach stderr with their control characters shown."""
    from types import SimpleNamespace

    from moot.agents.tasks import Task
    from moot.cli.workflow_cmd import show_tasks

    task = Task(id="t1", title="fix \x1b]0;owned\x07 it", role="backend", files=["a\x1b[2Jb.py"])
    show_tasks([SimpleNamespace(task=task, role="backend", alias="alpha")], None)
    err = capsys.readouterr().err
    assert "\x1b" not in err and "fix " in err and "files: a" in err
