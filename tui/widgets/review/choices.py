"""The user's decisions on a run's diff: each hunk accepted, rejected or not decided yet.

A file whose changes cannot be split (added, deleted, binary, or a rename without changed lines) is decided
whole: it has one decision, whatever its hunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from moot.agents.hunks import FileDiff

Mark = bool | None
"""True accepted, False rejected, None not decided."""

#: A file's mark in the file list.
FILE_ICONS = {"accepted": "✓", "rejected": "✗", "partial": "◐", "undecided": "·"}


@dataclass
class FileChoice:
    diff: FileDiff
    marks: list[Mark] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.marks:
            self.marks = [None] * self.units

    @property
    def whole(self) -> bool:
        """Only the whole file can be chosen."""
        d = self.diff
        return d.binary or d.status in ("added", "deleted") or not d.hunks

    @property
    def units(self) -> int:
        """How many decisions the file takes: one per hunk, or one for the whole file."""
        return 1 if self.whole else len(self.diff.hunks)

    def mark_of(self, hunk: int) -> Mark:
        return self.marks[0 if self.whole else hunk]

    @property
    def state(self) -> str:
        """accepted, rejected, undecided, or partial (anything mixed)."""
        if all(m is True for m in self.marks):
            return "accepted"
        if all(m is False for m in self.marks):
            return "rejected"
        if all(m is None for m in self.marks):
            return "undecided"
        return "partial"


class Choices:
    """Decisions over every file of a diff, in diff order."""

    def __init__(self, files: Sequence[FileDiff]) -> None:
        self.files = [FileChoice(f) for f in files]
        self._by_path = {c.diff.path: c for c in self.files}

    def __getitem__(self, path: str) -> FileChoice:
        return self._by_path[path]

    def set_hunk(self, path: str, hunk: int, mark: Mark) -> None:
        choice = self._by_path[path]
        if choice.whole:
            choice.marks = [mark]
        else:
            choice.marks[hunk] = mark

    def set_file(self, path: str, mark: Mark) -> None:
        choice = self._by_path[path]
        choice.marks = [mark] * choice.units

    def set_all(self, mark: Mark) -> None:
        for choice in self.files:
            choice.marks = [mark] * choice.units

    def selection(self) -> dict[str, set[int] | None]:
        """What to land, for :func:`moot.agents.accept.accept`: every file with an accepted hunk, mapped to its
        accepted hunks (None for the whole file)."""
        out: dict[str, set[int] | None] = {}
        for c in self.files:
            accepted = {i for i, m in enumerate(c.marks) if m is True}
            if not accepted:
                continue
            out[c.diff.path] = None if c.whole or len(accepted) == c.units else accepted
        return out

    def counts(self) -> tuple[int, int, int]:
        """(accepted, rejected, all) decisions over the whole diff."""
        marks = [m for c in self.files for m in c.marks]
        return sum(m is True for m in marks), sum(m is False for m in marks), len(marks)

    def accepted_files(self) -> list[str]:
        return list(self.selection())
