"""The diff a user reviews: ``git diff`` output read into files and hunks, and written back as a patch of only
the hunks the user chose.

A file whose change needs the user's eye whatever its content (one that configures moot, the shell, CI or git,
or a symbolic link) carries a :attr:`FileDiff.warning`; :func:`path_warning` says which paths those are.

:func:`parse_diff` reads the output of ``git diff`` (with or without rename detection, with ``--binary`` or
without); :func:`patch_text` writes a unified patch of the selected hunks that ``git apply`` accepts, moving
the line numbers of later hunks to account for the ones left out; :func:`side_by_side` pairs a hunk's removed
and added lines for a two-column view.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Status = Literal["added", "modified", "deleted", "renamed"]
RowKind = Literal["same", "changed", "added", "removed"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


class GitError(Exception):
    """A git command failed; ``str()`` is git's own message."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(stderr.strip() or f"git {' '.join(args)} failed with exit code {returncode}")
        self.returncode = returncode
        self.stderr = stderr


def run_git(repo: Path, *args: str, input: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run ``git -C repo args...`` and return its output (bytes that are not UTF-8 kept as surrogates).

    Args:
        repo: the work tree to run in.
        args: git's arguments.
        input: text for git's standard input.
        env: the whole environment for git (default: this process's).

    Returns:
        Standard output.

    Raises:
        GitError: git exited with a non-zero code, or could not be started.
    """
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), *args],
            input=input.encode("utf-8", "surrogateescape") if input is not None else None,
            capture_output=True, env=dict(env) if env is not None else None, timeout=120, check=False,
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise GitError(args, -1, f"git could not run: {e}") from None
    if out.returncode != 0:
        raise GitError(args, out.returncode, out.stderr.decode("utf-8", "replace"))
    return out.stdout.decode("utf-8", "surrogateescape")


@dataclass
class Hunk:
    """One ``@@`` section of a file's diff."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str
    """The text after the second ``@@`` (git's guess at the enclosing function), possibly empty."""
    lines: list[str] = field(default_factory=list)
    """The body, each line keeping its ``' '``, ``'+'``, ``'-'`` or ``'\\'`` prefix, without newlines."""

    @property
    def header(self) -> str:
        return f"@@ -{_range(self.old_start, self.old_len)} +{_range(self.new_start, self.new_len)} @@" + (
            f" {self.section}" if self.section else ""
        )


def _range(start: int, length: int) -> str:
    return str(start) if length == 1 else f"{start},{length}"


@dataclass
class FileDiff:
    """One file's part of a diff."""

    path: str
    """The file's path after the change (before it, for a deleted file)."""
    old_path: str
    """The file's path before the change; differs from ``path`` only for a rename."""
    status: Status
    binary: bool = False
    hunks: list[Hunk] = field(default_factory=list)
    header_lines: list[str] = field(default_factory=list)
    """Every line from ``diff --git`` up to the first hunk (for a binary file, also git's binary patch)."""
    outside_tasks: bool = False
    """The run's tasks listed files, and this is none of them (allowed, but the user is told)."""

    @property
    def added(self) -> int:
        return sum(1 for h in self.hunks for line in h.lines if line.startswith("+"))

    @property
    def warning(self) -> str | None:
        """Why this change needs the user's eye before it is accepted (see :func:`path_warning`), or None."""
        found = path_warning(self.path) or (path_warning(self.old_path) if self.old_path != self.path else None)
        if found:
            return found
        if any(line.startswith(("new file mode 120000", "new mode 120000")) for line in self.header_lines):
            target = next((line[1:] for h in self.hunks for line in h.lines if line.startswith("+")), "")
            return f"a symbolic link (to {target or 'somewhere'}): what is written through it lands there"
        if self.outside_tasks:
            return "changed outside the files its tasks listed"
        return None

    @property
    def removed(self) -> int:
        return sum(1 for h in self.hunks for line in h.lines if line.startswith("-"))


@dataclass(frozen=True)
class Row:
    """One row of a side-by-side view: the old line on the left, the new one on the right."""

    left_no: int | None
    left: str
    right_no: int | None
    right: str
    kind: RowKind


# ------------------------------------------------------------------------------------------------ warnings


def path_warning(path: str) -> str | None:
    """Why a change to ``path`` needs the user's eye whatever it holds, else None: files that configure moot
    (``.moot/``), the shell (``.envrc``), CI (``.github/workflows/``) or git (``.gitattributes``,
    ``.gitmodules``, ``.gitignore`` and every other ``.git*`` file), and anything inside ``.git`` (which accept
    refuses). Names are compared as a case-insensitive file system would.

    Args:
        path: a repository-relative path with ``/`` separators.
    """
    parts = [p.rstrip(" .").lower() or p for p in path.split("/")]
    name = parts[-1]
    if ".git" in parts:
        return "inside .git: accept refuses it"
    if ".moot" in parts:
        return "moot's project config: it can change models, hosts and the test command"
    if name == ".envrc":
        return "runs in your shell when you enter its folder"
    if parts[:2] == [".github", "workflows"]:
        return "a CI workflow: it runs on your CI, with its secrets"
    if name.startswith(".git"):
        return "git reads this file: it can change how git treats files, fetches or runs filters"
    return None


def mark_outside(files: list[FileDiff], listed: set[str]) -> list[FileDiff]:
    """``files`` with those none of the tasks listed (``listed``: every task's files) marked; nothing is marked
    when no task listed any file."""
    if listed:
        for f in files:
            f.outside_tasks = f.path not in listed and f.old_path not in listed
    return files


def flagged_changes(repo: Path, base: str, head: str) -> list[tuple[str, str]]:
    """The files the diff ``base..head`` changes that carry a warning, as (path, warning); empty when the diff
    cannot be read (the caller shows its own error for that)."""
    try:
        return [(f.path, f.warning) for f in diff_between(repo, base, head) if f.warning]
    except (GitError, ValueError):
        return []


# ------------------------------------------------------------------------------------------------ parsing


def _unquote(text: str) -> str:
    """A path as git wrote it: C-quoted (``"a\\tb"``, octal bytes) or plain."""
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        return text
    out = bytearray()
    body, i = text[1:-1], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n in "01234567" and re.match(r"[0-7]{3}", body[i + 1:i + 4]):
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(n, ord(n)))
            i += 2
            continue
        out += c.encode("utf-8", "surrogateescape")
        i += 1
    return out.decode("utf-8", "surrogateescape")


def _strip_prefix(path: str) -> str:
    return path[2:] if path[:2] in ("a/", "b/") else path


def _side(text: str) -> str | None:
    """The path of a ``---``/``+++`` line's value; None for ``/dev/null``."""
    text = text[:-1] if text.endswith("\t") else text
    if text == "/dev/null":
        return None
    return _strip_prefix(_unquote(text))


def _git_line_paths(line: str) -> tuple[str, str]:
    """The two paths of a ``diff --git a/x b/y`` line."""
    rest = line[len("diff --git "):]
    if rest.startswith('"'):
        end = re.match(r'"(?:[^"\\]|\\.)*"', rest)
        first = end.group(0) if end else rest
        second = rest[len(first):].strip()
        return _strip_prefix(_unquote(first)), _strip_prefix(_unquote(second))
    if rest.endswith('"'):
        start = rest.rfind(' "')
        return _strip_prefix(rest[:start]), _strip_prefix(_unquote(rest[start + 1:]))
    half = (len(rest) - 1) // 2  # a/x b/x: the same name twice
    if rest[half] == " " and rest[2:half] == rest[half + 3:]:
        return rest[2:half], rest[half + 3:]
    at = rest.rfind(" b/")
    return _strip_prefix(rest[:at]), rest[at + 3:]


def _finish(header: list[str], hunks: list[Hunk]) -> FileDiff:
    old, new = _git_line_paths(header[0])
    status: Status = "modified"
    binary = False
    minus: str | None = ""
    plus: str | None = ""
    for line in header[1:]:
        if line.startswith("new file mode") or line.startswith("copy to "):
            status = "added"
        elif line.startswith("deleted file mode"):
            status = "deleted"
        elif line.startswith("rename from "):
            old, status = _unquote(line[len("rename from "):]), "renamed"
        elif line.startswith("rename to "):
            new = _unquote(line[len("rename to "):])
        elif line.startswith("--- "):
            minus = _side(line[4:])
        elif line.startswith("+++ "):
            plus = _side(line[4:])
        elif line == "GIT binary patch" or (line.startswith("Binary files ") and line.endswith(" differ")):
            binary = True
    if minus is None and plus:
        status, new = "added", plus
    elif plus is None and minus:
        status, old = "deleted", minus
    elif status != "renamed":
        new = plus or new
        old = minus or old
    if status == "added":
        old = new
    elif status == "deleted":
        new = old
    return FileDiff(new, old, status, binary, hunks, header)


def parse_diff(text: str) -> list[FileDiff]:
    """The files of a ``git diff`` output, in order.

    Args:
        text: the output of ``git diff`` (any ``-U``, with or without renames, ``--binary`` or not).

    Returns:
        One FileDiff per ``diff --git`` section.

    Raises:
        ValueError: a hunk header is malformed or a hunk is cut short.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    files: list[FileDiff] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("diff --git "):
            i += 1
            continue
        header = [lines[i]]
        i += 1
        while i < len(lines) and not lines[i].startswith(("diff --git ", "@@ ")):
            header.append(lines[i])
            i += 1
        hunks: list[Hunk] = []
        while i < len(lines) and lines[i].startswith("@@ "):
            m = _HUNK.match(lines[i])
            if not m:
                raise ValueError(f"malformed hunk header: {lines[i]!r}")
            old_len = int(m.group(2)) if m.group(2) is not None else 1
            new_len = int(m.group(4)) if m.group(4) is not None else 1
            hunk = Hunk(int(m.group(1)), old_len, int(m.group(3)), new_len, m.group(5))
            i += 1
            old_left, new_left = old_len, new_len
            while i < len(lines) and (old_left > 0 or new_left > 0 or lines[i].startswith("\\")):
                line = lines[i]
                tag = line[:1]
                if tag == "\\":
                    pass
                elif tag in (" ", ""):  # an empty line is a blank context line whose space was lost
                    line = line or " "
                    old_left, new_left = old_left - 1, new_left - 1
                elif tag == "-":
                    old_left -= 1
                elif tag == "+":
                    new_left -= 1
                else:
                    break
                hunk.lines.append(line)
                i += 1
            if old_left > 0 or new_left > 0:
                raise ValueError(f"the hunk {hunk.header!r} of {header[0]!r} is cut short")
            hunks.append(hunk)
        files.append(_finish(header, hunks))
    return files


# ------------------------------------------------------------------------------------------------ writing


def _chosen(f: FileDiff, picked: set[int] | None) -> list[int]:
    """The indices of the hunks of ``f`` to include; raises ValueError for a selection that cannot be made."""
    every = list(range(len(f.hunks)))
    if picked is None:
        return every
    unknown = sorted(i for i in picked if i not in every)
    if unknown:
        raise ValueError(f"{f.path} has no hunk {unknown[0]} (it has {len(f.hunks)})")
    if (f.status in ("added", "deleted") or f.binary) and picked and set(every) - picked:
        raise ValueError(f"{f.path} is {'binary' if f.binary else f.status}: only the whole file can be chosen")
    return sorted(picked)


def patch_text(files: Sequence[FileDiff], selection: Mapping[str, set[int] | None]) -> str:
    """A unified patch of only the selected hunks, for ``git apply``.

    Args:
        files: the parsed diff.
        selection: path to the indices of its chosen hunks (0-based, in diff order); None chooses the whole
            file; a path not in the mapping, or an empty set, leaves the file out. Added, deleted and binary
            files can only be chosen whole. A file without hunks (a pure rename, a mode change) is included
            when chosen with None.

    Returns:
        The patch, or an empty string when nothing is chosen.

    Raises:
        ValueError: a hunk index does not exist, or part of an added, deleted or binary file is chosen.
    """
    out: list[str] = []
    for f in files:
        if f.path not in selection:
            continue
        picked = selection[f.path]
        chosen = _chosen(f, picked)
        if not chosen and (f.hunks or picked is not None):
            continue
        out += f.header_lines
        shift = 0  # how far the new side of the chosen hunks has moved from the original diff's
        moved = 0
        for i, hunk in enumerate(f.hunks):
            delta = hunk.new_len - hunk.old_len
            if i in chosen:
                out.append(Hunk(hunk.old_start, hunk.old_len, hunk.new_start - moved + shift, hunk.new_len,
                                hunk.section).header)
                out += hunk.lines
                shift += delta
            moved += delta
    return "".join(line + "\n" for line in out)


def side_by_side(hunk: Hunk) -> list[Row]:
    """The hunk as rows of a two-column view: context on both sides, each run of removed lines paired line
    by line with the added lines that follow it (``changed``), the rest ``removed`` or ``added``.

    Args:
        hunk: one hunk of a parsed diff.

    Returns:
        The rows, top to bottom, with 1-based line numbers (None where a side has no line).
    """
    rows: list[Row] = []
    old_no, new_no = hunk.old_start, hunk.new_start
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        nonlocal old_no, new_no
        for k in range(max(len(removed), len(added))):
            left = removed[k] if k < len(removed) else None
            right = added[k] if k < len(added) else None
            kind: RowKind = "changed" if left is not None and right is not None else (
                "removed" if left is not None else "added")
            rows.append(Row(old_no if left is not None else None, left or "",
                            new_no if right is not None else None, right or "", kind))
            old_no += left is not None
            new_no += right is not None
        removed.clear()
        added.clear()

    for line in hunk.lines:
        tag, text = line[:1], line[1:]
        if tag == "-":
            removed.append(text)
        elif tag == "+":
            added.append(text)
        elif tag == " ":
            flush()
            rows.append(Row(old_no, text, new_no, text, "same"))
            old_no += 1
            new_no += 1
    flush()
    return rows


def diff_between(repo: Path, base: str, head: str) -> list[FileDiff]:
    """The parsed diff from ``base`` to ``head`` in ``repo``, whatever the user's diff settings.

    Args:
        repo: the repository (any work tree of it).
        base: the commit the changes start from.
        head: the commit holding the changes.

    Returns:
        The files that differ, with renames detected and binary files carried as git binary patches.

    Raises:
        GitError: git failed (an unknown commit, not a repository).
    """
    text = run_git(
        repo, "-c", "core.quotepath=false", "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--binary",
        "--find-renames", "--no-relative", "-U3", "--inter-hunk-context=0", "--src-prefix=a/", "--dst-prefix=b/",
        base, head, "--",
    )
    return parse_diff(text)

