"""Following a repository while the workbench runs: changed files leave the tag cache and are reported.

:func:`watch_repository` wraps ``watchfiles.awatch`` with the listing's skip rules (``.git``,
``node_modules``, binaries, lock files…) and, where git lists the files, drops paths git ignores (one
``git check-ignore --stdin`` per batch), so build output does not wake the map. Each batch of changes is
removed from the :class:`~moot.context.cache.TagCache` (in a thread, since a build may hold its lock) and
handed to ``on_change`` as relative paths. Names the listing skips (not UTF-8, control characters) are not
reported; a change to a file whose name is not UTF-8 makes the watcher drop that batch, and watching resumes;
a folder so named stops it (with a warning), since it cannot start.

Tests switch watchers off: with ``MOOT_NO_WATCH=1`` in the environment the function returns at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from .cache import TagCache
from .files import SKIP_DIRS, git_lists, safe_names, shown_name, skipped_by_path

log = logging.getLogger(__name__)

#: Set to 1 to make :func:`watch_repository` return at once (the test suite does).
NO_WATCH_ENV = "MOOT_NO_WATCH"
#: Decode failures in a row (no batch between them) after which watching stops: a folder named in bytes that
#: are not UTF-8 makes every start fail.
MAX_DECODE_FAILURES = 3


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
    failures = 0  # decode failures in a row, with no batch delivered between them
    while True:
        try:
            async for changes in awatch(root, watch_filter=keep, debounce=debounce_ms, step=50,
                                        stop_event=stop_event, recursive=True):
                failures = 0
                rels = safe_names(rel for _, path in changes if (rel := relative(path)) is not None)
                if git and rels:
                    rels -= await asyncio.to_thread(_ignored, root, rels)
                if not rels:
                    continue
                if cache is not None:
                    await asyncio.to_thread(cache.invalidate, root, rels)
                on_change(rels)
            return
        except Exception as exc:
            if not _undecodable(exc):
                raise
            # A path that is not UTF-8: the watcher drops the whole batch (a changed file) or cannot start (a
            # folder). The listing skips such files anyway, so watch on; builds still compare sizes and mtimes.
            failures += 1
            if failures >= MAX_DECODE_FAILURES:
                log.warning("moot: not following changes under %s: a folder name there is not UTF-8",
                            shown_name(str(root)))
                return
            if stop_event is not None and stop_event.is_set():
                return
            await asyncio.sleep(debounce_ms / 1000)


def _undecodable(exc: BaseException) -> bool:
    """Whether ``exc`` (or, in a group, every exception in it) is the watcher failing to decode a path."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_undecodable(e) for e in exc.exceptions)
    return type(exc).__name__ == "WatchfilesRustInternalError" and "decode path" in str(exc)


def _ignored(root: Path, rels: set[str]) -> set[str]:
    """Those of ``rels`` that git ignores (none when git cannot tell)."""
    try:
        out = subprocess.run(["git", "check-ignore", "-z", "--stdin"], cwd=root, capture_output=True,
                             input=b"\0".join(os.fsencode(r) for r in rels), timeout=30)
    except (OSError, subprocess.SubprocessError):
        return set()
    return {os.fsdecode(p) for p in out.stdout.split(b"\0") if p}
