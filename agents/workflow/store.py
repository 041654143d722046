"""Workflow runs in the database: this module owns their table (``SCHEMA``) and alone reads and writes it.

A workflow run is a run of kind ``workflow`` (listed in the history beside the others; its strategy column
holds the workflow's name); each phase's state, output, provenance and checkpoint decision is a row here, so an
interrupted run goes on at the phase it stopped in.
"""

from __future__ import annotations

import json
import time
from typing import Any

from moot.core.storage import Schema, Store, Tables, redact

KIND = "workflow"

SCHEMA = Schema(
    owner="moot.agents.workflow.store",
    tables=("workflow_phases",),
    migrations=(
        (
            "w001_workflow_phases",
            """
            CREATE TABLE workflow_phases (
                run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                position     INTEGER NOT NULL,        -- order in the workflow (sub-phases after their parent)
                name         TEXT NOT NULL,
                type         TEXT NOT NULL,
                state        TEXT NOT NULL,           -- running, done, failed, stopped, skipped
                output       TEXT NOT NULL DEFAULT '',
                outputs_json TEXT NOT NULL DEFAULT '[]',
                tasks_json   TEXT,                    -- a task list phase's tasks
                child_run    TEXT,                    -- the plan, discussion or execution run it made
                meta_json    TEXT NOT NULL DEFAULT '{}',
                decision_json TEXT,                   -- the checkpoint: asked or not, why, the answer
                error        TEXT,
                started_at   REAL NOT NULL,
                finished_at  REAL,
                PRIMARY KEY (run_id, name)
            );
            """,
        ),
    ),
)


def _sql(store: Store) -> Tables:
    return store.tables(SCHEMA)


def begin(store: Store, run_id: str, workflow: str, task: str, project_dir: str | None) -> None:
    store.start_run(run_id, KIND, task, workflow, project_dir)


def phase_started(store: Store, run_id: str, position: int, name: str, kind: str) -> None:
    _sql(store).execute(
        "INSERT INTO workflow_phases (run_id, position, name, type, state, started_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id, name) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, "
        "error = NULL, finished_at = NULL",
        (run_id, position, name, kind, "running", time.time()))


def phase_ended(store: Store, run_id: str, name: str, *, state: str, output: str = "",
                outputs: list[str] | None = None, tasks: list[dict[str, Any]] | None = None,
                child_run: str | None = None, meta: dict[str, Any] | None = None,
                error: str | None = None) -> None:
    _sql(store).execute(
        "UPDATE workflow_phases SET state = ?, output = ?, outputs_json = ?, tasks_json = ?, child_run = ?, "
        "meta_json = ?, error = ?, finished_at = ? WHERE run_id = ? AND name = ?",
        (state, redact(output), json.dumps([redact(o) for o in outputs or []]),
         json.dumps(tasks) if tasks is not None else None, child_run, json.dumps(meta or {}),
         redact(error) if error else None, time.time(), run_id, name))


def child_begun(store: Store, run_id: str, name: str, child_run: str) -> None:
    """Phase ``name`` began the run ``child_run`` (kept at once, so an interrupted phase can go on with it)."""
    _sql(store).execute("UPDATE workflow_phases SET child_run = ? WHERE run_id = ? AND name = ?",
                        (child_run, run_id, name))


def decided(store: Store, run_id: str, name: str, decision: dict[str, Any]) -> None:
    """Record the checkpoint after (or, for a routed phase, before the work of) phase ``name``."""
    _sql(store).execute("UPDATE workflow_phases SET decision_json = ? WHERE run_id = ? AND name = ?",
                        (json.dumps(decision), run_id, name))


def phases(store: Store, run_id: str) -> list[dict[str, Any]]:
    rows = _sql(store).execute("SELECT * FROM workflow_phases WHERE run_id = ? ORDER BY position", (run_id,))
    out = []
    for r in rows:
        row = dict(r)
        row["outputs"] = json.loads(row.pop("outputs_json") or "[]")
        row["tasks"] = json.loads(row.pop("tasks_json")) if row.get("tasks_json") else None
        row["meta"] = json.loads(row.pop("meta_json") or "{}")
        row["decision"] = json.loads(row.pop("decision_json")) if row.get("decision_json") else None
        out.append(row)
    return out
