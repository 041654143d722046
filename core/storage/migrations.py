"""Numbered schema migrations. Each runs once, in order, and is recorded in ``_migrations``.

Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite3

#: (name, SQL script), in order. The pending scripts and their records run in one write transaction.
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
    (
        "m003_perf",
        """
        CREATE TABLE perf_samples (
            id                INTEGER PRIMARY KEY AUTOINCREMENT,
            host              TEXT NOT NULL,      -- an Ollama base URL, or 'embedded'
            model             TEXT NOT NULL,      -- the backend model string, e.g. ollama/qwen2.5-coder:7b
            source            TEXT NOT NULL,      -- 'call' (real work) or 'bench' (moot perf bench)
            call_id           INTEGER REFERENCES calls(id) ON DELETE SET NULL,
            prompt_tokens     INTEGER NOT NULL DEFAULT 0,  -- the request's prompt, cached prefix included
            output_tokens     INTEGER NOT NULL DEFAULT 0,
            num_ctx           INTEGER,
            prompt_eval_count INTEGER NOT NULL DEFAULT 0,  -- prompt tokens the engine evaluated
            prompt_eval_ns    INTEGER NOT NULL DEFAULT 0,
            eval_count        INTEGER NOT NULL DEFAULT 0,
            eval_ns           INTEGER NOT NULL DEFAULT 0,
            load_ns           INTEGER NOT NULL DEFAULT 0,
            total_ns          INTEGER NOT NULL DEFAULT 0,
            ttft_s            REAL,
            latency_s         REAL,               -- wall time moot measured around the call
            reloaded          INTEGER NOT NULL DEFAULT 0,
            reload_reason     TEXT,
            created_at        REAL NOT NULL
        );
        CREATE INDEX perf_samples_model ON perf_samples(host, model, created_at);

        CREATE TABLE route_decisions (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id        TEXT,
            role          TEXT NOT NULL,
            task_id       TEXT,
            chosen        TEXT NOT NULL,          -- the model alias chosen
            local_alias   TEXT,
            hosted_alias  TEXT,
            prompt_tokens INTEGER,                -- the request as asked, before any shrinking
            output_tokens INTEGER,
            predicted_s   REAL,
            limit_s       REAL,
            reason        TEXT NOT NULL,
            adjustments   TEXT,                   -- JSON: how the request was shrunk to fit, or null
            created_at    REAL NOT NULL
        );
        CREATE INDEX route_decisions_run ON route_decisions(run_id);
        """,
    ),
    (
        "m004_exec",
        """
        -- one row per execution run (runs.kind = 'exec'); the run's tasks and candidates below
        CREATE TABLE exec_runs (
            run_id       TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            plan_run_id  TEXT,                    -- the planning run the plan came from, if any
            plan         TEXT NOT NULL,
            repo_dir     TEXT NOT NULL,
            base_branch  TEXT,
            base_sha     TEXT NOT NULL,
            state        TEXT NOT NULL,           -- decomposing, executing, testing, reviewing, ready,
                                                  -- accepted, rejected, failed, interrupted, cancelled, undone
            winner       INTEGER,                 -- the chosen candidate
            accepted_sha TEXT,
            pid          INTEGER,                 -- the process carrying the run out while it is active
            error        TEXT,                    -- why the run failed as a whole (decomposition, worktree)
            updated_at   REAL
        );

        CREATE TABLE exec_candidates (
            run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            candidate    INTEGER NOT NULL,
            model_alias  TEXT,                    -- the model that carried out the plan (candidates), or null
            branch       TEXT NOT NULL,
            worktree     TEXT,
            status       TEXT NOT NULL DEFAULT 'queued',  -- queued, executing, testing, reviewing, done,
                                                          -- failed, interrupted
            head_sha     TEXT,
            tests_json   TEXT,
            review_json  TEXT,
            diff_lines   INTEGER,
            error        TEXT,
            PRIMARY KEY (run_id, candidate)
        );

        CREATE TABLE exec_tasks (
            run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            candidate    INTEGER NOT NULL DEFAULT 0,
            task_id      TEXT NOT NULL,
            position     INTEGER NOT NULL,
            title        TEXT NOT NULL,
            role         TEXT NOT NULL,
            model_alias  TEXT,
            reason       TEXT,                    -- why the router chose the model
            description  TEXT NOT NULL DEFAULT '',
            files_json   TEXT NOT NULL DEFAULT '[]',
            depends_json TEXT NOT NULL DEFAULT '[]',
            status       TEXT NOT NULL,           -- queued, running, retrying, done, failed, skipped, interrupted
            commit_sha   TEXT,
            error        TEXT,
            PRIMARY KEY (run_id, candidate, task_id)
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
        "m006_distillations",
        """
        -- model-written digests of an earlier phase (key decisions, constraints, risks), kept with the run
        CREATE TABLE distillations (
            run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            source      TEXT NOT NULL,            -- what was distilled: 'plan', 'proposals', ...
            model_alias TEXT NOT NULL,
            text        TEXT NOT NULL,
            source_tokens INTEGER NOT NULL,
            tokens      INTEGER NOT NULL,
            created_at  REAL NOT NULL,
            PRIMARY KEY (run_id, source)
        );
        """,
    ),
    (
        "m007_task_attempts",
        """
        -- how many times each task's model was asked (the first try and the retries after failed edits)
        ALTER TABLE exec_tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    (
        "m008_call_queued",
        """
        -- how long a call waited for its engine before it started (latency and ttft count from the start)
        ALTER TABLE calls ADD COLUMN queued_s REAL;
        """,
    ),
]


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded, all in one write transaction; returns the names applied.

    Several processes may open a brand-new database at once: each takes the write lock (``BEGIN IMMEDIATE``,
    waiting up to the connection's timeout), then reads which migrations are recorded, so only the first
    applies them and the others find them done. A failure rolls every pending migration back. The schema
    version (the number of the last migration) is kept in ``PRAGMA user_version`` too.
    """
    if not _pending(db, _applied(db)):
        return []  # the usual open: nothing to do, and no write lock taken
    if db.in_transaction:
        db.commit()  # as executescript did: the caller's open transaction ends first
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (id INTEGER PRIMARY KEY, name TEXT UNIQUE, applied_at REAL)")
    db.execute("BEGIN IMMEDIATE")
    try:
        applied = []
        for number, name, sql in _pending(db, _applied(db)):  # read again: another process may have migrated
            for statement in _statements(sql):
                db.execute(statement)
            db.execute("INSERT INTO _migrations (id, name, applied_at) VALUES (?, ?, strftime('%s','now'))",
                       (number, name))
            applied.append(name)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
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


def _pending(db: sqlite3.Connection, done: set[str]) -> list[tuple[int, str, str]]:
    return [(number, name, sql) for number, (name, sql) in enumerate(MIGRATIONS, start=1) if name not in done]


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
