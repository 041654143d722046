"""Landing accepted hunks on the user's branch, and taking the last landing back.

:func:`accept` builds a patch of the chosen hunks of a run's diff and applies it first to a throwaway index
holding the user's HEAD (with a three-way merge, so a branch that moved on since the run began still takes
the change when it merges cleanly). Before that, accept refuses while a merge, rebase, cherry-pick or revert is
in progress, and refuses any path inside ``.git`` or one that would pass through a symlink in the user's tree
as it is at that moment (``git apply --index`` would follow an untracked symlinked folder out of the
repository). Only when all of that passed are the working tree (and, in commit mode, the
index and branch) touched, and then only in the files the patch changes: the user's other changes, staged or
not, stay exactly as they were and never end up in moot's commit. Every check comes before the first change,
so a refusal leaves every byte where it was.

:func:`undo` moves the branch back over the last accepted commit, when nothing was committed on top of it.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .hunks import FileDiff, GitError, diff_between, patch_text, run_git

AcceptMode = Literal["commit", "uncommitted"]

#: How many paths go into one ``git status`` call.
_PATHS_PER_CALL = 200


class AcceptError(Exception):
    """The accepted hunks could not be applied; nothing was changed. ``str()`` carries git's message."""


class DirtyTreeError(AcceptError):
    """The user has uncommitted changes in files the accepted hunks touch; nothing was changed."""

    def __init__(self, files: list[str]) -> None:
        shown = ", ".join(files[:10]) + (f" and {len(files) - 10} more" if len(files) > 10 else "")
        super().__init__(
            f"you have uncommitted changes in files the accepted changes touch: {shown}; "
            "commit or stash them first"
        )
        self.files = files


class UndoError(Exception):
    """The last accepted commit cannot be taken back; ``str()`` says why."""


@dataclass(frozen=True)
class AcceptResult:
    """What :func:`accept` did."""

    commit: str | None
    """The new commit's sha in commit mode, else None."""
    files: list[str]
    """The files changed (for a rename, both paths)."""


@dataclass(frozen=True)
class UndoResult:
    """What :func:`undo` did."""

    reverted: str
    """The sha of the commit taken back."""
    run_id: str
    """The run it came from (the trailer's value)."""


def _touched(files: list[FileDiff], selection: Mapping[str, set[int] | None]) -> list[str]:
    paths: list[str] = []
    for f in files:
        if f.path in selection and (selection[f.path] is None or selection[f.path]):
            paths += [f.old_path, f.path]
    return list(dict.fromkeys(paths))


def dirty_files(repo: Path, paths: list[str]) -> list[str]:
    """Which of ``paths`` have uncommitted changes: staged, unstaged, untracked or ignored files there.

    Args:
        repo: the user's work tree.
        paths: repository-relative paths.

    Returns:
        The dirty ones among ``paths``, in the order given.

    Raises:
        GitError: git failed.
    """
    wanted = set(paths)
    dirty: set[str] = set()
    for i in range(0, len(paths), _PATHS_PER_CALL):
        specs = [f":(literal){p}" for p in paths[i:i + _PATHS_PER_CALL]]
        out = run_git(repo, "--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching",
                      "--no-renames", "--", *specs)
        for entry in out.split("\0"):
            if len(entry) > 3:
                dirty.add(entry[3:])
    return [p for p in paths if p in dirty and p in wanted]


#: What git leaves in its folder while an operation waits for the user, and how to finish or abort it.
_IN_PROGRESS = (
    ("rebase-merge", "a rebase", "git rebase --continue or git rebase --abort"),
    ("rebase-apply", "a rebase", "git rebase --continue (git am --continue) or --abort"),
    ("MERGE_HEAD", "a merge", "commit it or git merge --abort"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --continue or git cherry-pick --abort"),
    ("REVERT_HEAD", "a revert", "git revert --continue or git revert --abort"),
)


def in_progress(repo: Path) -> str | None:
    """Why nothing may land on the branch now: a merge, rebase, cherry-pick or revert in progress, else None.

    Raises:
        GitError: git failed.
    """
    names = [name for name, _, _ in _IN_PROGRESS]
    paths = run_git(repo, "rev-parse", *[a for n in names for a in ("--git-path", n)])
    for (_, what, finish), found in zip(_IN_PROGRESS, paths.splitlines(), strict=True):
        path = os.path.join(repo, found)  # relative to repo unless git made it absolute
        if os.path.lexists(path):
            return f"{what} is in progress in {repo} ({path} exists); finish it ({finish}) first"
    return None


def unsafe_target(top: Path, rel: str) -> str | None:
    """Why writing ``rel`` under the work tree ``top`` is refused, else None: a path inside ``.git``, one that
    climbs out or is absolute, or one whose folders pass through a symlink (checked in the tree as it is now,
    on disk, whatever git tracks or ignores).

    Args:
        top: the top of the user's work tree (a real path).
        rel: a repository-relative path with ``/`` separators, as git writes it.
    """
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return f"{rel}: the path leaves the repository"
    if any(p.rstrip(" .").lower() == ".git" for p in parts):
        return f"{rel}: the path is inside .git, which accept never writes"
    current = str(top)
    for i, part in enumerate(parts[:-1]):
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return None  # the rest is made by the patch
        except (OSError, ValueError) as e:
            return f"{rel}: '{'/'.join(parts[:i + 1])}' cannot be checked: {getattr(e, 'strerror', None) or e}"
        if stat.S_ISLNK(st.st_mode):
            where = os.path.realpath(current)
            inside = where == str(top) or where.startswith(str(top).rstrip(os.sep) + os.sep)
            return (f"{rel}: '{'/'.join(parts[:i + 1])}' is a symlink in your working tree (to {where}"
                    f"{'' if inside else ', outside the repository'}); accept writes no file through a symlink")
        if not stat.S_ISDIR(st.st_mode):
            return None  # a file where a folder should be: git refuses that itself, naming it
    return None


def _check_targets(repo: Path, paths: list[str]) -> None:
    """Raise AcceptError naming the first of ``paths`` that may not be written in ``repo``'s work tree."""
    top = Path(os.path.realpath(run_git(repo, "rev-parse", "--show-toplevel").strip()))
    refused = [why for p in paths if (why := unsafe_target(top, p))]
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise AcceptError(f"refused: {refused[0]}{more}; nothing was changed")


def _git_env(index: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_INDEX_FILE"] = str(index)
    return env


def accept(repo: Path, base: str, head: str, selection: Mapping[str, set[int] | None], *,
           mode: AcceptMode, message: str) -> AcceptResult:
    """Apply the chosen hunks of the diff ``base..head`` to the user's working tree in ``repo``.

    Args:
        repo: the user's work tree, on whatever branch is checked out.
        base: the commit the run started from.
        head: the run's commit holding the changes.
        selection: path to chosen hunk indices, as for :func:`moot.agents.hunks.patch_text`.
        mode: ``commit`` makes one commit of exactly the changed files (the user's other staged changes stay
            staged, outside it); ``uncommitted`` leaves the changes in the working tree, unstaged.
        message: the commit message (the caller adds its ``Moot-Run:`` trailer).

    Returns:
        The new commit (commit mode) and the files changed.

    Raises:
        DirtyTreeError: a file the patch touches has uncommitted changes; nothing was changed.
        AcceptError: nothing is chosen, the patch does not apply to the branch, a merge or rebase is in
            progress, a path is inside ``.git`` or passes through a symlink, or git failed; nothing was changed.
    """
    try:
        busy = in_progress(repo)
        if busy:
            raise AcceptError(f"cannot accept now: {busy}")
        files = diff_between(repo, base, head)
        patch = patch_text(files, selection)
    except (GitError, ValueError) as e:
        raise AcceptError(str(e)) from None
    if not patch:
        raise AcceptError("no changes are chosen")
    touched = _touched(files, selection)
    try:
        _check_targets(repo, touched)
        dirty = dirty_files(repo, touched)
        if dirty:
            raise DirtyTreeError(dirty)
        old_head = run_git(repo, "rev-parse", "--verify", "HEAD^{commit}").strip()
        with tempfile.TemporaryDirectory(prefix="moot-accept-") as tmp:
            env = _git_env(Path(tmp) / "index")
            run_git(repo, "read-tree", old_head, env=env)
            try:
                run_git(repo, "apply", "--cached", "--3way", "--whitespace=nowarn", "-", input=patch, env=env)
            except GitError as e:
                raise AcceptError(f"the accepted changes do not apply to your branch: {e}") from None
            tree = run_git(repo, "write-tree", env=env).strip()
        if tree == run_git(repo, "rev-parse", f"{old_head}^{{tree}}").strip():
            raise AcceptError("the accepted changes are already on your branch")
        # the exact change to the user's files: HEAD's content (which they still have) to the merged result
        change = run_git(repo, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--binary", "--no-renames",
                         "--src-prefix=a/", "--dst-prefix=b/", old_head, tree, "--")
        changed = [p for p in run_git(repo, "diff", "--name-only", "-z", "--no-renames", old_head, tree,
                                      "--").split("\0") if p]
        _check_targets(repo, changed)  # what the merge made: the same paths, checked again as they will land
        apply_args = ["apply", "--whitespace=nowarn"] + (["--index"] if mode == "commit" else [])
        try:
            run_git(repo, *apply_args, "--check", "-", input=change)
        except GitError as e:
            raise AcceptError(f"the accepted changes cannot be written to your working tree: {e}") from None
        commit: str | None = None
        if mode == "commit":
            body = message.rstrip("\n") + "\n"
            commit = run_git(repo, "commit-tree", tree, "-p", old_head, "-F", "-", input=body).strip()
        run_git(repo, *apply_args, "-", input=change)
        if commit is not None:
            try:
                run_git(repo, "update-ref", "-m", "moot: accept", "HEAD", commit, old_head)
            except GitError as e:
                run_git(repo, *apply_args, "--reverse", "-", input=change)
                raise AcceptError(f"your branch could not be moved to the new commit: {e}") from None
    except GitError as e:
        raise AcceptError(str(e)) from None
    return AcceptResult(commit, changed)


def _ere(text: str) -> str:
    """``text`` as a literal in a POSIX extended regular expression (what ``git log -E --grep`` takes)."""
    return re.sub(r"([.^$*+?()|{}\[\]\\])", r"\\\1", text)


def _trailer_value(message: str, trailer: str) -> str | None:
    """The value of ``trailer`` in the last paragraph of a commit message, else None."""
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return None
    pattern = re.compile(rf"^{re.escape(trailer)}:\s*(\S.*?)\s*$", re.IGNORECASE)
    for line in paragraphs[-1].splitlines():
        m = pattern.match(line)
        if m:
            return m.group(1)
    return None


def _step_back(repo: Path, head: str) -> None:
    """Move the branch from ``head`` to its first parent, reverting only the files ``head`` changed in the
    working tree and index; refuses (UndoError) when the user has changed any of them since."""
    parent = f"{head}~1"
    changed = [p for p in run_git(repo, "diff", "--name-only", "-z", "--no-renames", head, parent,
                                  "--").split("\0") if p]
    dirty = dirty_files(repo, changed)
    if dirty:
        raise UndoError(f"you have changed files of the accepted commit since: {', '.join(dirty)}; commit or "
                        "stash them first")
    back = run_git(repo, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--binary", "--no-renames",
                   "--src-prefix=a/", "--dst-prefix=b/", head, parent, "--")
    if back:
        run_git(repo, "apply", "--index", "--whitespace=nowarn", "--check", "-", input=back)
    parent_sha = run_git(repo, "rev-parse", "--verify", f"{parent}^{{commit}}").strip()
    if back:
        run_git(repo, "apply", "--index", "--whitespace=nowarn", "-", input=back)
    try:
        run_git(repo, "update-ref", "-m", "moot: undo", "HEAD", parent_sha, head)
    except GitError:
        if back:
            run_git(repo, "apply", "--index", "--whitespace=nowarn", "--reverse", "-", input=back)
        raise


def undo(repo: Path, trailer: str = "Moot-Run") -> UndoResult:
    """Move the branch back over HEAD when HEAD is the last accepted moot commit, keeping the user's other
    changes, staged or not (what ``git reset --keep HEAD~1`` does, except that other files stay staged).

    Args:
        repo: the user's work tree.
        trailer: the trailer that marks an accepted commit.

    Returns:
        The commit taken back and its run id.

    Raises:
        UndoError: HEAD is not a moot commit, or the last one has commits on top of it, or git refused (for
            instance because the user has changed files of that commit since).
    """
    try:
        busy = in_progress(repo)
        if busy:
            raise UndoError(f"cannot undo now: {busy}")
        head = run_git(repo, "rev-parse", "--verify", "HEAD^{commit}").strip()
        message = run_git(repo, "log", "-1", "--format=%B", head)
        run_id = _trailer_value(message, trailer)
        if run_id is None:
            below = run_git(repo, "log", "--first-parent", "--format=%H", "-E", "-i", f"--grep=^{_ere(trailer)}:",
                            "-n", "50", head).split()
            for sha in below:
                if _trailer_value(run_git(repo, "log", "-1", "--format=%B", sha), trailer):
                    raise UndoError(f"the last accepted commit ({sha[:10]}) has commits on top of it; "
                                    "revert it with git revert instead")
            subject = message.strip().splitlines()[0] if message.strip() else head[:10]
            raise UndoError(f"HEAD is not a moot commit: {subject}")
        try:
            run_git(repo, "rev-parse", "--verify", f"{head}~1^{{commit}}")
        except GitError:
            raise UndoError("the accepted commit is the repository's first; there is nothing to go back to") \
                from None
        _step_back(repo, head)
    except GitError as e:
        raise UndoError(f"cannot undo: {e}") from None
    return UndoResult(head, run_id)
