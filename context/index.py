"""The shared shapes of the context manager: a repository's files, what was read from each, and the index.

``files.list_files`` finds ``RepoFile``s; ``cache.build_index`` turns them into a ``RepoIndex`` of
``FileInfo`` (tags, outline or summary), reusing cached work; ``rank`` and ``scope`` read the index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from .outline import OutlineItem
from .tags import Tag

T = TypeVar("T")


@dataclass(frozen=True)
class RepoFile:
    """A file moot may show to a model."""

    rel: str
    """Path relative to the repository root, with forward slashes."""
    path: Path
    """Absolute path."""
    size: int
    mtime_ns: int


class Listing(list[RepoFile]):
    """The files ``files.list_files`` found, and how many it skipped for their names alone."""

    skipped_names: int = 0
    """Files whose names are not UTF-8 or hold control characters (see ``files.safe_name``)."""
    skipped_example: str = ""
    """One of them, escaped so it prints safely (``files.shown_name``)."""


@dataclass
class FileInfo:
    """What was read from one file."""

    rel: str
    lang: str | None
    """The tree-sitter language, or None for text files that are summarised (or not understood)."""
    tags: list[Tag] = field(default_factory=list)
    outline: list[OutlineItem] = field(default_factory=list)
    """Classes/functions/methods for code; headings/keys for markdown, yaml, toml, json."""
    size: int = 0


@dataclass
class IndexStats:
    files: int = 0
    parsed: int = 0
    """Files read and parsed this time."""
    cached: int = 0
    """Files whose tags came from the cache."""
    seconds: float = 0.0
    skipped_names: int = 0
    """Files left out for their names: not UTF-8, or holding control characters."""
    skipped_example: str = ""
    """One such name, escaped so it prints safely."""


@dataclass
class RepoIndex:
    """Everything known about a repository's files, keyed by relative path."""

    root: Path
    files: dict[str, FileInfo] = field(default_factory=dict)
    stats: IndexStats = field(default_factory=IndexStats)
    memo: dict[str, tuple[Any, Any]] = field(default_factory=dict, repr=False, compare=False)
    """What ``derived`` worked out from the files, with the files' fingerprint it was worked out for."""

    def derived(self, name: str, build: Callable[[RepoIndex], T]) -> T:
        """``build(self)``, kept until a file is added, removed or read again (the ranking's graph, the lexical
        index: the same for every task, so a warm query does not rebuild them)."""
        key = tuple((rel, id(info), id(info.tags), info.size) for rel, info in self.files.items())
        kept = self.memo.get(name)
        if kept is not None and kept[0] == key:
            return cast(T, kept[1])
        value = build(self)
        self.memo[name] = (key, value)
        return value

    def defines(self) -> dict[str, set[str]]:
        """Identifier -> the files that define it (kept: see ``derived``; do not change what it returns)."""
        return self.derived("defines", _defines)


def _defines(index: RepoIndex) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for info in index.files.values():
        for t in info.tags:
            if t.kind == "def":
                out.setdefault(t.name, set()).add(info.rel)
    return out
