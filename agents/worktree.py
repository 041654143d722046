"""A run's own git worktree: a new branch ``moot/<run-id>`` made from the user's HEAD, checked out under
``$MOOT_HOME/worktrees``, so the user's working tree, index and current branch are never touched.

Every commit made here carries a ``Moot-Model`` trailer (and ``Moot-Task`` for a task's commit, which is how
a resumed run finds the work an interrupted one already committed). When the user has no git identity, the
commits are made as ``moot``.

A git process that died while writing in a worktree leaves its ``index.lock`` behind, and every later git
command there fails. Resuming checks for that lock first and stops with :class:`WorktreeLocked`, naming the
file and leaving the run as it was; moot does not remove the lock itself, since it cannot tell a lock left by a
dead process from one a running git command holds (the user can, and git asks the same of them).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import git

from moot.core.config.loader import data_dir

BRANCH_PREFIX = "moot/"
#: Used when the user has no git identity of their own.
FALLBACK_NAME, FALLBACK_EMAIL = "moot", "moot@localhost"


class WorktreeError(Exception):
    """A worktree could not be made, found or removed; ``str()`` is the message a user sees."""


class WorktreeLocked(WorktreeError):
    """git's index lock exists in a run's worktree, so nothing there can change until it is gone."""

    def __init__(self, lock: Path, run_id: str | None = None) -> None:
        again = f"`moot run --resume {run_id}`" if run_id else "the run"
        super().__init__(
            f"the run's worktree is locked: {lock} exists. A git command is running there, or one stopped "
            f"before it could remove that file. If none is running, remove the file and resume with {again}; "
            "the run is kept as it was"
        )
        self.lock = lock


def index_lock(path: Path) -> Path | None:
    """The ``index.lock`` of the worktree at ``path`` when it exists, else None."""
    git_file = path / ".git"
    try:
        if git_file.is_file():
            text = git_file.read_text(encoding="utf-8", errors="replace").strip()
            gitdir = Path(text.removeprefix("gitdir:").strip())
            gitdir = gitdir if gitdir.is_absolute() else path / gitdir
        else:
            gitdir = git_file
        lock = gitdir / "index.lock"
        return lock if os.path.lexists(lock) else None
    except OSError:
        return None


def check_unlocked(wt: Worktree, run_id: str | None = None) -> None:
    """Raise WorktreeLocked when git's index lock exists in the worktree ``wt``."""
    lock = index_lock(wt.path)
    if lock is not None:
        raise WorktreeLocked(lock, run_id)


@dataclass(frozen=True)
class Worktree:
    """One checked-out branch of a run."""

    path: Path
    """Where the branch is checked out."""
    branch: str
    """``moot/<run-id>``, or ``moot/<run-id>-<n>`` for candidate ``n`` > 0."""
    base_sha: str
    """The user's HEAD when the run began: what the branch is diffed against."""
    base_branch: str | None
    """The user's branch at that moment (None on a detached HEAD)."""


def branch_name(run_id: str, candidate: int = 0) -> str:
    return f"{BRANCH_PREFIX}{run_id}" + (f"-{candidate}" if candidate else "")


def worktree_path(run_id: str, candidate: int = 0) -> Path:
    return data_dir() / "worktrees" / (run_id + (f"-{candidate}" if candidate else ""))


def open_repo(repo: Path) -> git.Repo:
    """The user's repository containing ``repo``; raises WorktreeError outside one or before its first commit."""
    try:
        r = git.Repo(repo, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise WorktreeError(f"{repo} is not inside a git repository (run `git init` and commit first)") from None
    if r.bare or r.working_tree_dir is None:
        raise WorktreeError(f"{repo} is a bare repository; moot needs a working tree")
    if not r.head.is_valid():
        raise WorktreeError(f"{r.working_tree_dir} has no commit yet; commit something first")
    return r


def head_of(repo: Path) -> tuple[str, str | None]:
    """The user's HEAD commit and branch (None when detached); raises WorktreeError as ``open_repo``."""
    r = open_repo(repo)
    try:
        return r.head.commit.hexsha, None if r.head.is_detached else r.active_branch.name
    finally:
        r.close()


def create(repo: Path, run_id: str, candidate: int = 0, *, base_sha: str | None = None) -> Worktree:
    """Make branch ``moot/<run-id>[-n]`` from the user's HEAD (or ``base_sha``) and check it out in a worktree
    of its own. Only ``.git`` gains the branch and the worktree's record; nothing the user sees changes."""
    r = open_repo(repo)
    try:
        head, base_branch = r.head.commit.hexsha, None if r.head.is_detached else r.active_branch.name
        base = base_sha or head
        branch, path = branch_name(run_id, candidate), worktree_path(run_id, candidate)
        if branch in [h.name for h in r.branches]:  # type: ignore[attr-defined]
            raise WorktreeError(f"branch {branch} already exists")
        if path.exists():
            raise WorktreeError(f"{path} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            r.git.worktree("add", "--quiet", "-b", branch, str(path), base)
        except git.GitCommandError as e:
            raise WorktreeError(f"cannot make the worktree for {branch}: {_stderr(e)}") from None
        return Worktree(path, branch, base, base_branch)
    finally:
        r.close()


def reopen(repo: Path, run_id: str, candidate: int, base_sha: str, base_branch: str | None) -> Worktree:
    """The worktree of an existing branch, checked out again if its folder went missing (for resuming).

    Raises:
        WorktreeLocked: git's index lock exists there (nothing was changed).
        WorktreeError: the branch is gone, or it cannot be checked out again.
    """
    branch, path = branch_name(run_id, candidate), worktree_path(run_id, candidate)
    r = open_repo(repo)
    try:
        if branch not in [h.name for h in r.branches]:  # type: ignore[attr-defined]
            raise WorktreeError(f"branch {branch} is gone; the run cannot be resumed")
        if not (path / ".git").exists():
            r.git.worktree("prune")
            if path.exists():
                shutil.rmtree(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                r.git.worktree("add", "--quiet", str(path), branch)
            except git.GitCommandError as e:
                raise WorktreeError(f"cannot check out {branch} again: {_stderr(e)}") from None
        wt = Worktree(path, branch, base_sha, base_branch)
        check_unlocked(wt, run_id)
        return wt
    finally:
        r.close()


def _identity(r: git.Repo) -> dict[str, str]:
    """Environment naming ``moot`` as author and committer, for the parts the user has not configured."""
    env: dict[str, str] = {}
    if not _config(r, "user.name") and not os.environ.get("GIT_AUTHOR_NAME"):
        env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = FALLBACK_NAME
    if not _config(r, "user.email") and not os.environ.get("GIT_AUTHOR_EMAIL"):
        env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = FALLBACK_EMAIL
    return env


def _config(r: git.Repo, key: str) -> str:
    try:
        return str(r.git.config("--get", key)).strip()
    except git.GitCommandError:
        return ""


def commit(wt: Worktree, message: str, model_alias: str, *, task_id: str | None = None) -> str:
    """Stage every change in the worktree and commit it (even when nothing changed, so each task has its
    commit). ``message`` is the subject, e.g. ``moot: add the flag``; trailers name the model (and task).
    Returns the new commit's sha."""
    trailers = [f"Moot-Model: {model_alias}"] + ([f"Moot-Task: {task_id}"] if task_id else [])
    body = message.rstrip() + "\n\n" + "\n".join(trailers) + "\n"
    r = git.Repo(wt.path)
    try:
        r.git.add("--all")
        r.git.execute(
            ["git", "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "--allow-empty", "-m", body],
            env=_identity(r),
        )
        return r.head.commit.hexsha
    except git.GitCommandError as e:
        check_unlocked(wt)
        raise WorktreeError(f"cannot commit in {wt.path}: {_stderr(e)}") from None
    finally:
        r.close()


def discard(wt: Worktree) -> None:
    """Throw away every uncommitted change in the worktree (a failed task's partial edits).

    Raises:
        WorktreeLocked: git's index lock exists there.
        WorktreeError: git failed otherwise.
    """
    r = git.Repo(wt.path)
    try:
        r.git.reset("--hard", "--quiet", "HEAD")
        r.git.clean("-f", "-d", "-q")
    except git.GitCommandError as e:
        check_unlocked(wt)
        raise WorktreeError(f"cannot clean the worktree {wt.path}: {_stderr(e)}") from None
    finally:
        r.close()


def head(wt: Worktree) -> str:
    r = git.Repo(wt.path)
    try:
        return r.head.commit.hexsha
    finally:
        r.close()


def task_commits(wt: Worktree) -> dict[str, str]:
    """Task id to commit sha, for every commit on the branch since the base with a ``Moot-Task`` trailer."""
    r = git.Repo(wt.path)
    try:
        out: dict[str, str] = {}
        for c in r.iter_commits(f"{wt.base_sha}..HEAD", reverse=True):
            text = c.message if isinstance(c.message, str) else c.message.decode("utf-8", "replace")
            m = re.search(r"^Moot-Task: (.+)$", text, re.MULTILINE)
            if m:
                out[m.group(1).strip()] = c.hexsha
        return out
    finally:
        r.close()


def changed_files(wt: Worktree, sha: str) -> list[str]:
    """The paths one commit changed."""
    r = git.Repo(wt.path)
    try:
        out = r.git.show("--name-only", "--format=", "--no-renames", sha)
        return [line for line in out.splitlines() if line.strip()]
    finally:
        r.close()


def diff_text(wt: Worktree) -> str:
    """The branch's committed changes against its base, as a unified diff."""
    r = git.Repo(wt.path)
    try:
        return str(r.git.diff(wt.base_sha, "HEAD", "--no-color", "--no-ext-diff"))
    finally:
        r.close()


def diff_lines(wt: Worktree) -> int:
    """Lines added plus lines removed on the branch against its base (binary files count as 0)."""
    r = git.Repo(wt.path)
    try:
        total = 0
        for line in r.git.diff(wt.base_sha, "HEAD", "--numstat", "--no-renames").splitlines():
            added, removed, _ = (line.split("\t", 2) + ["", ""])[:3]
            total += (int(added) if added.isdigit() else 0) + (int(removed) if removed.isdigit() else 0)
        return total
    finally:
        r.close()


def remove(repo: Path, run_id: str, candidate: int | None = None) -> list[str]:
    """Remove every worktree and branch of the run (or of one candidate), forced, then prune. Returns the
    branches removed."""
    if candidate is None:
        pattern = re.compile(rf"^{re.escape(BRANCH_PREFIX + run_id)}(-\d+)?$")
        folders = re.compile(rf"^{re.escape(run_id)}(-\d+)?$")
    else:
        pattern = re.compile(rf"^{re.escape(branch_name(run_id, candidate))}$")
        folders = re.compile(rf"^{re.escape(worktree_path(run_id, candidate).name)}$")
    r = open_repo(repo)
    removed: list[str] = []
    try:
        for block in r.git.worktree("list", "--porcelain").split("\n\n"):
            fields = dict(line.split(" ", 1) for line in block.splitlines() if " " in line)
            branch = fields.get("branch", "").removeprefix("refs/heads/")
            if pattern.match(branch) and fields.get("worktree"):
                try:
                    r.git.worktree("remove", "--force", "--force", fields["worktree"])
                except git.GitCommandError:
                    shutil.rmtree(fields["worktree"], ignore_errors=True)
        folder = data_dir() / "worktrees"
        if folder.is_dir():
            for path in folder.iterdir():
                if folders.match(path.name):
                    shutil.rmtree(path, ignore_errors=True)
        r.git.worktree("prune")
        for h in list(r.branches):  # type: ignore[attr-defined]
            if pattern.match(h.name):
                r.git.branch("-D", h.name)
                removed.append(h.name)
        return removed
    finally:
        r.close()


def _stderr(e: git.GitCommandError) -> str:
    text = e.stderr if isinstance(e.stderr, str) else str(e.stderr or "")
    text = text.strip().removeprefix("stderr:").strip().strip("'").strip()
    return text or str(e)
