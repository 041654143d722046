"""The perf store's tables, owned by ``core.perf.store`` (the only module that reads and writes them):
one row per measured local call (``perf_samples``) and one per routing decision (``route_decisions``)."""

from __future__ import annotations

from ..storage import Schema

SCHEMA = Schema(
    owner="moot.core.perf.store",
    tables=("perf_samples", "route_decisions"),
    migrations=(
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
    ),
)
