"""The tag cache: a warm build reads nothing, a touched file is a hit by hash, an edit re-parses one file,
a new schema or extractor version starts afresh; and the watcher reports changes and invalidates them."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from test_context_files import git, write

from moot.context import cache as cache_mod
from moot.context.cache import TagCache, build_index
from moot.context.watch import watch_repository

PY = '''"""A module."""


class Shelf:
    """Holds things."""

    def put(self, item: str) -> None:
        store(item)


def store(item: str) -> None:
    print(item)
'''


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with code, markdown, plain text and a binary file that has a harmless name."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root, "pkg/shelf.py", PY)
    write(root, "pkg/other.py", "from pkg.shelf import store\n\nstore('x')\n")
    write(root, "README.md", "# Title\n\n## Usage\n")
    write(root, "notes.txt", "just text\n")
    write(root, "blob.dat", b"\x00\x01binary")
    write(root, "app.js", "var a=1;" * 2000)
    git(root, "add", ".")
    git(root, "commit", "-qm", "init")
    return root


def bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_cold_build_reads_code_text_and_summaries_and_skips_binaries(repo: Path, moot_env: Path) -> None:
    index = build_index(repo)
    assert sorted(index.files) == ["README.md", "notes.txt", "pkg/other.py", "pkg/shelf.py"]
    assert (index.stats.files, index.stats.parsed, index.stats.cached) == (4, 4, 0)
    shelf = index.files["pkg/shelf.py"]
    assert shelf.lang == "python" and shelf.size == len(PY.encode())
    assert [o.name for o in shelf.outline] == ["Shelf", "put", "store"]
    assert {(t.name, t.kind) for t in shelf.tags} >= {("Shelf", "def"), ("store", "def"), ("store", "ref")}
    assert all(t.path == "pkg/shelf.py" for t in shelf.tags)
    readme = index.files["README.md"]
    assert readme.lang is None and [o.name for o in readme.outline] == ["Title", "Usage"]
    assert index.files["notes.txt"].outline == [] and index.files["notes.txt"].tags == []
    assert index.defines()["store"] == {"pkg/shelf.py"}
    db = sqlite3.connect(moot_env / "context-cache.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    skipped = dict(db.execute(f"SELECT rel, skip FROM files_v{cache_mod.SCHEMA_VERSION} WHERE skip IS NOT NULL"))
    assert skipped == {"blob.dat": "binary", "app.js": "minified"}


def test_a_warm_build_parses_nothing_and_gives_the_same_index(repo: Path) -> None:
    first = build_index(repo)
    with_disk = build_index(repo)  # a new cache object: rows come from SQLite
    assert (with_disk.stats.parsed, with_disk.stats.cached) == (0, 4)
    assert with_disk.files == first.files
    cache = TagCache()
    build_index(repo, cache=cache)
    in_memory = build_index(repo, cache=cache)
    assert (in_memory.stats.parsed, in_memory.stats.cached) == (0, 4)
    assert in_memory.files == first.files
    cache.close()


def test_a_warm_build_opens_no_file(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_index(repo)
    monkeypatch.setattr(cache_mod, "read_file", lambda job, encode=False: pytest.fail(f"read {job[1]}"))
    assert build_index(repo).stats.parsed == 0


def test_a_touched_but_unchanged_file_is_a_hit_by_hash(repo: Path) -> None:
    cache = TagCache()
    build_index(repo, cache=cache)
    path = repo / "pkg" / "shelf.py"
    bump_mtime(path)
    index = build_index(repo, cache=cache)
    assert (index.stats.parsed, index.stats.cached) == (0, 4)
    row = cache.rows(os.path.realpath(repo), ["pkg/shelf.py"])["pkg/shelf.py"]
    assert row[1] == path.stat().st_mtime_ns  # the new mtime is stored: the next build will not hash it
    cache.close()


def test_an_edited_file_is_the_only_one_parsed_again(repo: Path) -> None:
    cache = TagCache()
    build_index(repo, cache=cache)
    write(repo, "pkg/other.py", "def fresh() -> int:\n    return 1\n")
    bump_mtime(repo / "pkg" / "other.py")
    index = build_index(repo, cache=cache)
    assert (index.stats.parsed, index.stats.cached) == (1, 3)
    assert [o.name for o in index.files["pkg/other.py"].outline] == ["fresh"]
    cache.close()
    again = build_index(repo)  # and SQLite holds the new version
    assert again.stats.parsed == 0
    assert [o.name for o in again.files["pkg/other.py"].outline] == ["fresh"]


def test_deleted_and_new_files_follow_the_repository(repo: Path) -> None:
    build_index(repo)
    (repo / "notes.txt").unlink()
    write(repo, "pkg/extra.py", "def extra(): pass\n")
    index = build_index(repo)
    assert "notes.txt" not in index.files and "pkg/extra.py" in index.files
    assert index.stats.parsed == 1
    cache = TagCache()
    assert "notes.txt" not in cache.rows(os.path.realpath(repo))  # a full rebuild drops rows of gone files
    cache.close()


def test_a_schema_version_bump_starts_a_fresh_cache(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                   moot_env: Path) -> None:
    build_index(repo)
    monkeypatch.setattr(cache_mod, "SCHEMA_VERSION", cache_mod.SCHEMA_VERSION + 1)
    assert build_index(repo).stats.parsed == 4
    tables = {r[0] for r in sqlite3.connect(moot_env / "context-cache.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"meta", f"files_v{cache_mod.SCHEMA_VERSION}"}


def test_a_changed_tag_query_starts_a_fresh_cache(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_index(repo)
    assert build_index(repo).stats.parsed == 0
    monkeypatch.setattr(cache_mod, "extractor_version", lambda: "queries-edited")
    assert build_index(repo).stats.parsed == 4


def test_invalidate_forces_a_parse(repo: Path) -> None:
    cache = TagCache()
    build_index(repo, cache=cache)
    cache.invalidate(repo, {"pkg/shelf.py"})
    assert build_index(repo, cache=cache).stats.parsed == 1
    cache.invalidate(repo, ["README.md"])
    cache.close()
    assert build_index(repo).stats.parsed == 1  # gone from SQLite too


def test_worker_processes_give_the_same_index(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serial = build_index(repo, workers=1)
    monkeypatch.setattr(cache_mod, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(cache_mod, "extractor_version", lambda: "fresh")  # so everything is parsed again
    parallel = build_index(repo, workers=2)
    assert parallel.stats.parsed == 4
    assert parallel.files == serial.files


async def test_the_watcher_reports_and_invalidates_changed_files(repo: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOOT_NO_WATCH", raising=False)
    write(repo, ".gitignore", "*.log\n")
    cache = TagCache()
    build_index(repo, cache=cache)
    seen: list[set[str]] = []
    stop = asyncio.Event()

    def on_change(rels: set[str]) -> None:
        seen.append(rels)
        if "pkg/shelf.py" in rels:
            stop.set()

    async def keep_editing() -> None:
        n = 0
        while not stop.is_set():  # until the watcher is up and has seen an edit
            n += 1
            write(repo, "node_modules/dep.js", f"var n = {n};\n")
            write(repo, "debug.log", f"{n}\n")
            write(repo, "pkg/shelf.py", PY + f"\n# edit {n}\n")
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch_repository(repo, on_change, cache=cache, stop_event=stop,
                                                   debounce_ms=100))
    await asyncio.wait_for(asyncio.gather(watcher, keep_editing()), timeout=15)
    assert set().union(*seen) == {"pkg/shelf.py"}
    assert (os.path.realpath(repo), "pkg/shelf.py") not in cache.memo
    cache.close()


async def test_watchers_can_be_switched_off(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_NO_WATCH", "1")
    await asyncio.wait_for(watch_repository(repo, lambda rels: pytest.fail("called")), timeout=2)


def test_indexing_a_few_files_keeps_the_rows_of_the_others(repo: Path) -> None:
    from moot.context.files import list_files

    build_index(repo)
    some = [f for f in list_files(repo) if f.rel == "README.md"]
    assert sorted(build_index(repo, files=some).files) == ["README.md"]
    assert build_index(repo).stats.parsed == 0


async def test_the_watcher_works_outside_git_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOOT_NO_WATCH", raising=False)
    root = tmp_path / "plain"
    write(root, "a.py")
    stop = asyncio.Event()
    seen: set[str] = set()

    def on_change(rels: set[str]) -> None:
        seen.update(rels)
        stop.set()

    async def keep_editing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            write(root, "a.py", f"x = {n}\n")
            await asyncio.sleep(0.1)

    watcher = watch_repository(root, on_change, stop_event=stop, debounce_ms=100)
    await asyncio.wait_for(asyncio.gather(watcher, keep_editing()), timeout=15)
    assert seen == {"a.py"}
