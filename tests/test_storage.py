"""The SQLite store: WAL, numbered migrations, run and call rows, and keys never written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import sql
from moot.core.calls import CallContext, run_call
from moot.core.config import ModelConfig
from moot.core.providers.base import Params
from moot.core.storage import CallRecord, Store, redact, register_secret_env
from moot.core.storage.migrations import CORE, Schema, migrate


def test_database_lives_under_moot_home_in_wal_mode(moot_env: Path) -> None:
    with Store() as store:
        assert store.path == moot_env / "moot.db"
        assert sql(store, "PRAGMA journal_mode")[0][0] == "wal"


def test_migrations_are_recorded_in_order_and_run_once(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    assert migrate(db) == [name for name, _ in CORE.migrations]
    assert migrate(db) == []
    rows = db.execute("SELECT id, name FROM _migrations ORDER BY id").fetchall()
    assert rows == [(i + 1, name) for i, (name, _) in enumerate(CORE.migrations)]


def test_failed_migration_leaves_nothing_half_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = Schema("tests", ("t",), (("t001_broken", "CREATE TABLE t (x); CREATE TABLE t (y);"),))
    db = sqlite3.connect(tmp_path / "y.db", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, broken)
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchall() == []
    assert db.execute("SELECT count(*) FROM _migrations").fetchone()[0] == 0


def test_runs_newest_first_searchable_and_by_prefix() -> None:
    with Store() as store:
        store.start_run("20260101-000000-aaaa", "plan", "add a flag", "diverse", "/p")
        store.start_run("20260102-000000-bbbb", "plan", "fix 100% of_the bugs", "diverse", "/p")
        assert [r["id"] for r in store.runs()] == ["20260102-000000-bbbb", "20260101-000000-aaaa"]
        assert [r["id"] for r in store.runs(search="100%")] == ["20260102-000000-bbbb"]
        assert store.runs(search="of_t")[0]["task"].startswith("fix")
        assert store.runs(search="zzz") == []
        assert store.run("20260101")["id"] == "20260101-000000-aaaa"  # type: ignore[index]
        assert store.run("2026") is None  # ambiguous prefix
        store.finish_run("20260101-000000-aaaa", "done", {"ok": True})
        assert store.mark_interrupted() == 1
        assert store.run("20260102-000000-bbbb")["status"] == "interrupted"  # type: ignore[index]


def test_a_run_another_live_process_carries_out_is_not_interrupted() -> None:
    import subprocess

    other = subprocess.Popen(["sleep", "30"])
    try:
        with Store() as store:
            for run_id in ("live", "dead", "ours"):
                store.start_run(run_id, "plan", "a task", None, None)
            sql(store, "UPDATE runs SET pid = ? WHERE id = 'live'", (other.pid,))
            sql(store, "UPDATE runs SET pid = ? WHERE id = 'dead'", (2**22 + 7,))  # above any pid in use
            assert store.mark_interrupted() == 2  # 'ours' was left by an earlier process with this pid
            assert [store.run(r)["status"] for r in ("live", "dead", "ours")] == [  # type: ignore[index]
                "running", "interrupted", "interrupted"]
    finally:
        other.kill()
        other.wait()


def test_keys_are_redacted_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-live-abcdefghijklmnopqrstuvwxyz0123"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("MY_CUSTOM_VAR", "custom-secret-value-42")
    register_secret_env("MY_CUSTOM_VAR")
    with Store() as store:
        store.start_run("r1", "plan", f"task mentioning {key}", None, None)
        store.log_call(CallRecord(
            run_id="r1", phase="propose", model_alias="gpt", model="openai/gpt-4o",
            messages=[{"role": "user", "content": f"my key is {key}"}],
            reply="here: custom-secret-value-42", error_kind="auth", error_message=f"bad key {key}",
        ))
        store.finish_run("r1", "done", {"echo": key})
    files = [Path(store.path), Path(f"{store.path}-wal")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    assert key.encode() not in raw and b"custom-secret-value-42" not in raw
    assert b"[redacted]" in raw


def test_redact_shapes() -> None:
    assert redact("Authorization: Bearer abcdefghijklmnopqrstuvwxyz") == "Authorization: Bearer [redacted]"
    assert redact("key sk-proj-ABCDEFGHIJKLMNOPQRST") == "key [redacted]"
    assert redact("nothing secret here") == "nothing secret here"


async def test_run_call_logs_reply_usage_and_error(scripted) -> None:
    model = ModelConfig(name="alpha", model="scripted/alpha")
    scripted.enqueue("alpha", "hello there")
    scripted.enqueue("alpha", error=("auth", False))
    with Store() as store:
        store.start_run("r2", "plan", "t", None, None)
        ctx = CallContext(store, "r2", "propose", "default", "A")
        ok = await run_call(model, [{"role": "user", "content": "hi"}], Params(), ctx=ctx)
        bad = await run_call(model, [{"role": "user", "content": "hi"}], Params(), ctx=ctx)
        rows = store.calls("r2")
    assert ok.text == "hello there" and ok.ok and not bad.ok
    assert rows[0]["reply"] == "hello there" and rows[0]["completion_tokens"] == 2 and rows[0]["label"] == "A"
    assert rows[1]["status"] == "failed" and rows[1]["error_kind"] == "auth"


def test_prefs_are_remembered_per_scope() -> None:
    with Store() as store:
        assert store.get_pref("user", "theme", "moot-dark") == "moot-dark"
        store.set_pref("user", "theme", "moot-light")
        store.set_pref("/p", "run", {"strategy": "self-moa"})
    with Store() as store:
        assert store.get_pref("user", "theme") == "moot-light"
        assert store.get_pref("/p", "run") == {"strategy": "self-moa"}
        assert store.get_pref("/q", "run") is None


def test_secret_names_by_their_look_and_by_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    redaction = importlib.import_module("moot.core.storage.redact")
    monkeypatch.setattr(redaction, "_EXTRA_NAMES", set())
    assert all(redaction.is_secret_name(n) for n in ("OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET", "DB_PASSWORD"))
    assert not any(redaction.is_secret_name(n) for n in ("PATH", "HOME", "MY_LLM_CRED", "TOKENIZERS_PARALLELISM"))
    register_secret_env("MY_LLM_CRED")
    assert redaction.is_secret_name("MY_LLM_CRED")
