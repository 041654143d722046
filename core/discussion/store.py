"""Discussions in the database: this module owns their tables (``SCHEMA``) and alone reads and writes them.

A discussion is a run of kind ``discussion`` (so the history lists it beside planning and execution runs);
its participants, every message of every round (with the exact prompt, redacted) and its digests are here.
"""

from __future__ import annotations

import json
import time
from typing import Any

from moot.core.storage import Schema, Store, Tables, redact

from .model import Digest, Discussion, Kind, Round, Said, Status

KIND = "discussion"

SCHEMA = Schema(
    owner="moot.core.discussion.store",
    tables=("discussions", "discussion_messages", "discussion_digests"),
    migrations=(
        (
            "d001_discussions",
            """
            CREATE TABLE discussions (
                run_id       TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
                participants TEXT NOT NULL,           -- JSON: model aliases in speaking order
                sequential   INTEGER NOT NULL DEFAULT 0,
                context      TEXT                     -- the scoped repository context of the first round
            );

            CREATE TABLE discussion_messages (
                run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                round_n     INTEGER NOT NULL,
                kind        TEXT NOT NULL,            -- open, round, mention, conclusion
                position    INTEGER NOT NULL,
                speaker     TEXT NOT NULL,            -- a model alias, or 'you' for the user's own message
                model       TEXT NOT NULL DEFAULT '',
                prompt_json TEXT NOT NULL DEFAULT '[]',
                text        TEXT NOT NULL DEFAULT '',
                status      TEXT NOT NULL,            -- done, failed, cancelled
                error       TEXT,
                prompt_tokens     INTEGER NOT NULL DEFAULT 0,
                completion_tokens INTEGER NOT NULL DEFAULT 0,
                cost_usd    REAL NOT NULL DEFAULT 0,
                latency_s   REAL,
                tokens_per_s REAL,
                call_id     INTEGER,
                PRIMARY KEY (run_id, round_n, position)
            );

            CREATE TABLE discussion_digests (
                run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                upto          INTEGER NOT NULL,       -- rounds 1..upto are condensed in it
                text          TEXT NOT NULL,
                source_tokens INTEGER NOT NULL,
                tokens        INTEGER NOT NULL,
                model         TEXT NOT NULL,
                created_at    REAL NOT NULL,
                PRIMARY KEY (run_id, upto)
            );
            """,
        ),
    ),
)


def _sql(store: Store) -> Tables:
    return store.tables(SCHEMA)


def create(store: Store, d: Discussion, *, project_dir: str | None) -> None:
    store.start_run(d.id, KIND, d.topic, None, project_dir)
    _sql(store).execute("INSERT INTO discussions (run_id, participants, sequential, context) VALUES (?, ?, ?, ?)",
                        (d.id, json.dumps(d.participants), int(d.sequential), redact(d.context or "") or None))


def set_participants(store: Store, run_id: str, participants: list[str]) -> None:
    """A model named with ``@`` joined the discussion."""
    _sql(store).execute("UPDATE discussions SET participants = ? WHERE run_id = ?", (json.dumps(participants), run_id))


def save_round(store: Store, run_id: str, r: Round) -> None:
    """Write (or rewrite) every message of ``r``."""
    for position, m in enumerate(r.messages):
        _sql(store).execute(
            "INSERT OR REPLACE INTO discussion_messages (run_id, round_n, kind, position, speaker, model, "
            "prompt_json, text, status, error, prompt_tokens, completion_tokens, cost_usd, latency_s, "
            "tokens_per_s, call_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, r.n, str(r.kind), position, m.speaker, m.model, redact(json.dumps(m.prompt)),
             redact(m.text), str(m.status), redact(m.error) if m.error else None, m.prompt_tokens,
             m.completion_tokens, m.cost_usd, m.latency_s, m.tokens_per_s, m.call_id),
        )


def save_digest(store: Store, run_id: str, digest: Digest) -> None:
    _sql(store).execute(
        "INSERT OR REPLACE INTO discussion_digests (run_id, upto, text, source_tokens, tokens, model, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (run_id, digest.upto, redact(digest.text), digest.source_tokens, digest.tokens, digest.model, time.time()),
    )


def set_status(store: Store, run_id: str, status: str, result: dict[str, Any] | None = None) -> None:
    """``open`` between rounds, ``running`` while one is in flight, ``done`` once concluded."""
    if status == "done":
        store.finish_run(run_id, status, result)
    else:
        store.set_run_status(run_id, status)


def load(store: Store, run_id: str) -> Discussion | None:
    """The discussion ``run_id`` (or a unique prefix), with its rounds, latest digest and conclusion."""
    head = store.run(run_id)
    if head is None or head["kind"] != KIND:
        return None
    full = head["id"]
    rows = _sql(store).execute("SELECT * FROM discussions WHERE run_id = ?", (full,))
    if not rows:
        return None
    row = rows[0]
    d = Discussion(id=full, topic=head["task"], participants=json.loads(row["participants"]),
                   sequential=bool(row["sequential"]), context=row["context"])
    rounds: dict[int, Round] = {}
    for m in _sql(store).execute("SELECT * FROM discussion_messages WHERE run_id = ? ORDER BY round_n, position",
                                 (full,)):
        r = rounds.setdefault(m["round_n"], Round(m["round_n"], Kind(m["kind"])))
        r.messages.append(Said(
            speaker=m["speaker"], model=m["model"], text=m["text"], status=Status(m["status"]), error=m["error"],
            prompt=json.loads(m["prompt_json"]), prompt_tokens=m["prompt_tokens"],
            completion_tokens=m["completion_tokens"], cost_usd=m["cost_usd"], latency_s=m["latency_s"],
            tokens_per_s=m["tokens_per_s"], call_id=m["call_id"],
        ))
    for n in sorted(rounds):
        r = rounds[n]
        if r.kind == Kind.CONCLUSION:
            d.conclusion = r.messages[0] if r.messages else None
        d.rounds.append(r)
    digests = _sql(store).execute("SELECT * FROM discussion_digests WHERE run_id = ? ORDER BY upto DESC LIMIT 1",
                                  (full,))
    if digests:
        g = digests[0]
        d.digest = Digest(g["upto"], g["text"], g["source_tokens"], g["tokens"], g["model"])
    return d
