"""The tables of execution runs, owned by ``agents.runs`` (the only module that reads and writes them).

One row per execution run in ``exec_runs`` (beside its ``runs`` row, which the core owns), one per candidate
in ``exec_candidates``, one per task of each candidate in ``exec_tasks``.
"""

from __future__ import annotations

from moot.core.storage import Schema

SCHEMA = Schema(
    owner="moot.agents.runs",
    tables=("exec_runs", "exec_candidates", "exec_tasks"),
    migrations=(
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
            "m007_task_attempts",
            """
            -- how many times each task's model was asked (the first try and the retries after failed edits)
            ALTER TABLE exec_tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
            """,
        ),
        (
            "a001_run_owner",
            """
            -- when the process in pid started (a pid alone is reused: a later process may get the same one)
            ALTER TABLE exec_runs ADD COLUMN pid_started INTEGER;
            """,
        ),
    ),
)
