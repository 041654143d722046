"""Schema migrations, owned by the module whose tables they make.

Each package owns its tables: the core its ``runs``, ``calls`` and ``prefs`` (``CORE`` below, applied when the
store opens); the perf store, the agents and the context manager declare their own ``Schema`` next to the code
that reads and writes those tables, and the store applies it the first time that code asks for its tables
(``Store.tables``). Each migration runs once and is recorded by name in ``_migrations``.

Never edit a migration that has shipped: add a new one (to its owner's schema).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Schema:
    """The tables one module owns and the migrations that make them, in order."""

    owner: str
    """The module that alone reads and writes these tables (its ``__name__``)."""
    tables: tuple[str, ...]
    migrations: tuple[tuple[str, str], ...]
    """(name, SQL script). Names are unique across every schema: they are what ``_migrations`` records."""


#: The core's own tables: runs, the calls of each run, remembered choices.
CORE = Schema(
    owner="moot.core.storage.db",
    tables=("runs", "calls", "prefs"),
    migrations=(
        (
            "m001_initial",
            """
            CREATE TABLE runs (
                id          TEXT PRIMARY KEY,
                kind        TEXT NOT NULL,            -- 'plan', later 'exec'
                task        TEXT NOT NULL,
                strategy    TEXT,
                status      TEXT NOT NULL,            -- running, done, failed, cancelled, interrupted
                project_dir TEXT,
                created_at  REAL NOT NULL,
                finished_at REAL,
                result_json TEXT                      -- the run's JSON document when it ends
            );
            CREATE INDEX runs_created ON runs(created_at);

            CREATE TABLE calls (
                id                INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id            TEXT REFERENCES runs(id) ON DELETE CASCADE,
                phase             TEXT NOT NULL,      -- propose, rank, judge, ...
                label             TEXT,               -- the anonymous label the judge saw (A, B, ...)
                model_alias       TEXT NOT NULL,
                model             TEXT NOT NULL,      -- the backend model string
                variant           TEXT,
                messages_json     TEXT NOT NULL,
                reply             TEXT NOT NULL DEFAULT '',
                thinking          TEXT NOT NULL DEFAULT '',
                status            TEXT NOT NULL,      -- done, failed, cancelled
                finish_reason     TEXT,
                prompt_tokens     INTEGER NOT NULL DEFAULT 0,
                completion_tokens INTEGER NOT NULL DEFAULT 0,
                cost_usd          REAL NOT NULL DEFAULT 0,
                perf_json         TEXT,
                latency_s         REAL,
                ttft_s            REAL,
                error_kind        TEXT,
                error_message     TEXT,
                started_at        REAL NOT NULL
            );
            CREATE INDEX calls_run ON calls(run_id);
            """,
        ),
        (
            "m002_prefs",
            """
            CREATE TABLE prefs (
                scope TEXT NOT NULL,                  -- 'user', or a project directory
                key   TEXT NOT NULL,
                value TEXT NOT NULL,                  -- JSON
                PRIMARY KEY (scope, key)
            );
            """,
        ),
        (
            "m005_run_pid",
            """
            -- the process carrying a run out, so another moot process does not take a live run for a dead one
            ALTER TABLE runs ADD COLUMN pid INTEGER;
            """,
        ),
        (
            "m008_call_queued",
            """
            -- how long a call waited for its engine before it started (latency and ttft count from the start)
            ALTER TABLE calls ADD COLUMN queued_s REAL;
            """,
        ),
    ),
)


def migrate(db: sqlite3.Connection, schema: Schema = CORE) -> list[str]:
    """Apply every migration of ``schema`` not yet recorded, all in one write transaction; returns the names
    applied.

    Several processes may open a brand-new database at once: each takes the write lock (``BEGIN IMMEDIATE``,
    waiting up to the connection's timeout), then reads which migrations are recorded, so only the first
    applies them and the others find them done. A failure rolls every pending migration back.
    """
    if not _pending(schema, _applied(db)):
        return []  # the usual open: nothing to do, and no write lock taken
    if db.in_transaction:
        db.commit()  # as executescript did: the caller's open transaction ends first
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (id INTEGER PRIMARY KEY, name TEXT UNIQUE, applied_at REAL)")
    db.execute("BEGIN IMMEDIATE")
    try:
        applied = []
        for name, sql in _pending(schema, _applied(db)):  # read again: another process may have migrated
            for statement in _statements(sql):
                db.execute(statement)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, strftime('%s','now'))", (name,))
            applied.append(name)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return applied


def _applied(db: sqlite3.Connection) -> set[str]:
    try:
        return {row[0] for row in db.execute("SELECT name FROM _migrations")}
    except sqlite3.OperationalError:  # no such table: a new database
        return set()


def _pending(schema: Schema, done: set[str]) -> list[tuple[str, str]]:
    return [(name, sql) for name, sql in schema.migrations if name not in done]


def _statements(script: str) -> list[str]:
    """The statements of a migration script, split where SQLite's own tokenizer says one is complete (so a
    semicolon in a string or a trigger body does not split). ``executescript`` cannot be used: it commits
    the open transaction first."""
    found, buffer = [], ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            found.append(buffer.strip())
            buffer = ""
    return [statement for statement in found if _has_code(statement)]


def _has_code(statement: str) -> bool:
    """Whether a complete statement holds more than comments and the semicolon (the script's tail does not)."""
    lines = [line.split("--", 1)[0].strip() for line in statement.splitlines()]
    return any(line and line != ";" for line in lines)
