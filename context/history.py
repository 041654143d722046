"""The repository's own history as ranking signals: the files that changed together with the files a task points
at, and the files changed lately.

    history = read_history(root)                     # one ``git log``, kept per HEAD; None outside git
    history.cochange({"src/app.py": 1.0})            # {"tests/test_app.py": 0.8, ...}
    history.recency()                                # {"src/app.py": 1.6, ...}

Only commits reachable from HEAD count (a checkout of an old commit sees nothing of its future), merges are left
out, and so are commits touching more than ``WIDE_COMMIT`` files (a reformat or a move says little about what
belongs together).
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: How many of the latest commits are read.
COMMITS = 400
#: Commits that touch more files than this are left out.
WIDE_COMMIT = 25
#: A commit this many commits back counts half as much toward recency.
HALF_LIFE = 60
#: How long ``git log`` may take before the signal is given up (seconds).
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class History:
    commits: tuple[tuple[str, ...], ...]
    """The files each commit changed, newest first."""

    def cochange(self, seeds: Mapping[str, float]) -> dict[str, float]:
        """Each file's share of the commits it made with the ``seeds`` (weighted by the seeds' weights and split
        among a commit's other files); the seeds themselves are left out."""
        out: dict[str, float] = {}
        for files in self.commits:
            weight = sum(seeds.get(f, 0.0) for f in files)
            others = [f for f in files if f not in seeds]
            if weight <= 0 or not others:
                continue
            share = weight / len(others)
            for f in others:
                out[f] = out.get(f, 0.0) + share
        return out

    def recency(self) -> dict[str, float]:
        """How lately and how often each file changed: each commit that touched it counts ``0.5 ** (age /
        HALF_LIFE)``, its age counted in commits."""
        out: dict[str, float] = {}
        for age, files in enumerate(self.commits):
            weight = 0.5 ** (age / HALF_LIFE)
            for f in files:
                out[f] = out.get(f, 0.0) + weight
        return out


_cache: dict[tuple[str, str], History] = {}
_lock = threading.Lock()


def _git(root: Path, *args: str) -> str | None:
    """git's output, its file names as ``os.fsdecode`` reads them (as the file list does: a name that is not
    UTF-8 keeps its bytes, and matches no listed file since such names are left out)."""
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=TIMEOUT_S,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return os.fsdecode(out.stdout) if out.returncode == 0 else None


def read_history(root: Path, commits: int = COMMITS) -> History | None:
    """The latest ``commits`` commits of the repository at ``root`` (kept per HEAD, so a new commit reads it
    again); None when it is no git repository or has no commits."""
    head = _git(root, "rev-parse", "HEAD")
    if not head:
        return None
    key = (str(Path(root).resolve()), head.strip())
    with _lock:
        if key in _cache:
            return _cache[key]
    text = _git(root, "-c", "core.quotePath=false", "log", "--no-merges", "--no-renames", f"--max-count={commits}",
                "--name-only", "--format=%x00", "HEAD")
    if text is None:
        return None
    found = []
    for block in text.split("\x00")[1:]:
        files = tuple(dict.fromkeys(line for line in block.splitlines() if line.strip()))
        if 0 < len(files) <= WIDE_COMMIT:
            found.append(files)
    history = History(tuple(found))
    with _lock:
        if len(_cache) > 16:
            _cache.clear()
        _cache[key] = history
    return history
