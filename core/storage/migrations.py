"""Numbered schema migrations. Each runs once, in order, and is recorded in ``_migrations``.

Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite3

#: (name, SQL script), in order. Each script runs in one transaction together with its record.
MIGRATIONS: list[tuple[str, str]] = [
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
]


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (id INTEGER PRIMARY KEY, name TEXT UNIQUE, applied_at REAL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied = []
    for number, (name, sql) in enumerate(MIGRATIONS, start=1):
        if name in done:
            continue
        try:
            db.executescript(
                f"BEGIN;\n{sql}\nINSERT INTO _migrations (id, name, applied_at) "
                f"VALUES ({number}, '{name}', strftime('%s','now'));\nCOMMIT;"
            )
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
