"""The repository's history as ranking signals: files that change together, files changed lately, read with one
git log per HEAD and never past it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrepo import git, hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.context import history as h
from moot.context.cache import TagCache, build_index
from moot.context.files import list_files
from moot.context.rank import rank_files
from moot.context.scope import scope


def commit(repo: Path, files: dict[str, str], message: str) -> None:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Four modules; the settings loader and its schema check change together three times, the clock alone."""
    work = make_repo(tmp_path / "repo", {
        "app/loader.py": "def read_settings(path):\n    return open(path).read()\n",
        "app/validate.py": "def validate_schema(doc):\n    return doc\n",
        "app/clock.py": "def now_seconds():\n    return 0\n",
        "app/render.py": "def draw_page():\n    return ''\n",
    })
    for n in range(3):
        commit(work, {"app/loader.py": f"def read_settings(path):\n    return open(path).read()  # {n}\n",
                      "app/validate.py": f"def validate_schema(doc):\n    return doc  # {n}\n"}, f"settings {n}")
    commit(work, {"app/clock.py": "def now_seconds():\n    return 1\n"}, "clock")
    return work


def test_cochange_and_recency_from_the_log(repo: Path) -> None:
    found = h.read_history(repo)
    assert found is not None and found.commits[0] == ("app/clock.py",)
    together = found.cochange({"app/loader.py": 1.0})
    assert together["app/validate.py"] == pytest.approx(3 + 1 / 3)  # three commits with it, and the first of four
    assert together["app/clock.py"] == pytest.approx(1 / 3) and "app/loader.py" not in together
    recent = found.recency()
    assert recent["app/loader.py"] > recent["app/render.py"] > 0  # three changes and the first commit, one
    assert recent["app/clock.py"] == 1.0 + 0.5 ** (4 / h.HALF_LIFE)  # the latest, and the first commit


def test_a_checkout_of_the_past_sees_nothing_after_it(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    found = h.read_history(repo)
    assert found is not None and found.commits[0] == ("app/loader.py", "app/validate.py")
    git(repo, "checkout", "-q", "-")
    assert h.read_history(repo).commits[0] == ("app/clock.py",)  # a new HEAD is read again


def test_wide_commits_and_no_repository(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h, "WIDE_COMMIT", 1)
    h._cache.clear()
    found = h.read_history(repo)
    assert found is not None and all(len(files) == 1 for files in found.commits)
    h._cache.clear()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert h.read_history(plain) is None


def test_the_file_that_changes_with_the_task_s_file_comes_up(repo: Path) -> None:
    """The task points at the loader (by a word of its code); the schema check, which changed with it every time,
    ranks above the files that never did, and says why."""
    cache = TagCache()
    try:
        index = build_index(repo, files=list_files(repo, sniff=False), cache=cache)
    finally:
        cache.close()
    task = "read_settings fails on a missing file"
    signals: dict[str, dict[str, float]] = {}
    ranked = [rel for rel, _ in rank_files(index, task=task, history=h.read_history(repo), signals=signals)]
    without = [rel for rel, _ in rank_files(index, task=task)]
    assert ranked[0] == "app/loader.py" and ranked[1] == "app/validate.py"
    assert without.index("app/validate.py") > 1  # the graph and the words alone do not tie them
    assert signals["app/validate.py"]["cochange"] > 0
    result = scope(index, task, 2000)
    assert "cochange" in result.why["app/validate.py"]
