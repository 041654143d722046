"""A hostile repository: file names that are not UTF-8, or that hold control characters.

A cloned repository may hold any bytes as names. One such name used to stop ``context``, ``plan`` and ``run``
(the tag cache could not store it) and leave the run interrupted. Now such files are skipped wherever
files are listed, with one note saying how many and showing one name safely escaped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from gitrepo import git, hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.cli.main import main
from moot.context import files as files_mod
from moot.context.cache import TagCache, build_index
from moot.context.files import list_files, safe_name, shown_name
from moot.context.index import RepoFile
from moot.context.planning import planning_context

pytestmark = pytest.mark.hostile

#: Names no model should see: Latin-1 bytes, a bare continuation byte in a folder, and control characters.
BAD = [b"caf\xe9.py", b"d\xff/inner.py", b"line\nbreak.py", b"esc\x1b]0;PWNED\x07.py"]

CONFIG = """
[[models]]
name = "alpha"
model = "scripted/alpha"
timeout_s = 60

[[models]]
name = "beta"
model = "scripted/beta"
timeout_s = 60

[roles]
judge = "alpha"
planner = "alpha"
backend = "alpha"
"""


def write_bad(root: Path) -> None:
    for name in BAD:
        path = os.path.join(os.fsencode(root), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(b"def hidden_thing():\n    return 2\n")


@pytest.fixture(autouse=True)
def fresh_notes() -> None:
    """Each test hears the note about skipped names (a process says it once)."""
    files_mod._noted.clear()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_config) -> Path:
    """A committed repository with two good files and every bad name, the working directory."""
    user_config(CONFIG)
    root = make_repo(tmp_path / "repo", {"good.py": "def hello_world():\n    return 1\n", "x.txt": "no\n"})
    write_bad(root)
    git(root, "add", "-A")
    git(root, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "bad names")
    monkeypatch.chdir(root)
    return root


def no_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_names_are_judged_and_shown_safely() -> None:
    assert safe_name("src/naïve name.py") and safe_name("a/b.py")
    for raw in BAD:
        name = os.fsdecode(raw)
        assert not safe_name(name)
        shown = shown_name(name)
        assert no_surrogates(shown) and shown.isprintable(), shown
    assert shown_name(os.fsdecode(b"caf\xe9.py")) == "caf\\xe9.py"
    assert shown_name("line\nbreak.py") == "line\\nbreak.py"
    assert shown_name("esc\x1b]0;x\x07.py") == "esc\\x1b]0;x\\x07.py"


def test_the_listing_skips_bad_names_and_says_how_many(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="moot.context"):
        listed = list_files(repo)
    assert [f.rel for f in listed] == ["good.py", "x.txt"]
    assert listed.skipped_names == len(BAD)
    assert listed.skipped_example in {shown_name(os.fsdecode(n)) for n in BAD}
    note = caplog.text
    assert f"skipped {len(BAD)} files" in note and no_surrogates(note) and "\x1b" not in note


def test_a_plain_folder_is_walked_without_bad_names(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "ok.py").write_text("x = 1\n")
    write_bad(root)
    listed = list_files(root)
    assert [f.rel for f in listed] == ["ok.py"] and listed.skipped_names == len(BAD)


def test_the_index_builds_and_is_cached(repo: Path, moot_env: Path) -> None:
    index = build_index(repo)
    assert sorted(index.files) == ["good.py", "x.txt"]
    assert index.stats.skipped_names == len(BAD) and index.stats.skipped_example
    again = build_index(repo)
    assert again.stats.parsed == 0 and sorted(again.files) == ["good.py", "x.txt"]
    db = sqlite3.connect(moot_env / "context-cache.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_caller_handing_bad_names_to_the_index_is_safe(repo: Path) -> None:
    """Whoever lists the files, the cache never sees a name it cannot store."""
    bad = os.fsdecode(BAD[0])
    extra = RepoFile(bad, repo / bad, 30, os.stat(repo / bad).st_mtime_ns)
    files = [*list_files(repo), extra]
    index = build_index(repo, files=files)
    assert sorted(index.files) == ["good.py", "x.txt"] and index.stats.skipped_names == 1
    cache = TagCache()
    try:
        cache.invalidate(repo, {bad, "good.py"})  # the watcher's path: a bad name is ignored, not a crash
    finally:
        cache.close()


def test_planning_context_leaves_them_out(repo: Path) -> None:
    result = planning_context(repo, "call hello_world and hidden_thing", 4000)
    assert result is not None
    assert "good.py" in result.text and "hidden_thing" not in result.text and no_surrogates(result.text)


def test_moot_context_works_and_notes_the_skipped(repo: Path, capsys, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="moot.context"):
        assert main(["context", "hello_world hidden_thing", "--budget", "2000", "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert "good.py" in json.dumps(doc) and "caf" not in json.dumps(doc)
    assert "skipped" in caplog.text
    assert main(["context", "hello_world", "--budget", "2000"]) == 0
    out = capsys.readouterr()
    assert "good.py" in out.out and no_surrogates(out.out + out.err) and "\x1b" not in out.out + out.err


def test_a_plan_runs_and_is_done(repo: Path, scripted, capsys) -> None:
    scripted.enqueue("beta", "plan b")
    assert main(["plan", "call hello_world", "--models", "beta", "--json"]) == 0
    prompt = scripted.calls[0][1][-1]["content"]
    assert "good.py" in prompt and "hidden_thing" not in prompt and no_surrogates(prompt)
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["done"]


def test_a_run_carries_out_its_task(repo: Path, scripted, capsys) -> None:
    scripted.enqueue("alpha", "```json\n" + json.dumps({"tasks": [
        {"id": "t1", "title": "make x ok", "role": "backend", "description": "x says ok", "files": ["x.txt"]}]})
        + "\n```")
    scripted.enqueue("alpha", "Done.\n\nx.txt\n<<<<<<< SEARCH\nno\n=======\nok\n>>>>>>> REPLACE\n")
    plan = repo.parent / "plan.md"
    plan.write_text("# Make x ok\n\nChange x.txt so that it says ok.\n")
    code = main(["run", "--plan", str(plan), "--yes", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out)["tasks"][0]["status"] == "done"
    assert main(["history", "--json"]) == 0
    assert "interrupted" not in capsys.readouterr().out


async def test_the_watcher_outlives_bad_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change to a file whose name is not UTF-8 stopped the watcher for good; now it keeps watching."""
    from moot.context.watch import watch_repository

    monkeypatch.delenv("MOOT_NO_WATCH", raising=False)
    root = tmp_path / "plain"
    root.mkdir()
    (root / "a.py").write_text("x = 0\n")
    stop = asyncio.Event()
    seen: set[str] = set()

    def on_change(rels: set[str]) -> None:
        seen.update(rels)
        if "a.py" in rels:
            stop.set()

    async def keep_editing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            if n in (3, 4):  # once the watcher is likely up: only files with bad names, then a good one
                for name in BAD:
                    if b"/" not in name:
                        write_bad_one(root, name, n)
            elif n >= 8:
                (root / "a.py").write_text(f"x = {n}\n")
            await asyncio.sleep(0.1)

    watcher = watch_repository(root, on_change, stop_event=stop, debounce_ms=100)
    await asyncio.wait_for(asyncio.gather(watcher, keep_editing()), timeout=20)
    assert seen == {"a.py"}


async def test_a_folder_named_in_bad_bytes_stops_the_watcher_with_a_note(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from moot.context.watch import watch_repository

    monkeypatch.delenv("MOOT_NO_WATCH", raising=False)
    root = tmp_path / "plain"
    root.mkdir()
    write_bad(root)
    with caplog.at_level(logging.WARNING, logger="moot.context"):
        await asyncio.wait_for(watch_repository(root, lambda rels: None, debounce_ms=50), timeout=10)
    assert "not following changes" in caplog.text


def write_bad_one(root: Path, name: bytes, n: int) -> None:
    path = os.path.join(os.fsencode(root), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(b"x = %d\n" % n)


def test_watched_names_are_filtered() -> None:
    kept = files_mod.safe_names({"pkg/a.py", os.fsdecode(b"caf\xe9.py"), "x\ny.py", "r\u202eyp.exe"})
    assert kept == {"pkg/a.py"}
