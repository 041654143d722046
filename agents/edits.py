"""SEARCH/REPLACE edits: reading them from a model's answer and applying them to files in a repository.

The format (paths relative to the repository root; an empty SEARCH creates a file)::

    path/to/file.py
    <<<<<<< SEARCH
    old lines
    =======
    new lines
    >>>>>>> REPLACE

:func:`parse_edits` reads it the way models actually write it: inside ``` fences or not, the path on the
line before the fence or just inside it, in backticks or bold or after ``File:`` / ``#``, markers with 5 to 9
brackets and trailing spaces, CRLF line endings, prose between blocks. :func:`apply_edits` applies edits in
order, each against the result of the ones before; an edit whose SEARCH text is not found exactly is tried
again ignoring trailing whitespace, then ignoring a uniform difference in indentation (such results are
marked ``fuzzy``). A failed edit changes nothing; ``edit_feedback.failure_feedback`` tells the model what
to fix.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .safety import BinaryFile, UnsafePath, check_path

FailureKind = Literal["refused", "binary", "no_match", "ambiguous", "missing"]

_HEAD = re.compile(r"^\s*<{5,9}\s?SEARCH\s*$")
_DIVIDER = re.compile(r"^={5,9}\s*$")
_TAIL = re.compile(r"^\s*>{5,9}\s?REPLACE\s*$")
_FENCE = re.compile(r"^\s*(?:`{3,}|~{3,})\s*(.*?)\s*$")
_LABEL = re.compile(r"^(?:file ?name|file ?path|file|path)\s*:\s*", re.IGNORECASE)
_BACKTICKED = re.compile(r"`([^`\s]+)`")
_PATHISH = re.compile(r"/|\.[A-Za-z0-9_+-]+$")


class EditFormatError(ValueError):
    """The answer's SEARCH/REPLACE blocks cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class Edit:
    """One SEARCH/REPLACE block."""

    path: str
    """The file, relative to the repository root, as the model wrote it."""
    search: str
    """The lines to find (each ending in a newline); empty to create a file or fill an empty one."""
    replace: str
    """The lines to put in their place."""


@dataclass(frozen=True)
class Applied:
    """An edit that was applied."""

    path: str
    """The file, relative to the repository root, normalised (``a/b.py``)."""
    created: bool
    """The edit created the file."""
    fuzzy: bool
    """The SEARCH text matched only when trailing whitespace or indentation was ignored."""


@dataclass(frozen=True)
class EditFailure:
    """An edit that was not applied, and why."""

    edit: Edit
    kind: FailureKind
    """``refused`` (unsafe path), ``binary``, ``no_match``, ``ambiguous`` (found more than once) or
    ``missing`` (no such file, and SEARCH is not empty)."""
    message: str


@dataclass
class ApplyReport:
    """What :func:`apply_edits` did."""

    applied: list[Applied] = field(default_factory=list)
    failed: list[EditFailure] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ parsing


def _clean_path(line: str) -> str | None:
    """The file path a line names (``path``, ```path```, ``**path**``, ``File: path``, ``# path``), else None."""
    s = line.strip()
    for _ in range(6):
        before = s
        s = re.sub(r"^(?:#{1,6}|//|[-+*]\s)\s*", "", s).strip()
        s = s.strip("*").strip()
        s = _LABEL.sub("", s).strip()
        s = s.rstrip(":").strip()
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "`'\"":
            s = s[1:-1].strip()
        if s == before:
            break
    if s and not any(c.isspace() for c in s) and not s.startswith(("<", ">", "=")):
        if line.rstrip().endswith(":") and not _PATHISH.search(s):
            return None  # "Here:" is prose, not a file
        return s
    found = [t for t in _BACKTICKED.findall(line) if _PATHISH.search(t) and "(" not in t]
    return found[-1] if found else None


def _path_before(lines: list[str], at: int, floor: int) -> str | None:
    """The path named just before the SEARCH marker at ``at``, looking no further back than ``floor``."""

    def back(j: int) -> int:
        while j > floor and not lines[j].strip():
            j -= 1
        return j

    j = back(at - 1)
    if j <= floor:
        return None
    fence = _FENCE.match(lines[j])
    if fence:
        info = fence.group(1)
        if info and _PATHISH.search(info) and not any(c.isspace() for c in info):
            return _clean_path(info)  # ```src/app.py
        j = back(j - 1)
        if j <= floor or _FENCE.match(lines[j]):
            return None
    return _clean_path(lines[j])


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def close_cut_block(text: str) -> str:
    """An answer cut off by the token cap, with its last block closed where that is safe: cut inside the
    REPLACE, the whole lines written so far become the block's REPLACE; cut before its divider (in the path or
    the SEARCH), the block is dropped. For answers decoded under the edit grammar, whose every prefix is a
    prefix of blocks that apply; an answer with every block closed comes back as it was."""
    lines = text.split("\n")
    whole = lines[:-1] if lines and lines[-1] else lines  # a line cut in the middle is left out
    head = next((i for i in range(len(whole) - 1, -1, -1) if _HEAD.match(whole[i])), None)
    if head is None or any(_TAIL.match(line) for line in whole[head:]):
        return text
    if any(_DIVIDER.match(line) for line in whole[head:]):
        return "\n".join([*whole, ">>>>>>> REPLACE", ""])
    return "\n".join(whole[: max(0, head - 1)]) + ("\n" if head > 1 else "")  # from the block's path on


def parse_edits(text: str) -> list[Edit]:
    """The SEARCH/REPLACE blocks in a model's answer, in order.

    A block without a path of its own belongs to the file of the block before it.

    Args:
        text: the whole answer; prose and code fences around the blocks are ignored.

    Returns:
        The edits; an empty list when the answer has no blocks.

    Raises:
        EditFormatError: a block is unterminated, has no divider, or names no file; a REPLACE marker has no
            SEARCH marker before it.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    edits: list[Edit] = []
    prev_path: str | None = None
    prev_end = -1
    i = 0
    while i < len(lines):
        if _TAIL.match(lines[i]):
            raise EditFormatError(
                f"line {i + 1}: a '>>>>>>> REPLACE' line with no '<<<<<<< SEARCH' line before it; each block is "
                "the file path, '<<<<<<< SEARCH', the old lines, '=======', the new lines, '>>>>>>> REPLACE'"
            )
        if not _HEAD.match(lines[i]):
            i += 1
            continue
        path = _path_before(lines, i, prev_end) or prev_path
        if path is None:
            raise EditFormatError(
                f"line {i + 1}: a '<<<<<<< SEARCH' block with no file path before it; put the file's path, "
                "relative to the repository root, alone on the line before the block (or before its ``` fence)"
            )
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not _TAIL.match(lines[j]):
            if _HEAD.match(lines[j]):
                raise EditFormatError(
                    f"line {i + 1}: the block for {path} is unterminated: a new '<<<<<<< SEARCH' starts at line "
                    f"{j + 1} before its '>>>>>>> REPLACE' line"
                )
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise EditFormatError(
                f"line {i + 1}: the block for {path} is unterminated: the answer ends before its "
                "'>>>>>>> REPLACE' line"
            )
        dividers = [k for k, line in enumerate(body) if _DIVIDER.match(line)]
        if not dividers:
            raise EditFormatError(
                f"line {i + 1}: the block for {path} has no '=======' line dividing the SEARCH lines from the "
                "REPLACE lines"
            )
        # several '=======' lines (a heading underline in the text itself): the middle one splits the block
        # when their number is odd, since unchanged lines appear on both sides; else the first
        d = dividers[len(dividers) // 2] if len(dividers) % 2 else dividers[0]
        search = _join(body[:d])
        edits.append(Edit(path, "" if not search.strip() else search, _join(body[d + 1:])))
        prev_path, prev_end = path, j
        i = j + 1
    return edits


# ------------------------------------------------------------------------------------------------ matching


def _split(text: str) -> tuple[list[str], bool]:
    """A text's lines and whether it ends with a newline."""
    if not text:
        return [], False
    if text.endswith("\n"):
        return text[:-1].split("\n"), True
    return text.split("\n"), False


def _windows(lines: list[str], needle: list[str], same: Callable[[str, str], bool]) -> list[int]:
    n = len(needle)
    return [i for i in range(len(lines) - n + 1) if all(same(lines[i + k], needle[k]) for k in range(n))]


def _indent_shift(window: list[str], needle: list[str]) -> tuple[str, str] | None:
    """``("add", prefix)`` when every non-blank file line is the SEARCH line with ``prefix`` more indentation,
    ``("remove", prefix)`` when it has ``prefix`` less; None when the lines differ otherwise."""
    shift: tuple[str, str] | None = None
    for f, s in zip(window, needle, strict=True):
        f, s = f.rstrip(), s.rstrip()
        if not f and not s:
            continue
        fb, sb = f.lstrip(), s.lstrip()
        if not f or not s or fb != sb:
            return None
        fi, si = f[:len(f) - len(fb)], s[:len(s) - len(sb)]
        if fi.endswith(si):
            this = ("add", fi[:len(fi) - len(si)])
        elif si.endswith(fi):
            this = ("remove", si[:len(si) - len(fi)])
        else:
            return None
        if shift is None:
            shift = this
        elif this != shift:
            return None
    return shift


def _reindent(lines: list[str], shift: tuple[str, str]) -> list[str]:
    how, prefix = shift
    out = []
    for line in lines:
        if not line.strip():
            out.append("")
        elif how == "add":
            out.append(prefix + line)
        elif line.startswith(prefix):
            out.append(line[len(prefix):])
        else:
            out.append(line.lstrip())
    return out


@dataclass
class _Match:
    starts: list[int]
    fuzzy: bool
    replace: list[str]


def _match(lines: list[str], search: list[str], replace: list[str]) -> _Match:
    """Where ``search`` occurs in ``lines``: exactly, else ignoring trailing whitespace, else ignoring a
    uniform indentation difference (with ``replace`` re-indented to suit)."""
    exact = _windows(lines, search, str.__eq__)
    if exact:
        return _Match(exact, False, replace)
    loose = _windows(lines, search, lambda a, b: a.rstrip() == b.rstrip())
    if loose:
        return _Match(loose, True, replace)
    n = len(search)
    shifted = [(i, s) for i in range(len(lines) - n + 1) if (s := _indent_shift(lines[i:i + n], search))]
    if len(shifted) == 1:
        return _Match([shifted[0][0]], True, _reindent(replace, shifted[0][1]))
    return _Match([i for i, _ in shifted], True, replace)


# ------------------------------------------------------------------------------------------------ applying


@dataclass
class _Doc:
    """A file being edited: its lines and how to write them back."""

    target: Path
    rel: str
    lines: list[str]
    final_newline: bool
    crlf: bool = False
    bom: bool = False
    exists: bool = True
    changed: bool = False
    applied: list[int] = field(default_factory=list)

    @classmethod
    def read(cls, target: Path, rel: str) -> _Doc:
        text = target.read_bytes().decode("utf-8")
        bom = text.startswith("\ufeff")
        text = text.removeprefix("\ufeff")
        crlf = "\r\n" in text and text.count("\n") == text.count("\r\n")
        if crlf:
            text = text.replace("\r\n", "\n")
        lines, final = _split(text)
        return cls(target, rel, lines, final, crlf, bom)

    def encoded(self) -> bytes:
        text = "\n".join(self.lines) + ("\n" if self.final_newline and self.lines else "")
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return (("\ufeff" if self.bom else "") + text).encode("utf-8")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, keeping the file's mode.

    Args:
        path: the file to write; its folder must exist.
        data: the new content.

    Raises:
        OSError: the file cannot be written (``path`` is then unchanged).
    """
    try:
        mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.moot-tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _lines_at(starts: list[int]) -> str:
    shown = ", ".join(str(s + 1) for s in starts[:5])
    return shown + (", ..." if len(starts) > 5 else "")


def _apply_one(doc: _Doc, edit: Edit) -> tuple[FailureKind, str] | bool:
    """Apply ``edit`` to ``doc``; the fuzzy flag on success, else (kind, message)."""
    replace, _ = _split(edit.replace)
    if not edit.search.strip():
        if doc.lines and any(line.strip() for line in doc.lines):
            if doc.lines == replace:
                return False  # the same file again (an answer re-sent after a partial failure): nothing to do
            return "no_match", (
                f"{doc.rel} already exists and is not empty; an empty SEARCH only creates a file. Quote the "
                "existing lines to change in the SEARCH section"
            )
        doc.lines, doc.final_newline = replace, edit.replace.endswith("\n")
        return False
    search, _ = _split(edit.search)
    m = _match(doc.lines, search, replace)
    if not m.starts:
        return "no_match", f"the SEARCH text was not found in {doc.rel}"
    if len(m.starts) > 1:
        return "ambiguous", (
            f"the SEARCH text occurs {len(m.starts)} times in {doc.rel} (at lines {_lines_at(m.starts)}); "
            "include more of the surrounding lines so that it matches exactly once"
        )
    at = m.starts[0]
    doc.lines[at:at + len(search)] = m.replace
    return m.fuzzy


def apply_edits(root: Path, edits: Sequence[Edit]) -> ApplyReport:
    """Apply ``edits`` in order to the files under ``root``; an edit that fails is skipped.

    Each file is written once, atomically, after every edit has been tried; its line endings (CRLF or LF),
    byte-order mark and final newline (or its absence) are kept. Creating a file creates its folders.

    Args:
        root: the repository root; every path is checked with :func:`moot.agents.safety.check_path`.
        edits: the edits, as :func:`parse_edits` returns them.

    Returns:
        The applied edits and the failed ones, each in the order given.
    """
    report = ApplyReport()
    docs: dict[Path, _Doc] = {}
    outcomes: list[tuple[Edit, _Doc, bool, bool] | EditFailure] = []
    real_root = Path(os.path.realpath(root))
    for edit in edits:
        try:
            target = check_path(root, edit.path)
        except BinaryFile as e:
            outcomes.append(EditFailure(edit, "binary", str(e)))
            continue
        except UnsafePath as e:
            outcomes.append(EditFailure(edit, "refused", str(e)))
            continue
        doc = docs.get(target)
        if doc is None:
            rel = target.relative_to(real_root).as_posix()
            if target.exists():
                try:
                    doc = _Doc.read(target, rel)
                except (OSError, UnicodeDecodeError) as e:
                    outcomes.append(EditFailure(edit, "refused", f"{edit.path}: cannot be read: {e}"))
                    continue
            elif edit.search.strip():
                outcomes.append(EditFailure(
                    edit, "missing",
                    f"{rel} does not exist; to create it, leave the SEARCH section empty and put the whole "
                    "file in the REPLACE section",
                ))
                continue
            else:
                doc = _Doc(target, rel, [], False, exists=False)
            docs[target] = doc
        created = not doc.exists and not doc.changed
        before = (list(doc.lines), doc.final_newline)
        result = _apply_one(doc, edit)
        if isinstance(result, tuple):
            doc.lines, doc.final_newline = before
            outcomes.append(EditFailure(edit, result[0], result[1]))
            continue
        doc.changed = True
        outcomes.append((edit, doc, created, result))
    unwritable: dict[Path, str] = {}
    for doc in docs.values():
        if not doc.changed:
            continue
        try:
            doc.target.parent.mkdir(parents=True, exist_ok=True)
            if doc.exists and doc.encoded() == doc.target.read_bytes():
                continue
            write_atomic(doc.target, doc.encoded())
        except OSError as e:
            unwritable[doc.target] = f"{doc.rel}: cannot be written: {e.strerror or e}"
    for outcome in outcomes:
        if isinstance(outcome, EditFailure):
            report.failed.append(outcome)
            continue
        edit, doc, created, fuzzy = outcome
        if doc.target in unwritable:
            report.failed.append(EditFailure(edit, "refused", unwritable[doc.target]))
        else:
            report.applied.append(Applied(doc.rel, created, fuzzy))
    return report
