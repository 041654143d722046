"""Scoping a task into a budget: item kinds and order, strategies, left-out files, the budget never exceeded."""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moot.context.budget import fit_tree
from moot.context.index import FileInfo, RepoIndex
from moot.context.languages import language_for_path
from moot.context.outline import outline
from moot.context.render import render_tree
from moot.context.scope import ContextResult, scope
from moot.context.summaries import summarise
from moot.context.tags import extract_tags
from moot.core.config import LoadedConfig
from moot.core.config.models import Config
from moot.core.tokens import count_tokens


def write_repo(root: Path, sources: dict[str, str]) -> RepoIndex:
    """Write ``sources`` under ``root`` and index them the way the cache does (tags, outline or summary)."""
    index = RepoIndex(root)
    for rel, text in sources.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        data = text.encode()
        lang = language_for_path(rel)
        items = outline(rel, data, lang) if lang else (summarise(rel, data) or [])
        index.files[rel] = FileInfo(rel, lang, extract_tags(rel, data, lang), items, len(data))
    return index


def module(name: str, functions: int, uses: Sequence[str] = (), body: int = 3) -> str:
    lines = [f'"""The {name} module."""', ""]
    lines += [f"from lib import {u}" for u in uses]
    for i in range(functions):
        lines += ["", "", f"def {name}_step_{i}(value):", f'    """Step {i} of {name}."""']
        lines += [f"    value = value + {j}" for j in range(body)]
        lines += [f"    {u}(value)" for u in uses]
        lines.append("    return value")
    return "\n".join(lines) + "\n"


SOURCES = {
    "core/engine.py": module("engine", 6, ["store_step_0", "util_step_1"], body=12),
    "core/store.py": module("store", 5, ["util_step_0"], body=10),
    "core/util.py": module("util", 4, body=8),
    "app/cli.py": module("cli", 5, ["engine_step_0"], body=10),
    "app/views.py": module("views", 8, ["engine_step_1", "store_step_1"], body=10),
    "docs/guide.md": "# Guide\n\n## Install\n\nRun it.\n\n## Use\n\nMore text.\n",
    "docs/notes.txt": "plain notes\n",
    **{f"extra/pkg{i}/mod{i}.py": module(f"extra{i}", 3, body=4) for i in range(6)},
}


@pytest.fixture
def repo(tmp_path: Path) -> RepoIndex:
    return write_repo(tmp_path / "repo", SOURCES)


def kinds(result: ContextResult) -> str:
    return " ".join(item.kind for item in result.items)


def check(result: ContextResult, index: RepoIndex, model: str = "") -> None:
    """What holds for every result: within budget, counts exact, every file either shown or left out."""
    assert result.total_tokens <= result.budget
    assert count_tokens(result.text, model) == result.total_tokens
    assert sum(item.tokens for item in result.items) == result.total_tokens
    for item in result.items:
        assert count_tokens(item.text, model) == item.tokens
    covered = [rel for item in result.items for rel in item.covers]
    assert len(covered) == len(set(covered))
    assert set(covered).isdisjoint(result.left_out)
    assert set(covered) | set(result.left_out) == set(index.files)
    assert len(result.left_out) == len(set(result.left_out))


# ------------------------------------------------------------------------------------------- scoped


def test_scoped_gives_full_then_outlines_then_tree(repo: RepoIndex) -> None:
    result = scope(repo, "speed up engine_step_3 in core/engine.py", 2500)
    check(result, repo)
    assert re.fullmatch(r"(full )+(outline )+tree", kinds(result)), kinds(result)
    assert result.items[0].path == "core/engine.py"
    assert result.items[0].text.startswith("core/engine.py\n```py\n")
    assert result.items[-1].path == "." and result.items[-1].text.startswith("Other files:\n")
    assert result.left_out == []


def test_small_budgets_collapse_the_tree_then_leave_files_out(repo: RepoIndex) -> None:
    roomy = scope(repo, "task", 120)
    check(roomy, repo)
    tight = scope(repo, "task", 25)
    check(tight, repo)
    assert tight.items and tight.items[-1].kind == "tree" and tight.left_out
    assert "(" in tight.items[-1].text  # folders collapsed: "extra/ (6 files)"
    assert scope(repo, "task", 0).items == []
    assert set(scope(repo, "task", 0).left_out) == set(repo.files)


def test_pinned_first_and_dropped_nowhere(repo: RepoIndex) -> None:
    result = scope(repo, "task", 3000, pinned=["core/util.py"], dropped=["core/engine.py", "docs/guide.md"])
    check(result, repo)
    assert (result.items[0].path, result.items[0].kind) == ("core/util.py", "full")
    assert all("core/engine.py" not in i.covers and "docs/guide.md" not in i.covers for i in result.items)
    assert "engine.py" not in result.items[-1].text
    assert {"core/engine.py", "docs/guide.md"} <= set(result.left_out)


def test_a_pinned_file_too_big_for_the_budget_is_outlined(repo: RepoIndex) -> None:
    result = scope(repo, "task", 100, pinned=["app/views.py"])
    check(result, repo)
    assert (result.items[0].path, result.items[0].kind) == ("app/views.py", "outline")
    assert "more" in result.items[0].text  # only the first lines fitted


def test_fresh_shows_only_inputs_and_pinned_files(repo: RepoIndex) -> None:
    result = scope(repo, "task", 5000, context_strategy="fresh", pinned=["core/store.py"],
                   extra=[("Task notes", "keep it small")])
    check(result, repo)
    assert [(i.path, i.kind) for i in result.items] == [("Task notes", "input"), ("core/store.py", "full")]
    assert result.left_out == sorted(set(repo.files) - {"core/store.py"})


def test_distilled_puts_the_distillation_first(repo: RepoIndex) -> None:
    distilled = "The plan: change engine_step_2.\nKeep the store as it is.\n"
    result = scope(repo, "task", 2000, context_strategy="distilled", extra=[("Distilled plan", distilled)])
    check(result, repo)
    first = result.items[0]
    assert (first.path, first.kind) == ("Distilled plan", "input")
    assert first.text == "## Distilled plan\n" + distilled
    assert kinds(result).endswith("tree")
    cut = scope(repo, "task", 25, context_strategy="distilled", extra=[("Distilled plan", distilled * 20)])
    check(cut, repo)
    assert cut.items[0].kind == "input" and "more lines cut" in cut.items[0].text


def test_full_strategy_only_whole_files_in_rank_order(repo: RepoIndex) -> None:
    result = scope(repo, "app/cli.py", 2500, context_strategy="full")
    check(result, repo)
    assert set(kinds(result).split()) == {"full"}
    assert result.items[0].path == "app/cli.py" and result.left_out


def test_unknown_strategy(repo: RepoIndex) -> None:
    with pytest.raises(ValueError, match="unknown context strategy"):
        scope(repo, "task", 100, context_strategy="everything")  # type: ignore[arg-type]


def test_json_shape(repo: RepoIndex) -> None:
    doc = scope(repo, "core/store.py", 900, model="openai/gpt-4o").to_json()
    assert list(doc) == ["budget", "total_tokens", "items", "left_out"]
    assert doc["budget"] == 900 and doc["total_tokens"] <= 900
    assert all(list(i) == ["path", "kind", "tokens", "why"] if i["kind"] in ("full", "outline")
               else list(i) == ["path", "kind", "tokens"] for i in doc["items"])  # why: a ranked file's signals
    assert {i["kind"] for i in doc["items"]} <= {"full", "outline", "tree", "input"}
    assert json.loads(json.dumps(doc)) == doc


def test_tree_binary_search_keeps_the_best_ranked_top_level_entries() -> None:
    ranked = ["b/x.py", "a/y.py", "c/z.py", "root.py"]
    fitted, shown = fit_tree(ranked, count_tokens(render_tree(["b/x.py"], ["b"])), count_tokens)
    assert shown == ["b/x.py"] and fitted.text == "Other files:\nb/ (1 file)\n"


# ------------------------------------------------------------------------------------- the property

_NAMES = st.sampled_from(["alpha", "beta", "gamma", "delta", "Widget", "load_config", "run"])
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)


@st.composite
def repos(draw: st.DrawFn) -> dict[str, str]:
    count = draw(st.integers(1, 8))
    sources: dict[str, str] = {}
    for i in range(count):
        folder = draw(st.sampled_from(["", "src/", "src/deep/er/", "docs/", "t/"]))
        kind = draw(st.sampled_from(["py", "md", "txt"]))
        rel = f"{folder}f{i}.{kind}"
        if kind == "py":
            names = draw(st.lists(_NAMES, max_size=4, unique=True))
            uses = draw(st.lists(_NAMES, max_size=3))
            body = draw(st.integers(0, 30))
            sources[rel] = "".join(
                f"def {n}_{i}():\n" + "    x = 1\n" * body + "".join(f"    {u}()\n" for u in uses) for n in names
            ) + draw(_TEXT)
        elif kind == "md":
            sources[rel] = "".join(f"# {h}\n\n{draw(_TEXT)}\n" for h in draw(st.lists(_NAMES, max_size=5)))
        else:
            sources[rel] = draw(_TEXT)
    return sources


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources=repos(), budget=st.integers(0, 20000), strategy=st.sampled_from(["scoped", "full", "distilled",
       "fresh"]), model=st.sampled_from(["", "openai/gpt-4o"]), task=_TEXT, data=st.data())
def test_budget_is_never_exceeded(sources: dict[str, str], budget: int, strategy: str, model: str, task: str,
                                  data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        index = write_repo(Path(folder), sources)
        pinned = data.draw(st.lists(st.sampled_from(sorted(sources)), max_size=2, unique=True))
        dropped = data.draw(st.lists(st.sampled_from(sorted(sources)), max_size=2, unique=True))
        extra = data.draw(st.lists(st.tuples(st.sampled_from(["Plan", "Notes"]), _TEXT), max_size=2))
        result = scope(index, task, budget, context_strategy=strategy, model=model,  # type: ignore[arg-type]
                       pinned=pinned, dropped=dropped, extra=extra)
        check(result, index, model)
        assert all(d not in i.covers for d in dropped for i in result.items)


# ------------------------------------------------------------------------------------------------ CLI


def _args(**kw: object) -> argparse.Namespace:
    base = {"task": "change core/store.py", "budget": None, "strategy": None, "files": None, "model": None,
            "json": False}
    return argparse.Namespace(**{**base, **kw})


@pytest.fixture
def cli(repo: RepoIndex, monkeypatch: pytest.MonkeyPatch) -> LoadedConfig:
    """run_context on the test repo: listing and indexing stubbed so only the scoping runs."""
    import moot.context.cache as cache_mod
    import moot.context.files as files_mod

    monkeypatch.setattr(files_mod, "list_files", lambda root, **kw: [])
    monkeypatch.setattr(cache_mod, "build_index", lambda root, **kw: repo)
    monkeypatch.chdir(repo.root)
    return LoadedConfig(config=Config(), project_dir=repo.root)


def test_cli_json_and_table(cli: LoadedConfig, capsys: pytest.CaptureFixture[str]) -> None:
    from moot.cli.context_cmd import run_context

    assert run_context(_args(json=True, budget=1200), cli) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["budget"] == 1200 and doc["total_tokens"] <= 1200 and doc["items"][0]["path"] == "core/store.py"
    assert run_context(_args(files=["./app/cli.py"]), cli) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["KIND", "TOKENS", "PATH"]
    assert out[1].split() == ["full", out[1].split()[1], "app/cli.py"]
    assert re.fullmatch(r"total \d+ / 4000 tokens \(scoped\); \d+ files? left out", out[-1])


def test_cli_usage_errors(cli: LoadedConfig, capsys: pytest.CaptureFixture[str]) -> None:
    from moot.cli.context_cmd import run_context

    assert run_context(_args(files=["nope.py"]), cli) == 2
    assert "nope.py" in capsys.readouterr().err
    assert run_context(_args(strategy="everything"), cli) == 2
    assert run_context(_args(budget=-1), cli) == 2
    assert run_context(_args(task="  "), cli) == 2


def test_build_index_end_to_end(tmp_path: Path) -> None:
    """The real listing and cache on a folder (skipped while those modules are not there yet)."""
    try:
        from moot.context.cache import build_index
        from moot.context.files import list_files
    except ImportError as e:
        pytest.skip(f"moot.context.files / moot.context.cache not available yet: {e}")
    root = tmp_path / "proj"
    write_repo(root, SOURCES)
    index = build_index(root, files=list_files(root))
    assert set(index.files) == set(SOURCES)
    result = scope(index, "speed up engine_step_3 in core/engine.py", 2500)
    check(result, index)
    assert result.items[0].path == "core/engine.py"


def test_pinned_paths_outside_the_index(repo: RepoIndex) -> None:
    (repo.root / "new.py").write_text("x = 1\n", encoding="utf-8")
    (repo.root.parent / "secret.txt").write_text("secret\n", encoding="utf-8")
    result = scope(repo, "task", 2000, pinned=["new.py", "../secret.txt", "missing.py"])
    check(result, repo)
    assert result.items[0].path == "new.py" and result.items[0].covers == []
    assert "secret" not in result.text
