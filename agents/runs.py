"""An execution run as stored: the ``runs`` row (kind ``exec``), its ``exec_runs`` row, its candidates and tasks.

The run's ``state`` (in ``exec_runs``) is the truth; ``runs.status`` follows it for ``moot history``. The states
of runs, candidates and tasks are the enums below; the strings stored are their values. While a run is active
the process carrying it out records its pid and when that process started, so a run left active by a process
that is gone (even one whose pid another process has since been given) can be told from one a live process is
still carrying out (:func:`mark_stale`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from moot.core.storage import Store, Tables

from .tables import SCHEMA


class RunState(StrEnum):
    """Where an execution run stands."""

    DECOMPOSING = "decomposing"
    EXECUTING = "executing"
    TESTING = "testing"
    REVIEWING = "reviewing"
    READY = "ready"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNDONE = "undone"

    @property
    def active(self) -> bool:
        """A process is carrying the run out (or was, if it died)."""
        return self in ACTIVE

    @property
    def status(self) -> str:
        """``runs.status`` in this state (what ``moot history`` shows)."""
        return "running" if self.active else ("done" if self == RunState.READY else str(self))


class CandidateState(StrEnum):
    QUEUED = "queued"
    EXECUTING = "executing"
    TESTING = "testing"
    REVIEWING = "reviewing"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


#: States in which a process is carrying the run out.
ACTIVE = (RunState.DECOMPOSING, RunState.EXECUTING, RunState.TESTING, RunState.REVIEWING)
#: States from which a run's changes can still be reviewed, accepted or rejected.
OPEN = (RunState.READY, RunState.FAILED, RunState.INTERRUPTED)


@dataclass
class TaskRow:
    """One task of one candidate."""

    task_id: str
    position: int
    title: str
    role: str
    model_alias: str | None
    description: str = ""
    files: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    status: TaskState = TaskState.QUEUED
    commit: str | None = None
    error: str | None = None
    reason: str | None = None
    candidate: int = 0
    attempts: int = 0
    """How many times the task's model was asked (0: not yet)."""

    def to_json(self) -> dict[str, Any]:
        """The task as ``moot run --json`` shows it."""
        return {"id": self.task_id, "title": self.title, "role": self.role, "model": self.model_alias,
                "status": self.status, "commit": self.commit, "error": self.error}


@dataclass
class CandidateRow:
    """One carrying-out of the plan, on its own branch."""

    candidate: int
    model_alias: str | None
    branch: str
    worktree: str | None
    status: CandidateState = CandidateState.QUEUED
    head_sha: str | None = None
    tests: dict[str, Any] | None = None
    review: dict[str, Any] | None = None
    diff_lines: int | None = None
    error: str | None = None
    tasks: list[TaskRow] = field(default_factory=list)

    @property
    def tasks_done(self) -> bool:
        return bool(self.tasks) and all(t.status == "done" for t in self.tasks)

    @property
    def tests_passed(self) -> bool | None:
        return None if self.tests is None else bool(self.tests.get("passed"))

    @property
    def ok(self) -> bool:
        """Every task done and the tests (if any) passed."""
        return self.tasks_done and self.tests_passed is not False


@dataclass
class ExecRun:
    """A whole execution run, as loaded."""

    run_id: str
    task: str
    status: str
    """``runs.status``."""
    plan: str
    plan_run_id: str | None
    repo_dir: str
    base_branch: str | None
    base_sha: str
    state: RunState
    winner: int | None
    accepted_sha: str | None
    pid: int | None
    error: str | None
    created_at: float
    candidates: list[CandidateRow] = field(default_factory=list)
    pid_started: int | None = None
    """When the process in ``pid`` started (clock ticks since boot), where the system says."""

    def candidate(self, n: int) -> CandidateRow | None:
        return next((c for c in self.candidates if c.candidate == n), None)

    @property
    def chosen(self) -> CandidateRow | None:
        """The winning candidate (the first one until a winner is set)."""
        if self.winner is not None and (c := self.candidate(self.winner)) is not None:
            return c
        return self.candidates[0] if self.candidates else None

    @property
    def live(self) -> bool:
        """Whether a process is carrying the run out right now."""
        return self.state in ACTIVE and _alive(self.pid, self.pid_started)

    @property
    def resumable(self) -> bool:
        """Interrupted, or left active by a process that is gone."""
        return self.state == "interrupted" or (self.state in ACTIVE and not self.live)

    @property
    def ok(self) -> bool:
        c = self.chosen
        return c is not None and c.ok

    def to_json(self, candidate: int | None = None) -> dict[str, Any]:
        """The ``moot run --json`` document for the chosen candidate (or ``candidate``): ``run_id``, ``branch``,
        ``tasks``, ``tests`` (command, passed, output_tail) and ``review`` (model, verdict, findings; ``error``
        too when it failed); with several candidates, a ``candidates`` list shows every one of them. The
        stored ``tests`` and ``review`` of a candidate hold more (exit code, duration, summary)."""
        c = self.candidate(candidate) if candidate is not None else self.chosen
        doc: dict[str, Any] = {
            "run_id": self.run_id,
            "branch": c.branch if c else None,
            "tasks": [t.to_json() for t in c.tasks] if c else [],
            "tests": _tests_json(c.tests) if c else None,
            "review": _review_json(c.review) if c else None,
        }
        if len(self.candidates) > 1:
            doc["candidates"] = [
                {"candidate": x.candidate, "model": x.model_alias, "branch": x.branch, "status": x.status,
                 "winner": x.candidate == (self.winner if self.winner is not None else 0),
                 "tests": _tests_json(x.tests), "diff_lines": x.diff_lines,
                 "tasks": [t.to_json() for t in x.tasks], "review": _review_json(x.review)}
                for x in self.candidates
            ]
        return doc


def _tests_json(tests: dict[str, Any] | None) -> dict[str, Any] | None:
    if tests is None:
        return None
    return {"command": tests.get("command"), "passed": bool(tests.get("passed")),
            "output_tail": tests.get("output_tail", "")}


def _review_json(review: dict[str, Any] | None) -> dict[str, Any] | None:
    if review is None:
        return None
    out = {"model": review.get("model"), "verdict": review.get("verdict"), "findings": review.get("findings") or []}
    if review.get("error"):
        out["error"] = review["error"]
    return out


def _sql(store: Store) -> Tables:
    """This module's tables (``agents.tables``): the only way SQL reaches them."""
    return store.tables(SCHEMA)


def process_started(pid: int) -> int | None:
    """When the process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat``), or None where the
    system does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    try:  # the command name (field 2) is in parentheses and may hold spaces: count from the last ')'
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (ValueError, IndexError):
        return None


def _alive(pid: int | None, started: int | None) -> bool:
    """Whether the process that recorded itself as carrying a run out (``pid``, started at ``started``) still
    runs. A released run has no pid; a pid given since to another process has another start time."""
    if pid is None:
        return False
    if started is not None and (now := process_started(pid)) is not None:
        return now == started
    if pid == os.getpid():
        return True  # the system gives no start times: this process recorded it and has not released it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


# ------------------------------------------------------------------------------------------------ writing


def create(store: Store, run_id: str, task: str, plan: str, repo_dir: str, base_sha: str,
           base_branch: str | None, *, plan_run_id: str | None = None,
           state: RunState = RunState.EXECUTING) -> None:
    """Record a new execution run (the ``runs`` row and its ``exec_runs`` row), owned by this process."""
    store.start_run(run_id, "exec", task, None, repo_dir)
    _sql(store).execute(
        "INSERT INTO exec_runs (run_id, plan_run_id, plan, repo_dir, base_branch, base_sha, state, pid, "
        "pid_started, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (run_id, plan_run_id, plan, repo_dir, base_branch, base_sha, str(state), os.getpid(),
         process_started(os.getpid()), time.time()),
    )


def claim(store: Store, run_id: str) -> None:
    """This process carries the run out from now on (resuming it)."""
    _sql(store).execute("UPDATE exec_runs SET pid = ?, pid_started = ?, updated_at = ? WHERE run_id = ?",
                        (os.getpid(), process_started(os.getpid()), time.time(), run_id))


def release(store: Store, run_id: str) -> None:
    """This process no longer carries the run out."""
    _sql(store).execute("UPDATE exec_runs SET pid = NULL, pid_started = NULL WHERE run_id = ? AND pid = ?",
                        (run_id, os.getpid()))


def set_state(store: Store, run_id: str, state: RunState, *, error: str | None = None,
              result: dict[str, Any] | None = None) -> None:
    """Move the run to ``state``; ``runs.status`` follows (a run another process wrongly marked interrupted
    while this one carries it out is set back to running)."""
    state = RunState(state)
    _sql(store).execute("UPDATE exec_runs SET state = ?, updated_at = ?, error = COALESCE(?, error) WHERE run_id = ?",
                  (str(state), time.time(), error, run_id))
    status = state.status
    if state.active:
        store.set_run_status(run_id, status)
    else:
        if result is None:
            result = store.run_result(run_id)
        store.finish_run(run_id, status, result)


def set_winner(store: Store, run_id: str, candidate: int) -> None:
    _sql(store).execute("UPDATE exec_runs SET winner = ? WHERE run_id = ?", (candidate, run_id))


def set_accepted(store: Store, run_id: str, sha: str | None) -> None:
    _sql(store).execute("UPDATE exec_runs SET accepted_sha = ? WHERE run_id = ?", (sha, run_id))


def add_candidate(store: Store, run_id: str, candidate: int, model_alias: str | None, branch: str,
                  worktree: str | None) -> None:
    _sql(store).execute(
        "INSERT INTO exec_candidates (run_id, candidate, model_alias, branch, worktree) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id, candidate) DO UPDATE SET model_alias = excluded.model_alias, "
        "branch = excluded.branch, worktree = excluded.worktree",
        (run_id, candidate, model_alias, branch, worktree),
    )


_CANDIDATE_FIELDS = {"status", "head_sha", "diff_lines", "error", "worktree", "tests", "review"}


def set_candidate(store: Store, run_id: str, candidate: int, **values: Any) -> None:
    """Update a candidate: ``status``, ``head_sha``, ``diff_lines``, ``error``, ``worktree``, ``tests``
    (a dict or None), ``review`` (a dict or None)."""
    unknown = set(values) - _CANDIDATE_FIELDS
    if unknown:
        raise TypeError(f"unknown candidate fields: {', '.join(sorted(unknown))}")
    cols, args = [], []
    for key, value in values.items():
        if key in ("tests", "review"):
            cols.append(f"{key}_json = ?")
            args.append(json.dumps(value) if value is not None else None)
        else:
            cols.append(f"{key} = ?")
            args.append(str(CandidateState(value)) if key == "status" else value)
    if cols:
        _sql(store).execute(f"UPDATE exec_candidates SET {', '.join(cols)} WHERE run_id = ? AND candidate = ?",
                      (*args, run_id, candidate))


def add_tasks(store: Store, run_id: str, candidate: int, tasks: Sequence[TaskRow]) -> None:
    """Record the candidate's tasks, queued, in order (a task already recorded is left as it is)."""
    for t in tasks:
        _sql(store).execute(
            "INSERT OR IGNORE INTO exec_tasks (run_id, candidate, task_id, position, title, role, model_alias, "
            "reason, description, files_json, depends_json, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, candidate, t.task_id, t.position, t.title, t.role, t.model_alias, t.reason, t.description,
             json.dumps(t.files), json.dumps(t.depends_on), "queued"),
        )


def set_task(store: Store, run_id: str, candidate: int, task_id: str, status: TaskState, *,
             commit: str | None = None, error: str | None = None) -> None:
    """A task's new status, with its commit or the reason it failed (both cleared otherwise)."""
    _sql(store).execute(
        "UPDATE exec_tasks SET status = ?, commit_sha = ?, error = ? WHERE run_id = ? AND candidate = ? "
        "AND task_id = ?",
        (str(TaskState(status)), commit, error, run_id, candidate, task_id),
    )


def set_task_attempts(store: Store, run_id: str, candidate: int, task_id: str, attempts: int) -> None:
    """How many times the task's model has been asked so far."""
    _sql(store).execute(
        "UPDATE exec_tasks SET attempts = ? WHERE run_id = ? AND candidate = ? AND task_id = ?",
        (attempts, run_id, candidate, task_id),
    )


def set_task_model(store: Store, run_id: str, candidate: int, task_id: str, model_alias: str) -> None:
    """The model that carries out a task, when the router chose another than ``[roles]`` gave it."""
    _sql(store).execute(
        "UPDATE exec_tasks SET model_alias = ? WHERE run_id = ? AND candidate = ? AND task_id = ?",
        (model_alias, run_id, candidate, task_id),
    )


# ------------------------------------------------------------------------------------------------ reading


def resolve_id(store: Store, run_id: str) -> str | None:
    """The full id of the execution run ``run_id`` names (exactly, or as a unique prefix)."""
    rows = _sql(store).execute("SELECT run_id FROM exec_runs WHERE run_id = ?", (run_id,))
    if not rows:
        esc = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = _sql(store).execute("SELECT run_id FROM exec_runs WHERE run_id LIKE ? ESCAPE '\\' LIMIT 2", (f"{esc}%",))
    return str(rows[0][0]) if len(rows) == 1 else None


def load(store: Store, run_id: str) -> ExecRun | None:
    """The execution run ``run_id`` (or a unique prefix of it) with its candidates and tasks; None if unknown."""
    full = resolve_id(store, run_id)
    if full is None:
        return None
    rows = _sql(store).execute("SELECT * FROM exec_runs WHERE run_id = ?", (full,))
    head = store.run(full)  # the run's own row (the core's): its task, status and start
    if not rows or head is None:
        return None
    r = dict(rows[0])
    run = ExecRun(
        run_id=full, task=head["task"], status=head["status"], plan=r["plan"], plan_run_id=r["plan_run_id"],
        repo_dir=r["repo_dir"], base_branch=r["base_branch"], base_sha=r["base_sha"], state=RunState(r["state"]),
        winner=r["winner"], accepted_sha=r["accepted_sha"], pid=r["pid"], pid_started=r["pid_started"], error=r["error"],
        created_at=head["created_at"],
    )
    tasks: dict[int, list[TaskRow]] = {}
    for t in _sql(store).execute("SELECT * FROM exec_tasks WHERE run_id = ? ORDER BY candidate, position", (full,)):
        tasks.setdefault(t["candidate"], []).append(TaskRow(
            task_id=t["task_id"], position=t["position"], title=t["title"], role=t["role"],
            model_alias=t["model_alias"], description=t["description"], files=json.loads(t["files_json"]),
            depends_on=json.loads(t["depends_json"]), status=TaskState(t["status"]), commit=t["commit_sha"], error=t["error"],
            reason=t["reason"], candidate=t["candidate"], attempts=t["attempts"],
        ))
    for c in _sql(store).execute("SELECT * FROM exec_candidates WHERE run_id = ? ORDER BY candidate", (full,)):
        run.candidates.append(CandidateRow(
            candidate=c["candidate"], model_alias=c["model_alias"], branch=c["branch"], worktree=c["worktree"],
            status=CandidateState(c["status"]), head_sha=c["head_sha"],
            tests=json.loads(c["tests_json"]) if c["tests_json"] else None,
            review=json.loads(c["review_json"]) if c["review_json"] else None,
            diff_lines=c["diff_lines"], error=c["error"], tasks=tasks.get(c["candidate"], []),
        ))
    return run


def recent(store: Store, limit: int = 20, states: Iterable[str] | None = None) -> list[ExecRun]:
    """Execution runs, newest first (only those in ``states`` when given)."""
    wanted = list(states) if states is not None else None
    out: list[ExecRun] = []
    for row in store.runs(limit=-1, kind="exec"):
        run = load(store, row["id"])
        if run is not None and (wanted is None or run.state in wanted):
            out.append(run)
            if len(out) >= limit:
                break
    return out


def mark_stale(store: Store) -> list[str]:
    """Runs left active by a process that is gone become ``interrupted`` (their running tasks too); a run
    another live process carries out is left alone, and set back to running if something else marked it
    interrupted. Returns the ids marked."""
    marked = []
    rows = _sql(store).execute("SELECT run_id, state, pid, pid_started FROM exec_runs WHERE state IN (?, ?, ?, ?)",
                               tuple(str(s) for s in ACTIVE))
    for row in rows:
        run_id = row["run_id"]
        if _alive(row["pid"], row["pid_started"]):
            store.set_run_status(run_id, "running", only_if="interrupted")
            continue
        interrupt(store, run_id)
        marked.append(run_id)
    return marked


def interrupt(store: Store, run_id: str) -> None:
    """Mark the run interrupted: its unfinished tasks and candidates too (their worktrees stay, to resume)."""
    _sql(store).execute("UPDATE exec_tasks SET status = 'interrupted' WHERE run_id = ? AND status IN "
                  "('running', 'retrying')", (run_id,))
    _sql(store).execute("UPDATE exec_candidates SET status = 'interrupted' WHERE run_id = ? AND status NOT IN "
                  "('done', 'failed')", (run_id,))
    set_state(store, run_id, RunState.INTERRUPTED)
    release(store, run_id)
