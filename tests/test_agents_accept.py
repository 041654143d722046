"""Landing accepted hunks on the user's branch (as a commit or as uncommitted changes), refusing when that
would touch the user's own changes, and undoing the last accepted commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from moot.agents.accept import AcceptError, DirtyTreeError, UndoError, accept, undo

A_BASE = "".join(f"a{i}\n" for i in range(1, 31))
A_HEAD = A_BASE.replace("a2\n", "a2 changed\n").replace("a28\n", "a28 changed\n")
MESSAGE = "moot: make the change\n\nMoot-Run: r1\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True).stdout.decode()


def commit_file(repo: Path, rel: str, text: str, message: str) -> None:
    (repo / rel).write_text(text)
    git(repo, "add", rel)
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository on ``main`` (tagged ``base``) and a run branch ``moot/r1`` that changes ``a.txt`` in two
    hunks, deletes ``b.txt``, adds ``c.txt`` and renames ``r.txt``; ``main`` is checked out."""
    for var, value in {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
                       "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
                       "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(tmp_path / "no-gitconfig")}.items():
        monkeypatch.setenv(var, value)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for rel, text in {"a.txt": A_BASE, "b.txt": "b\n", "r.txt": "rename me\n" * 5, "notes.txt": "n\n",
                      "other.txt": "o\n"}.items():
        (root / rel).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "base")
    git(root, "checkout", "-q", "-b", "moot/r1")
    (root / "a.txt").write_text(A_HEAD)
    (root / "c.txt").write_text("new file\n")
    git(root, "rm", "-q", "b.txt")
    git(root, "mv", "r.txt", "r2.txt")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "run work")
    git(root, "checkout", "-q", "main")
    return root


def snapshot(repo: Path) -> dict[str, bytes]:
    """Every file of the working tree, the index file and HEAD, as bytes."""
    files = {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*")
             if p.is_file() and ".git" not in p.relative_to(repo).parts}
    files[".git/index"] = (repo / ".git" / "index").read_bytes()
    files["HEAD"] = git(repo, "rev-parse", "HEAD").encode()
    files["refs"] = git(repo, "for-each-ref").encode()
    return files


def accept_all(repo: Path, mode: str = "commit", **chosen: set[int] | None):
    selection = chosen or {"a.txt": None, "b.txt": None, "c.txt": None, "r2.txt": None}
    return accept(repo, "base", "moot/r1", selection, mode=mode, message=MESSAGE)  # type: ignore[arg-type]


def test_accept_as_one_commit(repo: Path) -> None:
    before = git(repo, "rev-parse", "HEAD").strip()
    result = accept_all(repo)
    assert result.commit == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "rev-parse", "HEAD~1").strip() == before
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(repo, "log", "-1", "--format=%B") == MESSAGE + "\n"
    assert sorted(result.files) == ["a.txt", "b.txt", "c.txt", "r.txt", "r2.txt"]
    assert sorted(git(repo, "show", "--name-only", "--format=", "--no-renames", "HEAD").split()) == sorted(
        result.files)
    assert (repo / "a.txt").read_text() == A_HEAD
    assert not (repo / "b.txt").exists() and not (repo / "r.txt").exists()
    assert (repo / "c.txt").read_text() == "new file\n"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "diff", "moot/r1", "HEAD") == ""


def test_accept_chosen_hunks_only(repo: Path) -> None:
    result = accept_all(repo, **{"a.txt": {1}})
    assert result.files == ["a.txt"]
    assert (repo / "a.txt").read_bytes() == A_BASE.replace("a28\n", "a28 changed\n").encode()
    assert (repo / "b.txt").exists() and not (repo / "c.txt").exists()
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["a.txt"]
    assert git(repo, "status", "--porcelain") == ""


def test_accept_uncommitted_leaves_changes_unstaged(repo: Path) -> None:
    before = git(repo, "rev-parse", "HEAD")
    result = accept_all(repo, mode="uncommitted")
    assert result.commit is None
    assert git(repo, "rev-parse", "HEAD") == before
    assert git(repo, "diff", "--cached", "--name-only") == ""
    assert sorted(git(repo, "status", "--porcelain", "--no-renames").splitlines()) == [
        " D b.txt", " D r.txt", " M a.txt", "?? c.txt", "?? r2.txt"]
    assert (repo / "a.txt").read_text() == A_HEAD


@pytest.mark.parametrize("how", ["unstaged", "staged", "untracked"])
def test_dirty_touched_file_refused_with_nothing_changed(repo: Path, how: str) -> None:
    if how == "untracked":
        (repo / "c.txt").write_text("mine\n")
        expected = ["c.txt"]
    else:
        (repo / "a.txt").write_text(A_BASE + "my edit\n")
        if how == "staged":
            git(repo, "add", "a.txt")
        expected = ["a.txt"]
    git(repo, "status")  # let git refresh its index first, as any earlier command would have
    before = snapshot(repo)
    for mode in ("commit", "uncommitted"):
        with pytest.raises(DirtyTreeError) as info:
            accept_all(repo, mode=mode)
        assert info.value.files == expected
        assert expected[0] in str(info.value)
        assert snapshot(repo) == before


def test_unrelated_changes_survive_and_stay_out_of_the_commit(repo: Path) -> None:
    (repo / "notes.txt").write_text("staged by me\n")
    git(repo, "add", "notes.txt")
    (repo / "other.txt").write_text("unstaged by me\n")
    (repo / "junk.txt").write_text("untracked\n")
    result = accept_all(repo)
    assert "notes.txt" not in git(repo, "show", "--name-only", "--format=", "HEAD")
    assert git(repo, "show", "HEAD:notes.txt") == "n\n"
    assert git(repo, "diff", "--cached", "--name-only").split() == ["notes.txt"]
    assert git(repo, "diff", "--name-only").split() == ["other.txt"]
    assert (repo / "notes.txt").read_text() == "staged by me\n"
    assert (repo / "other.txt").read_text() == "unstaged by me\n"
    assert (repo / "junk.txt").read_text() == "untracked\n"
    assert result.commit is not None


def test_unrelated_changes_survive_uncommitted_mode(repo: Path) -> None:
    (repo / "notes.txt").write_text("staged by me\n")
    git(repo, "add", "notes.txt")
    accept_all(repo, mode="uncommitted", **{"a.txt": None})
    assert git(repo, "diff", "--cached", "--name-only").split() == ["notes.txt"]
    assert git(repo, "diff", "--name-only").split() == ["a.txt"]


@pytest.mark.parametrize("line", ["a15", "a5"])  # a5 is in the hunk's context: only a three-way merge takes it
def test_branch_moved_on_elsewhere_still_takes_the_change(repo: Path, line: str) -> None:
    commit_file(repo, "a.txt", A_BASE.replace(f"{line}\n", f"{line} mine\n"), "my own work")
    accept_all(repo)
    assert (repo / "a.txt").read_text() == A_HEAD.replace(f"{line}\n", f"{line} mine\n")
    assert git(repo, "log", "--format=%s", "-3").splitlines() == ["moot: make the change", "my own work", "base"]


def test_conflicting_patch_refused_with_nothing_changed(repo: Path) -> None:
    commit_file(repo, "a.txt", A_BASE.replace("a2\n", "a2 mine\n"), "my own work")
    (repo / "other.txt").write_text("unrelated\n")
    git(repo, "status")
    before = snapshot(repo)
    for mode in ("commit", "uncommitted"):
        with pytest.raises(AcceptError) as info:
            accept_all(repo, mode=mode)
        assert "do not apply" in str(info.value) and "a.txt" in str(info.value)
        assert snapshot(repo) == before


def test_nothing_chosen_is_an_error(repo: Path) -> None:
    with pytest.raises(AcceptError, match="no changes"):
        accept(repo, "base", "moot/r1", {"a.txt": set()}, mode="commit", message=MESSAGE)


def test_undo_takes_the_commit_back_keeping_other_changes(repo: Path) -> None:
    before = git(repo, "rev-parse", "HEAD").strip()
    result = accept_all(repo)
    (repo / "other.txt").write_text("unstaged by me\n")
    done = undo(repo)
    assert (done.reverted, done.run_id) == (result.commit, "r1")
    assert git(repo, "rev-parse", "HEAD").strip() == before
    assert (repo / "a.txt").read_text() == A_BASE
    assert (repo / "b.txt").exists() and not (repo / "c.txt").exists()
    assert (repo / "other.txt").read_text() == "unstaged by me\n"
    assert git(repo, "status", "--porcelain") == " M other.txt\n"


def test_undo_refused_with_a_commit_on_top(repo: Path) -> None:
    accept_all(repo)
    commit_file(repo, "notes.txt", "later\n", "later work")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(UndoError, match="has commits on top of it"):
        undo(repo)
    assert git(repo, "rev-parse", "HEAD") == head


def test_undo_refused_when_head_is_not_moots(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(UndoError) as info:
        undo(repo)
    assert str(info.value) == "HEAD is not a moot commit: base"
    assert git(repo, "rev-parse", "HEAD") == head


def test_trailer_only_counts_in_the_last_paragraph(repo: Path) -> None:
    commit_file(repo, "notes.txt", "x\n", "Moot-Run: r9")  # a subject, not a trailer
    with pytest.raises(UndoError, match="not a moot commit"):
        undo(repo)


def test_undo_keeps_other_staged_changes_staged(repo: Path) -> None:
    accept_all(repo)
    (repo / "notes.txt").write_text("staged by me\n")
    git(repo, "add", "notes.txt")
    undo(repo)
    assert git(repo, "diff", "--cached", "--name-only").split() == ["notes.txt"]
    assert git(repo, "status", "--porcelain") == "M  notes.txt\n"


def test_undo_refused_when_the_commits_files_changed_since(repo: Path) -> None:
    accept_all(repo)
    (repo / "a.txt").write_text("my later edit\n")
    git(repo, "status")
    before = snapshot(repo)
    with pytest.raises(UndoError, match="a.txt"):
        undo(repo)
    assert snapshot(repo) == before
