"""The tag cache and the index builder: parse each file once, then only what changed.

Rows live in ``data_dir() / "context-cache.db"`` (SQLite, WAL), one per (root, rel): size, mtime and blake2b
hash of the bytes read, and the :class:`FileInfo` as a marshal blob of plain tuples (far faster to load than
pickled dataclasses). The table is named after :data:`SCHEMA_VERSION` and a meta row holds
:func:`extractor_version`, so a new shape or an edited ``.scm`` query starts a fresh cache. A row whose size
and mtime match is trusted without opening the file; if only the mtime moved, an equal hash is still a hit.
Decoded FileInfos stay in memory too. Binary and minified files are found in the bytes read for parsing and
cached as skipped rows. Large cold builds parse in ``spawn`` worker processes: threads gain nothing (query
matching and outlines hold the GIL); two processes took the standard library from 16.6 s to 9.8 s.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import marshal
import os
import sqlite3
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path

from moot.context import encoding
from moot.context.encoding import as_utf8

from . import files as files_mod
from . import outline as outline_mod
from . import summaries, tags
from .index import FileInfo, IndexStats, RepoFile, RepoIndex
from .languages import GRAMMARS, language_for_path, query_source

#: Bump when the stored shape changes; the table is named after it, so a bump starts a fresh cache.
SCHEMA_VERSION = 1
#: Parse in worker processes from this many bytes on (measured: 1 MB took 0.40 s here, 0.30 s in two workers).
PARALLEL_MIN_BYTES = 1_000_000

#: A stored file: size, mtime_ns, hash, skip reason (``binary``, ``minified``) and payload.
Row = tuple[int, int, bytes, str | None, bytes | None]
#: A file to read: absolute path, rel, and the hash of the cached bytes (to spot an unchanged file).
Job = tuple[str, str, bytes | None]
#: rel, size, mtime, hash, and a FileInfo (a payload, from a worker), a skip reason or None (bytes as cached).
Read = tuple[str, int, int, bytes, FileInfo | bytes | str | None]


def extractor_version() -> str:
    """A hash of everything that decides what a row holds: the queries and the code that runs them."""
    h = hashlib.blake2b(f"{SCHEMA_VERSION}:{sys.version_info[:2]}:{marshal.version}".encode(), digest_size=12)
    h.update("".join(query_source(lang) for lang in sorted(GRAMMARS)).encode())
    for module in (tags, outline_mod, summaries, files_mod, encoding):
        h.update(Path(module.__file__ or "").read_bytes())
    return h.hexdigest()


def root_key(root: Path | str) -> str:
    """The key of a repository's rows: its real path, or (a folder whose path is not UTF-8, which SQLite cannot
    store as text) that path's bytes in hex."""
    real = os.path.realpath(root)
    return real if files_mod.safe_name(real) else "bytes:" + os.fsencode(real).hex()


class TagCache:
    """Cached FileInfo per (root, rel) in SQLite, plus the decoded ones in memory. Shareable between
    threads: a lock serialises users and a build holds it throughout (so invalidate from a thread)."""

    def __init__(self, path: Path | None = None):
        from moot.core.config.loader import data_dir  # here, so worker processes need not import pydantic
        from moot.core.storage.db import use_wal

        self.path = path or data_dir() / "context-cache.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.table = f"files_v{SCHEMA_VERSION}"
        self.lock = threading.Lock()
        self.memo: dict[tuple[str, str], tuple[int, int, FileInfo | None]] = {}
        """(root, rel) → (size, mtime_ns, info or None when skipped), for rebuilds in this process."""
        self._db = db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        use_wal(db)  # several processes may open a brand-new cache at once
        db.execute("PRAGMA synchronous=NORMAL")
        for (old,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'files_v%'"
                                 " AND name != ?", (self.table,)).fetchall():
            db.execute(f"DROP TABLE IF EXISTS {old}")  # another schema version: its rows mean nothing now
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (root TEXT NOT NULL, rel TEXT NOT NULL, size"
                   " INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash BLOB NOT NULL, skip TEXT, payload BLOB,"
                   " PRIMARY KEY (root, rel))")
        version = extractor_version()
        row = db.execute("SELECT value FROM meta WHERE key = ?", (self.table,)).fetchone()
        if row is None or row[0] != version:
            with db:
                db.execute(f"DELETE FROM {self.table}")
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (self.table, version))

    def rows(self, root: str, rels: list[str] | None = None) -> dict[str, Row]:
        """Stored rows of ``root`` (a real path): all of them, or those of ``rels``."""
        sql = f"SELECT rel, size, mtime_ns, hash, skip, payload FROM {self.table} WHERE root = ?"
        if rels is None:
            return {r[0]: r[1:] for r in self._db.execute(sql, (root,))}
        found = (self._db.execute(sql + " AND rel = ?", (root, rel)).fetchone() for rel in rels)
        return {r[0]: r[1:] for r in found if r is not None}

    def write(self, root: str, rows: dict[str, Row], touched: dict[str, int], gone: list[str]) -> None:
        """Store new rows, moved mtimes and forgotten files of ``root`` in one transaction."""
        with self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [(root, rel, *row) for rel, row in rows.items()])
            self._db.executemany(f"UPDATE {self.table} SET mtime_ns = ? WHERE root = ? AND rel = ?",
                                 [(mtime, root, rel) for rel, mtime in touched.items()])
            self._db.executemany(f"DELETE FROM {self.table} WHERE root = ? AND rel = ?",
                                 [(root, rel) for rel in gone])

    def invalidate(self, root: Path | str, rels: set[str] | list[str]) -> None:
        """Forget ``rels`` of ``root`` so the next build reads them again."""
        key = root_key(root)
        rels = files_mod.safe_names(rels)  # a name the listing skips was never stored (and cannot be)
        with self.lock:
            for rel in rels:
                self.memo.pop((key, rel), None)
            self.write(key, {}, {}, list(rels))

    def close(self) -> None:
        """Close the database; the cache is unusable afterwards."""
        with self.lock:
            self._db.close()


def build_index(root: Path, *, files: list[RepoFile] | None = None, cache: TagCache | None = None,
                workers: int | None = None) -> RepoIndex:
    """Tags and outlines of every file of ``root``, from the cache wherever the file has not changed.

    Args:
        root: the repository root.
        files: the files to index; by default ``list_files(root, sniff=False)`` (binary and minified files
            are then dropped here, judged from the bytes read for parsing).
        cache: the cache to use; by default one is opened on ``data_dir()`` for this call.
        workers: worker processes for a large cold build; None: one per CPU (at most 8); 1: none.
    """
    start = time.perf_counter()
    root = Path(os.path.abspath(root))
    listed = files_mod.list_files(root, sniff=False) if files is None else files
    skipped = getattr(listed, "skipped_names", 0)
    example = getattr(listed, "skipped_example", "")
    bad = [f.rel for f in listed if not files_mod.safe_name(f.rel)]
    if bad:  # a caller listed files itself: such names cannot be stored, sent or printed
        skipped, example = skipped + len(bad), example or files_mod.shown_name(bad[0])
        files_mod.note_skipped(str(root), skipped, example)
        listed = [f for f in listed if files_mod.safe_name(f.rel)]
    own, cache = cache is None, cache or TagCache()
    try:
        with cache.lock:
            index = _build(root, listed, cache, workers, prune=files is None)
    finally:
        if own:
            cache.close()
    index.stats.skipped_names, index.stats.skipped_example = skipped, example
    index.stats.seconds = time.perf_counter() - start
    return index


def _build(root: Path, listed: list[RepoFile], cache: TagCache, workers: int | None, prune: bool) -> RepoIndex:
    key, stats = root_key(root), IndexStats()
    infos: dict[str, FileInfo | None] = {}
    missing = []
    for f in listed:
        memo = cache.memo.get((key, f.rel))
        if memo is not None and memo[:2] == (f.size, f.mtime_ns):
            infos[f.rel] = memo[2]
        else:
            missing.append(f)
    everything = len(missing) == len(listed)  # all rows are read: drop those of files that are gone
    rows = cache.rows(key, None if everything else [f.rel for f in missing]) if missing else {}
    gone = list(rows.keys() - {f.rel for f in listed}) if everything and prune else []
    reads: list[Read] = []
    jobs: list[Job] = []
    to_read = 0
    for f in missing:
        row = rows.get(f.rel)
        if row is not None and row[:2] == (f.size, f.mtime_ns):
            reads.append((f.rel, f.size, f.mtime_ns, row[2], None))
        else:
            jobs.append((str(f.path), f.rel, row[2] if row is not None and row[0] == f.size else None))
            to_read += f.size
    reads += _read_all(jobs, to_read, workers)
    new: dict[str, Row] = {}
    touched: dict[str, int] = {}
    gc_was_on = gc.isenabled()
    gc.disable()  # decoding makes ~200 objects a file and no cycles: collecting them cost 1/3 of a warm start
    try:
        for rel, size, mtime, digest, outcome in reads:
            if outcome is None:  # the cached bytes: unchanged, or only the mtime moved
                infos[rel] = _decode(rel, rows[rel])
                if mtime != rows[rel][1]:
                    touched[rel] = mtime
            elif isinstance(outcome, str):
                new[rel] = (size, mtime, digest, outcome, None)
                infos[rel] = None
            else:
                stats.parsed += 1
                payload = outcome if isinstance(outcome, bytes) else _encode(outcome)
                new[rel] = (size, mtime, digest, None, payload)
                infos[rel] = outcome if isinstance(outcome, FileInfo) else _decode(rel, new[rel])
            cache.memo[(key, rel)] = (size, mtime, infos[rel])
    finally:
        if gc_was_on:
            gc.enable()
    if new or touched or gone:
        cache.write(key, new, touched, gone)
    index = RepoIndex(root=root, stats=stats)
    index.files = {f.rel: info for f in listed if (info := infos.get(f.rel)) is not None}
    stats.files = len(index.files)
    stats.cached = stats.files - stats.parsed
    return index


def _encode(info: FileInfo) -> bytes:
    return marshal.dumps((info.lang, [(t.name, t.kind, t.category, t.line) for t in info.tags],
                          [(o.kind, o.name, o.signature, o.line, o.end_line, o.doc, o.depth)
                           for o in info.outline]))


def _decode(rel: str, row: Row) -> FileInfo | None:
    size, _, _, skip, payload = row
    if skip is not None or payload is None:
        return None
    lang, tag_rows, items = marshal.loads(payload)
    found = [tags.Tag(rel, n, k, c, line) for n, k, c, line in tag_rows]
    return FileInfo(rel, lang, found, [outline_mod.OutlineItem(*o) for o in items], size)


def read_file(job: Job, encode: bool = False) -> Read:
    """Read one file and, unless its bytes are the cached ones, sniff and parse it (``encode``: as a payload)."""
    path, rel, known = job
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())  # before reading: a write after it shows up as a newer mtime
            data = fh.read()
    except OSError:
        return rel, 0, 0, b"", "unreadable"
    digest = hashlib.blake2b(data, digest_size=16).digest()
    if digest == known:
        return rel, st.st_size, st.st_mtime_ns, digest, None
    outcome = files_mod.sniff_head(data) or parse(rel, as_utf8(data))
    payload = _encode(outcome) if encode and isinstance(outcome, FileInfo) else outcome
    return rel, st.st_size, st.st_mtime_ns, digest, payload


def parse(rel: str, data: bytes) -> FileInfo:
    """Tags and outline of code, headings or keys of markdown/YAML/TOML/JSON, nothing for other text."""
    lang = language_for_path(rel)
    if lang is None:
        return FileInfo(rel, None, [], summaries.summarise(rel, data) or [], len(data))
    captures = tags.safe_scan(data, lang)  # one parse and one query run serve both tags and outline
    return FileInfo(rel, lang, tags.tags_from(rel, data, captures), outline_mod.outline_from(data, lang, captures),
                    len(data))


def _read_all(jobs: list[Job], total: int, workers: int | None) -> list[Read]:
    """Read every job, in worker processes when there is enough to parse to pay for starting them."""
    workers = min(workers or min(os.cpu_count() or 1, 8), len(jobs))  # 8: each worker holds ~50 MB
    if workers > 1 and total >= PARALLEL_MIN_BYTES:
        try:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                chunk = max(1, len(jobs) // (workers * 8))
                return list(pool.map(partial(read_file, encode=True), jobs, chunksize=chunk))
        except Exception as exc:  # no processes here (a sandbox, a broken pool): parse in this process
            logging.getLogger(__name__).warning("parsing in worker processes failed (%s); parsing here instead", exc)
    return [read_file(job) for job in jobs]
