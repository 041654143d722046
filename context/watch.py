"""Following a repository while the workbench runs: changed files leave the tag cache and are reported.

:func:`watch_repository` wraps ``watchfiles.awatch`` with the listing's skip rules (``.git``,
``node_modules``, binaries, lock files…) and, where git lists the files, drops paths git ignores (one
``git check-ignore --stdin`` per batch), so build output does not wake the map. Each batch of changes is
removed from the :class:`~moot.context.cache.TagCache` (in a thread, since a build may hold its lock) and
handed to ``on_change`` as relative paths.

Tests switch watchers off: with ``MOOT_NO_WATCH=1`` in the environment the function returns at once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from .cache import TagCache
from .files import SKIP_DIRS, git_lists, skipped_by_path

#: Set to 1 to make :func:`watch_repository` return at once (the test suite does).
NO_WATCH_ENV = "MOOT_NO_WATCH"


def watching_enabled() -> bool:
    """False when ``MOOT_NO_WATCH`` is set to anything but ``""`` or ``0``."""
    return os.environ.get(NO_WATCH_ENV, "") in ("", "0")


async def watch_repository(root: Path, on_change: Callable[[set[str]], None], *, cache: TagCache | None = None,
                           stop_event: asyncio.Event | None = None, debounce_ms: int = 400) -> None:
    """Report changed files under ``root`` until ``stop_event`` is set or the task is cancelled.

    Args:
        root: the repository root.
        on_change: called in the event loop with the changed paths (relative, forward slashes), after they
            were invalidated in ``cache``. Deleted and new files are included.
        cache: the tag cache to invalidate, if any.
        stop_event: set it to stop watching.
        debounce_ms: changes within this window arrive as one batch.
    """
    if not watching_enabled():
        return
    from watchfiles import awatch  # the Rust watcher is only loaded by those who watch

    root = Path(os.path.abspath(root))
    bases = {str(root), os.path.realpath(root)}

    def relative(path: str) -> str | None:
        for base in bases:
            if path.startswith(base + os.sep):
                return path[len(base) + 1:].replace(os.sep, "/")
        return None

    def keep(_change: object, path: str) -> bool:
        rel = relative(path)
        return rel is not None and not skipped_by_path(rel) and rel.rsplit("/", 1)[-1] not in SKIP_DIRS

    git = await asyncio.to_thread(git_lists, root)
    async for changes in awatch(root, watch_filter=keep, debounce=debounce_ms, step=50, stop_event=stop_event,
                                recursive=True):
        rels = {rel for _, path in changes if (rel := relative(path)) is not None}
        if git and rels:
            rels -= await asyncio.to_thread(_ignored, root, rels)
        if not rels:
            continue
        if cache is not None:
            await asyncio.to_thread(cache.invalidate, root, rels)
        on_change(rels)


def _ignored(root: Path, rels: set[str]) -> set[str]:
    """Those of ``rels`` that git ignores (none when git cannot tell)."""
    try:
        out = subprocess.run(["git", "check-ignore", "-z", "--stdin"], cwd=root, capture_output=True,
                             input=b"\0".join(os.fsencode(r) for r in rels), timeout=30)
    except (OSError, subprocess.SubprocessError):
        return set()
    return {os.fsdecode(p) for p in out.stdout.split(b"\0") if p}
