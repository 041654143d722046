"""Learning to use local models: what came of each local task (outcomes), how big a task is (sizing), and the
shape of the next local query, chosen by a bandit over the shapes tried (with its statistics shown).

    size = size_task(store, "backend", files=2, context_tokens=1800, edits=2)
    choice = choose_shape(store, model, "backend", size, predict=lambda s: 8.0, limit_s=30, rng=random.Random(1))
    choice.describe()  # "qwen, 2k context, terse, output 600: 11 of 12 recent backend tasks at this shape …"
    record_outcome(store, Outcome(model.model, host, "backend", choice.shape.key, size.bucket, parsed=True, …))

A shape is the set of choices moot makes for one local query: the context budget, the output cap, the prompt
(full, or terse), whether a task of several files is asked for file by file, and whether the answer is held to
its format by the engine (a grammar or schema). For each local model and role the bandit keeps, per shape and
task size, how many recent tasks at that shape succeeded (the edit applied, the tests did not fail, the
reviewer did not block); it samples each shape's success rate from its Beta posterior and takes the best whose
predicted latency fits the limit, so a shape with little evidence is still tried now and then. When even the
best sample is below ``LOCAL_FLOOR`` the task is better sent to the hosted model.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..storage import Schema

if TYPE_CHECKING:
    from ..config.models import ModelConfig
    from ..storage import Store

#: How many recent outcomes per model, role and shape the bandit reads.
RECENT = 30
#: Below this sampled success rate a local attempt is not worth it: the task goes to the hosted model.
LOCAL_FLOOR = 0.35
#: Task sizes by what a task's query holds (its context and expected output tokens, and its files).
SIZES = (("small", 1500), ("medium", 4000))
DEFAULT_OUTPUT = 600

SCHEMA = Schema(
    owner="moot.core.perf.shapes",
    tables=("local_outcomes", "run_shares"),
    migrations=(
        (
            "s001_local_outcomes",
            """
            CREATE TABLE local_outcomes (
                id            INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id        TEXT,
                task_id       TEXT,
                model         TEXT NOT NULL,          -- the model string
                host          TEXT NOT NULL,
                role          TEXT NOT NULL,
                shape         TEXT NOT NULL,          -- Shape.key
                size          TEXT NOT NULL,          -- small, medium, large
                parsed        INTEGER,                -- the answer's structure was read (null: not known)
                applied       INTEGER,                -- its edits applied
                tests_passed  INTEGER,                -- the tests afterwards (null: none were run)
                verdict       TEXT,                   -- the reviewer's (null: no review)
                retried       INTEGER NOT NULL DEFAULT 0,
                escalated     INTEGER NOT NULL DEFAULT 0,
                reason        TEXT,                   -- why this shape (ShapeChoice.describe)
                output_tokens INTEGER NOT NULL DEFAULT 0,
                latency_s     REAL,
                created_at    REAL NOT NULL
            );
            CREATE INDEX local_outcomes_model ON local_outcomes(model, role, shape, created_at);
            CREATE INDEX local_outcomes_run ON local_outcomes(run_id);

            CREATE TABLE run_shares (
                run_id      TEXT PRIMARY KEY,
                tasks       INTEGER NOT NULL,
                local_tasks INTEGER NOT NULL,
                planner     TEXT,                     -- the model that wrote the tasks
                created_at  REAL NOT NULL
            );
            """,
        ),
        (
            "s002_outcome_candidate",
            """
            ALTER TABLE local_outcomes ADD COLUMN candidate INTEGER;  -- which of the run's candidates (null: none)
            """,
        ),
    ),
)


@dataclass(frozen=True)
class Shape:
    """The choices of one local query."""

    context: int
    """Tokens of repository context."""
    output: int
    """The output cap (``max_tokens``)."""
    prompt: str = "full"
    """``full`` (the agent's whole brief and the plan) or ``terse`` (the task, its files and the format)."""
    split: bool = False
    """A task of several files is asked for file by file."""
    constrained: bool = True
    """The answer is held to its format by the engine (where the engine can)."""

    @property
    def key(self) -> str:
        return (f"ctx{self.context}/out{self.output}/{self.prompt}/{'split' if self.split else 'whole'}/"
                f"{'constrained' if self.constrained else 'free'}")

    @classmethod
    def from_key(cls, key: str) -> Shape:
        ctx, out, prompt, split, constrained = key.split("/")
        return cls(int(ctx[3:]), int(out[3:]), prompt, split == "split", constrained == "constrained")

    def short(self) -> str:
        """A few characters: ``2k terse 600``, ``4k full 1000 split free``."""
        return " ".join([f"{self.context / 1000:g}k", self.prompt, str(self.output)]
                        + (["split"] if self.split else []) + ([] if self.constrained else ["free"]))

    def describe(self) -> str:
        parts = [f"{self.context / 1000:g}k context", self.prompt, f"output {self.output}"]
        if self.split:
            parts.append("file by file")
        if not self.constrained:
            parts.append("unconstrained")
        return ", ".join(parts)


#: The shapes tried: from a small query to a large one, terse and full, whole and file by file.
SHAPES = (
    Shape(1000, 400, "terse"),
    Shape(2000, 600, "terse"),
    Shape(2000, 600, "full"),
    Shape(2000, 600, "terse", split=True),
    Shape(4000, 1000, "full"),
    Shape(4000, 1000, "terse", split=True),
    Shape(2000, 1200, "full", constrained=False),
    Shape(8000, 1500, "full"),
)
#: The shape of a model's first tasks in a role and size, before there is any record: the way moot asked before
#: it learned (the full brief, the format held, the whole task at once).
USUAL = SHAPES[2]


def prior(shape: Shape) -> tuple[float, float]:
    """The Beta prior of a shape's success: an answer not held to its format is expected to fail more often."""
    return (1.0, 3.0) if not shape.constrained else (1.0, 1.0)


@dataclass(frozen=True)
class TaskSize:
    """What moot can count about a task before it runs."""

    files: int
    context_tokens: int
    expected_output: int
    """Output tokens of similar past tasks (the same role and size), else a default."""
    edits: int
    bucket: str
    """small, medium or large."""

    def describe(self) -> str:
        return (f"{self.bucket}: {self.files} file(s), {self.context_tokens} context tokens, ~{self.expected_output} "
                f"output tokens, {self.edits} edit(s)")


def bucket_of(files: int, tokens: int) -> str:
    for name, limit in SIZES:
        if tokens <= limit and files <= (1 if name == "small" else 3):
            return name
    return "large"


def size_task(store: Store | None, role: str, *, files: int, context_tokens: int, edits: int | None = None) -> TaskSize:
    """A task's size: its files and context, the output similar past tasks took, its edits (one per file when
    not known)."""
    edits = edits if edits is not None else max(1, files)
    first = bucket_of(files, context_tokens + DEFAULT_OUTPUT)
    expected = DEFAULT_OUTPUT
    if store is not None:
        rows = store.tables(SCHEMA).execute(
            "SELECT output_tokens FROM local_outcomes WHERE role = ? AND size = ? AND output_tokens > 0 "
            "ORDER BY id DESC LIMIT ?", (role, first, RECENT))
        found = [r["output_tokens"] for r in rows]
        if found:
            expected = int(statistics.median(found))
    return TaskSize(files, context_tokens, expected, edits, bucket_of(files, context_tokens + expected))


@dataclass
class Outcome:
    """What came of one local task (or query)."""

    model: str
    host: str
    role: str
    shape: str
    size: str
    run_id: str | None = None
    task_id: str | None = None
    candidate: int | None = None
    parsed: bool | None = None
    applied: bool | None = None
    tests_passed: bool | None = None
    verdict: str | None = None
    retried: bool = False
    escalated: bool = False
    reason: str | None = None
    output_tokens: int = 0
    latency_s: float | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def success(self) -> bool:
        """An edit that applied, its tests not failed, not blocked, not escalated; for a call with no edit (a task
        list, a verdict), its structure read at the first try."""
        if self.applied is None:
            return bool(self.parsed) and not self.retried
        return bool(self.applied) and self.tests_passed is not False and self.verdict != "BLOCK" \
            and not self.escalated


def record_outcome(store: Store, o: Outcome) -> None:
    def b(v: bool | None) -> int | None:
        return None if v is None else int(v)

    store.tables(SCHEMA).execute(
        "INSERT INTO local_outcomes (run_id, task_id, candidate, model, host, role, shape, size, parsed, applied, "
        "tests_passed, verdict, retried, escalated, reason, output_tokens, latency_s, created_at) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (o.run_id, o.task_id, o.candidate, o.model, o.host, o.role, o.shape, o.size, b(o.parsed), b(o.applied),
         b(o.tests_passed), o.verdict, int(o.retried), int(o.escalated), o.reason, o.output_tokens, o.latency_s,
         o.created_at))


def settle_run(store: Store, run_id: str, *, tests_passed: bool | None = None, verdict: str | None = None,
               escalated: bool | None = None, candidate: int | None = None) -> None:
    """What the run's tests, review and escalation said, on its local outcomes (they come after the tasks): those
    of one candidate when given (each candidate has its own tests and review), else all of the run's."""
    sets, args = [], []
    for column, value in (("tests_passed", tests_passed), ("verdict", verdict), ("escalated", escalated)):
        if value is not None:
            sets.append(f"{column} = ?")
            args.append(int(value) if isinstance(value, bool) else value)
    if sets:
        where = "run_id = ?" + (" AND candidate = ?" if candidate is not None else "")
        store.tables(SCHEMA).execute(f"UPDATE local_outcomes SET {', '.join(sets)} WHERE {where}",
                                     (*args, run_id, *([candidate] if candidate is not None else [])))


def record_share(store: Store, run_id: str, tasks: int, local_tasks: int, planner: str | None) -> None:
    store.tables(SCHEMA).execute(
        "INSERT INTO run_shares (run_id, tasks, local_tasks, planner, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id) DO UPDATE SET tasks = excluded.tasks, local_tasks = excluded.local_tasks",
        (run_id, tasks, local_tasks, planner, time.time()))


def _outcomes(store: Store, model: str, role: str | None = None, limit: int = 500) -> list[Outcome]:
    where, args = "model = ?", [model]
    if role is not None:
        where += " AND role = ?"
        args.append(role)
    rows = store.tables(SCHEMA).execute(
        f"SELECT * FROM local_outcomes WHERE {where} ORDER BY id DESC LIMIT ?", (*args, limit))
    fields = set(Outcome.__dataclass_fields__)
    out = []
    for r in rows:
        d = {k: r[k] for k in r.keys() if k in fields}  # noqa: SIM118  (a row, not a dict)
        for k in ("parsed", "applied", "tests_passed"):
            d[k] = None if d[k] is None else bool(d[k])
        d["retried"], d["escalated"] = bool(d["retried"]), bool(d["escalated"])
        out.append(Outcome(**d))
    return out


@dataclass(frozen=True)
class ShapeStats:
    shape: Shape
    tried: int
    succeeded: int

    @property
    def rate(self) -> float | None:
        return self.succeeded / self.tried if self.tried else None


@dataclass(frozen=True)
class ShapeChoice:
    """The shape chosen for one local query, with the evidence."""

    model: str
    alias: str
    role: str
    size: TaskSize
    shape: Shape
    stats: ShapeStats
    predicted_s: float | None
    local: bool
    """False: no shape is likely enough to succeed; the task is better sent to the hosted model."""
    explored: bool
    """The shape was not the one with the best record (the bandit tried another)."""
    sampled: float
    table: tuple[ShapeStats, ...]

    def describe(self) -> str:
        s = self.stats
        evidence = (f"{s.succeeded} of {s.tried} recent {self.role} tasks ({self.size.bucket}) at this shape applied "
                    f"and passed" if s.tried else f"no {self.role} task ({self.size.bucket}) tried at this shape yet")
        when = f", predicted {self.predicted_s:.0f} s" if self.predicted_s is not None else ""
        head = f"{self.alias}, {self.shape.describe()}: {evidence}{when}"
        if self.explored:
            head += " (trying it: its record is short)"
        elif not s.tried and not any(t.tried for t in self.table):
            head += " (the usual shape, until there is a record)"
        if not self.local:
            head += f"; likely success {self.sampled:.0%} < {LOCAL_FLOOR:.0%}: the hosted model is better"
        return head

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "alias": self.alias, "role": self.role, "size": asdict(self.size),
                "shape": self.shape.key, "tried": self.stats.tried, "succeeded": self.stats.succeeded,
                "predicted_s": self.predicted_s, "local": self.local, "explored": self.explored,
                "reason": self.describe()}


def shape_table(store: Store, model: str, role: str, bucket: str | None = None) -> list[ShapeStats]:
    """Per shape: the recent tries and successes of ``model`` in ``role`` (at one size, when given)."""
    outcomes = [o for o in _outcomes(store, model, role) if bucket is None or o.size == bucket]
    out = []
    for shape in SHAPES:
        mine = [o for o in outcomes if o.shape == shape.key][:RECENT]
        out.append(ShapeStats(shape, len(mine), sum(o.success for o in mine)))
    return out


def choose_shape(store: Store, model: ModelConfig, role: str, size: TaskSize, *,
                 predict: Callable[[Shape], float | None], limit_s: float,
                 rng: random.Random | None = None) -> ShapeChoice:
    """The shape for ``model``'s next ``role`` query of ``size``: Thompson sampling over the shapes whose
    predicted latency fits ``limit_s`` (a shape without a prediction fits), from their record at this size."""
    rng = rng or random.Random()
    table = shape_table(store, model.model, role, size.bucket)
    fitting = []
    for st in table:
        if st.shape.context > (model.num_ctx or 1 << 20) * 0.75:
            continue  # no room for the answer in the window
        p = predict(st.shape)
        if p is None or p <= limit_s:
            fitting.append((st, p))
    if not fitting:  # nothing fits: the smallest, predicted over the limit
        st = min(table, key=lambda s: (s.shape.context + s.shape.output))
        fitting = [(st, predict(st.shape))]
    if not any(st.tried for st in table) and (usual := next((f for f in fitting if f[0].shape == USUAL), None)):
        st, p = usual  # nothing on record yet: the usual shape, and the record begins
        return ShapeChoice(model.model, model.name, role, size, st.shape, st, p, local=True, explored=False,
                           sampled=0.5, table=tuple(table))
    draws = []
    for st, p in fitting:
        a, b = prior(st.shape)
        draws.append((rng.betavariate(a + st.succeeded, b + st.tried - st.succeeded), st, p))
    sampled, st, p = max(draws, key=lambda d: d[0])
    best_known = max(fitting, key=lambda f: ((f[0].succeeded + 1) / (f[0].tried + 2), f[0].tried))[0]
    return ShapeChoice(model.model, model.name, role, size, st.shape, st, p, local=sampled >= LOCAL_FLOOR,
                       explored=st.shape != best_known.shape, sampled=sampled, table=tuple(table))


def summary(store: Store, *, runs: int = 30) -> dict[str, Any]:
    """The outcomes view: per local model and role, success by shape and by size, a recent series, and the
    share of each recent run's tasks done locally (oldest first)."""
    rows = list(store.tables(SCHEMA).execute("SELECT * FROM local_outcomes ORDER BY id"))
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        groups.setdefault((r["model"], r["role"]), []).append(r)
    models = []
    for (model, role), rs in sorted(groups.items()):
        def ok(r: Any) -> bool:
            if r["applied"] is None:
                return bool(r["parsed"]) and not r["retried"]
            return bool(r["applied"]) and r["tests_passed"] != 0 and r["verdict"] != "BLOCK" and not r["escalated"]

        by_shape: dict[str, list[int]] = {}
        by_size: dict[str, list[int]] = {}
        for r in rs:  # each one's outcomes in order: 1 succeeded, 0 not
            by_shape.setdefault(r["shape"], []).append(int(ok(r)))
            by_size.setdefault(r["size"], []).append(int(ok(r)))

        def counts(d: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
            return {k: {"tried": len(v), "succeeded": sum(v), "recent": v[-30:]} for k, v in sorted(d.items())}

        models.append({"model": model, "role": role, "tried": len(rs), "succeeded": sum(map(ok, rs)),
                       "by_shape": counts(by_shape), "by_size": counts(by_size),
                       "recent": [int(ok(r)) for r in rs[-60:]]})
    shares = list(store.tables(SCHEMA).execute(
        "SELECT * FROM run_shares ORDER BY created_at DESC LIMIT ?", (runs,)))[::-1]
    return {"models": models,
            "runs": [{"run_id": r["run_id"], "tasks": r["tasks"], "local_tasks": r["local_tasks"],
                      "share": round(r["local_tasks"] / r["tasks"], 3) if r["tasks"] else None,
                      "planner": r["planner"]} for r in shares]}


def local_brief(store: Store, models: list[ModelConfig]) -> str:
    """What a hosted planner is told about the local models, so that it sizes tasks to fit them: each one's
    measured speed, window and success by task size."""
    from .analyse import Analyser
    from .store import host_of

    analyser = Analyser(store)
    lines = []
    for m in models:
        st = analyser.stats(m.model, host_of(m))
        speed = f"{st.eval_rate.median:.0f} tokens/s" if st is not None and st.eval_rate is not None else \
            "speed not measured yet"
        window = f"a {m.num_ctx}-token window" if m.num_ctx else "its default window"
        outcomes = _outcomes(store, m.model)
        sizes = []
        for bucket in ("small", "medium", "large"):
            mine = [o for o in outcomes if o.size == bucket]
            if mine:
                sizes.append(f"{bucket} tasks {sum(o.success for o in mine)} of {len(mine)}")
        record = "; succeeded: " + ", ".join(sizes) if sizes else "; no tasks on record yet"
        lines.append(f"- {m.name} ({m.model}): {speed}, {window}{record}")
    if not lines:
        return ""
    return ("Local models will carry out the tasks they can, and are much cheaper than you. What they managed so "
            "far:\n" + "\n".join(lines) + "\nSize each task so a local model can do it: one or two files, a "
            f"small change (small tasks are up to about {SIZES[0][1]} tokens of context and answer). Split bigger "
            "work into several such tasks.")


def shape_json(shape: Shape) -> str:
    return json.dumps(asdict(shape))
