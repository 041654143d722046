"""A run's worktree: made from the user's HEAD without touching their tree, committed to, diffed, removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrepo import git, hermetic_git, make_repo, snapshot  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.agents import worktree
from moot.agents.worktree import WorktreeError


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"a.txt": "one\n", "src/m.py": "x = 1\n"})


def test_create_leaves_the_users_tree_index_and_branch_alone(repo: Path, moot_env: Path) -> None:
    (repo / "a.txt").write_text("mine, uncommitted\n")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    before = snapshot(repo)
    wt = worktree.create(repo, "run1")
    assert wt.branch == "moot/run1" and wt.base_branch == "main"
    assert wt.base_sha == git(repo, "rev-parse", "HEAD").strip()
    assert wt.path == moot_env / "worktrees" / "run1"
    assert (wt.path / "a.txt").read_text() == "one\n"  # the committed state, not the user's edit
    assert not (wt.path / "staged.txt").exists()
    (wt.path / "a.txt").write_text("changed on the branch\n")
    worktree.commit(wt, "moot: change a", "alpha")
    assert snapshot(repo) == before
    assert git(repo, "branch", "--show-current").strip() == "main"


def test_candidates_get_numbered_branches_and_folders(repo: Path, moot_env: Path) -> None:
    first, second = worktree.create(repo, "run2"), worktree.create(repo, "run2", 1)
    assert (first.branch, second.branch) == ("moot/run2", "moot/run2-1")
    assert second.path == moot_env / "worktrees" / "run2-1"
    with pytest.raises(WorktreeError, match="already exists"):
        worktree.create(repo, "run2")


def test_refuses_outside_a_repository_and_before_the_first_commit(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(WorktreeError, match="not inside a git repository"):
        worktree.create(plain, "r")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(WorktreeError, match="no commit yet"):
        worktree.create(empty, "r")


def test_commit_message_trailer_and_fallback_identity(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "anon", {"a.txt": "one\n"}, identity=False)
    wt = worktree.create(repo, "run3")
    (wt.path / "new.txt").write_text("hello\n")
    sha = worktree.commit(wt, "moot: add new", "beta", task_id="t1")
    message = git(wt.path, "log", "-1", "--format=%B", sha)
    assert message.splitlines()[:4] == ["moot: add new", "", "Moot-Model: beta", "Moot-Task: t1"]
    assert git(wt.path, "log", "-1", "--format=%an <%ae>|%cn", sha).strip() == "moot <moot@localhost>|moot"
    assert worktree.task_commits(wt) == {"t1": sha}
    assert worktree.changed_files(wt, sha) == ["new.txt"]


def test_commit_uses_the_users_identity_when_configured(repo: Path) -> None:
    wt = worktree.create(repo, "run4")
    (wt.path / "a.txt").write_text("two\n")
    sha = worktree.commit(wt, "moot: a", "alpha")
    assert git(wt.path, "log", "-1", "--format=%an", sha).strip() == "Tester"


def test_diff_against_the_base(repo: Path) -> None:
    wt = worktree.create(repo, "run5")
    (wt.path / "a.txt").write_text("one\ntwo\n")
    (wt.path / "src" / "m.py").write_text("x = 2\n")
    worktree.commit(wt, "moot: edit", "alpha")
    text = worktree.diff_text(wt)
    assert "+two" in text and "-x = 1" in text and "+x = 2" in text
    assert worktree.diff_lines(wt) == 3
    (wt.path / "a.txt").write_text("uncommitted\n")
    worktree.discard(wt)
    assert (wt.path / "a.txt").read_text() == "one\ntwo\n"


def test_remove_takes_every_worktree_and_branch_of_the_run(repo: Path, moot_env: Path) -> None:
    worktree.create(repo, "run6")
    worktree.create(repo, "run6", 1)
    other = worktree.create(repo, "run7")
    removed = worktree.remove(repo, "run6")
    assert sorted(removed) == ["moot/run6", "moot/run6-1"]
    assert git(repo, "branch", "--list", "--format=%(refname:short)", "moot/*").split() == ["moot/run7"]
    assert not (moot_env / "worktrees" / "run6").exists() and not (moot_env / "worktrees" / "run6-1").exists()
    assert other.path.exists()
    listed = git(repo, "worktree", "list", "--porcelain")
    assert "run6" not in listed and "run7" in listed


def test_reopen_checks_out_again_when_the_folder_went_missing(repo: Path) -> None:
    import shutil

    wt = worktree.create(repo, "run8")
    (wt.path / "a.txt").write_text("kept\n")
    worktree.commit(wt, "moot: keep", "alpha")
    shutil.rmtree(wt.path)
    again = worktree.reopen(repo, "run8", 0, wt.base_sha, "main")
    assert (again.path / "a.txt").read_text() == "kept\n"
    with pytest.raises(WorktreeError, match="gone"):
        worktree.reopen(repo, "nope", 0, wt.base_sha, "main")


def test_a_lock_left_in_the_worktree_is_named_and_left_alone(repo: Path) -> None:
    wt = worktree.create(repo, "run7")
    (wt.path / "a.txt").write_text("half done\n")
    assert worktree.index_lock(wt.path) is None
    lock = Path(git(wt.path, "rev-parse", "--path-format=absolute", "--git-path", "index.lock").strip())
    lock.write_text("")
    assert worktree.index_lock(wt.path) == lock
    with pytest.raises(worktree.WorktreeLocked) as e:
        worktree.reopen(repo, "run7", 0, wt.base_sha, "main")
    assert str(lock) in str(e.value) and "moot run --resume run7" in str(e.value)
    for step in (lambda: worktree.discard(wt), lambda: worktree.commit(wt, "moot: x", "alpha")):
        with pytest.raises(worktree.WorktreeLocked):
            step()
    assert lock.exists() and (wt.path / "a.txt").read_text() == "half done\n"
    lock.unlink()
    assert worktree.reopen(repo, "run7", 0, wt.base_sha, "main").path == wt.path
