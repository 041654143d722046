"""What a model is told when its edits did not apply: for each failed edit, why, and the lines of the file
closest to its SEARCH text, so its next try can copy them exactly."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from .edits import ApplyReport, _Doc, _split, _windows
from .safety import UnsafePath, check_path


def closest_lines(lines: Sequence[str], search: Sequence[str]) -> tuple[int, float]:
    """The start of the window of ``len(search)`` lines most similar to ``search``, and its similarity (0–1).

    Args:
        lines: the file's lines.
        search: the SEARCH lines that did not match.

    Returns:
        (index of the window's first line, ratio); (0, 0.0) for an empty file.
    """
    n = max(1, len(search))
    if not lines:
        return 0, 0.0
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2("\n".join(search))
    best, best_ratio = 0, -1.0
    for i in range(max(1, len(lines) - n + 1)):
        matcher.set_seq1("\n".join(lines[i:i + n]))
        if matcher.real_quick_ratio() <= best_ratio or matcher.quick_ratio() <= best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = i, ratio
    return best, max(best_ratio, 0.0)


def _file_lines(root: Path, path: str) -> list[str] | None:
    try:
        target = check_path(root, path)
        if not target.is_file():
            return None
        return _Doc.read(target, path).lines
    except (UnsafePath, OSError, UnicodeDecodeError):
        return None


def failure_feedback(report: ApplyReport, root: Path) -> str:
    """A message for the model about the edits that failed, so it can send corrected blocks.

    For a SEARCH that matched nothing, the most similar lines of the file as it is now are quoted.

    Args:
        report: what :func:`apply_edits` returned.
        root: the repository root the edits were applied under.

    Returns:
        The message; empty when nothing failed.
    """
    if not report.failed:
        return ""
    n = len(report.failed)
    parts = [f"{n} of your SEARCH/REPLACE blocks failed and {'was' if n == 1 else 'were'} not applied."]
    for f in report.failed:
        parts.append(f"## {f.edit.path}: {f.kind}\n{f.message}.")
        if f.kind != "no_match" or not f.edit.search.strip():
            continue
        lines = _file_lines(root, f.edit.path)
        if not lines:
            continue
        search, _ = _split(f.edit.search)
        replace, _ = _split(f.edit.replace)
        if replace and _windows(lines, replace, lambda a, b: a.rstrip() == b.rstrip()):
            parts.append(f"The REPLACE lines are already in {f.edit.path}: this edit may already be made.")
        start, ratio = closest_lines(lines, search)
        if ratio >= 0.3:
            window = "\n".join(lines[start:start + len(search)])
            parts.append(
                f"Did you mean these lines of {f.edit.path} (lines {start + 1}-{start + len(search)})?\n"
                f"```\n{window}\n```"
            )
    if report.applied:
        done = ", ".join(dict.fromkeys(a.path for a in report.applied))
        parts.append(f"The other blocks were applied ({done}); do not send them again.")
    parts.append(
        "Send corrected blocks for the failed edits only. The SEARCH section must match the file's current "
        "lines exactly, character for character, including whitespace, comments and blank lines."
    )
    return "\n\n".join(parts)
