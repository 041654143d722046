"""The SQLite store: one file under the data directory, WAL mode, migrated on open.

Any number of processes may open it at once, a brand-new one included: the switch to WAL is retried while
another process holds the file, and migrations run in one write transaction (see ``migrations.migrate``).

Every model call is written here by the core (``CallRecord``); every run has a row in ``runs``.
Text is passed through ``redact`` first, so no API key ever reaches the file.

Each package owns its tables: the store reads and writes only its own (runs, calls, prefs); another module
declares a ``Schema`` and gets a ``Tables`` handle for it (``Store.tables``), through which alone its SQL runs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.loader import data_dir
from .migrations import CORE, Schema, migrate
from .redact import redact


@dataclass
class CallRecord:
    """One model call as stored."""

    run_id: str | None
    phase: str
    model_alias: str
    model: str
    messages: list[dict[str, Any]]
    reply: str = ""
    thinking: str = ""
    status: str = "done"
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    perf: dict[str, Any] | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    queued_s: float | None = None
    """How long the call waited for its engine; ``latency_s`` and ``ttft_s`` count from when it started."""
    error_kind: str | None = None
    error_message: str | None = None
    variant: str | None = None
    label: str | None = None
    started_at: float = field(default_factory=time.time)


def _process_alive(pid: int | None) -> bool:
    """Whether ``pid`` is another process that still runs (this process's own runs, at start-up, are left
    over from a process that had the same pid)."""
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def use_wal(db: sqlite3.Connection, timeout: float = 10.0) -> None:
    """Put the database in WAL mode. On a brand-new file opened by several processes at once the switch can
    fail at once with "database is locked" (SQLite does not wait for it as it waits for a write lock), so
    it is tried again until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


class Store:
    """moot's database. Safe to share between threads (one connection, one lock)."""

    def __init__(self, path: Path | None = None):
        self.path = path or data_dir() / "moot.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        self._db.row_factory = sqlite3.Row
        use_wal(self._db)
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            migrate(self._db, CORE)
        self._owned: dict[str, Tables] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------- runs

    def start_run(self, run_id: str, kind: str, task: str, strategy: str | None, project_dir: str | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO runs (id, kind, task, strategy, status, project_dir, created_at, pid) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?, ?)",
                (run_id, kind, redact(task), strategy, project_dir, time.time(), os.getpid()),
            )

    def finish_run(self, run_id: str, status: str, result: dict[str, Any] | None) -> None:
        body = redact(json.dumps(result)) if result is not None else None
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, result_json = ? WHERE id = ?",
                (status, time.time(), body, run_id),
            )

    def runs(self, limit: int = 50, search: str | None = None, project: str | None = None,
             kind: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest first, optionally only those whose task contains ``search``, those of ``project`` (the
        directory they ran in) and those of one ``kind`` ('plan', 'exec'). A negative ``limit`` means all."""
        sql = "SELECT * FROM runs"
        where: list[str] = []
        args: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if search:
            where.append("task LIKE ? ESCAPE '\\'")
            esc = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(f"%{esc}%")
        if project is not None:
            where.append("project_dir = ?")
            args.append(project)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args)]

    def set_run_status(self, run_id: str, status: str, *, only_if: str | None = None) -> None:
        """Change a run's status without finishing it (``only_if``: only when it is that status now)."""
        sql, args = "UPDATE runs SET status = ? WHERE id = ?", [status, run_id]
        if only_if is not None:
            sql += " AND status = ?"
            args.append(only_if)
        with self._lock:
            self._db.execute(sql, args)

    def run_result(self, run_id: str) -> dict[str, Any] | None:
        """The result a run was finished with, if any."""
        with self._lock:
            row = self._db.execute("SELECT result_json FROM runs WHERE id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run by id, or by a unique prefix of it."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchall()
            if not rows:
                esc = run_id.replace("%", "").replace("_", "\\_")
                rows = self._db.execute(
                    "SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2", (f"{esc}%",)
                ).fetchall()
        return dict(rows[0]) if len(rows) == 1 else None

    def mark_interrupted(self) -> int:
        """Runs left 'running' by a process that died become 'interrupted' (a run another live moot process
        is carrying out is left alone). Returns how many."""
        with self._lock:
            rows = self._db.execute("SELECT id, pid FROM runs WHERE status = 'running'").fetchall()
            dead = [(row[0],) for row in rows if not _process_alive(row[1])]
            self._db.executemany("UPDATE runs SET status = 'interrupted' WHERE id = ?", dead)
            return len(dead)

    # ------------------------------------------------------------------------------------------ calls

    def log_call(self, rec: CallRecord) -> int:
        """Write one model call; every text field is redacted first."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO calls (run_id, phase, label, model_alias, model, variant, messages_json, reply,"
                " thinking, status, finish_reason, prompt_tokens, completion_tokens, cost_usd, perf_json,"
                " latency_s, ttft_s, queued_s, error_kind, error_message, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.run_id, rec.phase, rec.label, rec.model_alias, rec.model, rec.variant,
                    redact(json.dumps(rec.messages)), redact(rec.reply), redact(rec.thinking), rec.status,
                    rec.finish_reason, rec.prompt_tokens, rec.completion_tokens, rec.cost_usd,
                    json.dumps(rec.perf) if rec.perf is not None else None, rec.latency_s, rec.ttft_s,
                    rec.queued_s, rec.error_kind, redact(rec.error_message) if rec.error_message else None, rec.started_at,
                ),
            )
            return int(cur.lastrowid or 0)

    def calls(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM calls WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["messages"] = json.loads(d.pop("messages_json"))
            d["perf"] = json.loads(d.pop("perf_json")) if d.get("perf_json") else None
            out.append(d)
        return out

    # ------------------------------------------------------------------------------------------ prefs

    def get_pref(self, scope: str, key: str, default: Any = None) -> Any:
        """A remembered choice (the theme for 'user', the strategy for a project directory)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM prefs WHERE scope = ? AND key = ?", (scope, key)).fetchone()
        return json.loads(row[0]) if row else default

    def set_pref(self, scope: str, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO prefs (scope, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                (scope, key, json.dumps(value)),
            )

    def tables(self, schema: Schema) -> Tables:
        """The tables ``schema`` declares, made (migrated) the first time their owner asks for them."""
        with self._lock:
            found = self._owned.get(schema.owner)
            if found is None:
                migrate(self._db, schema)
                found = self._owned[schema.owner] = Tables(self, schema)
        if found.schema != schema:
            raise ValueError(f"{schema.owner} declared two schemas")
        return found

    def _run_sql(self, sql: str, args: tuple[Any, ...]) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()


class Tables:
    """SQL access to the tables of one ``Schema``, for the module that owns them (tests check that no other
    module names those tables in SQL)."""

    def __init__(self, store: Store, schema: Schema):
        self.store = store
        self.schema = schema

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.store._run_sql(sql, args)
