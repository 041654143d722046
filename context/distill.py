"""Distillation: a model-written digest of an earlier phase, handed to later ones instead of its raw output.

Under the ``distilled`` context strategy (``[context] strategy``), what one phase produced (a plan, a set of
proposals) is condensed by a model into its key decisions, constraints and risks, and later phases see that
digest. It is stored with the run (table ``distillations``), so a resumed run and ``moot show`` use the same
text, and the call itself is logged like every other (phase ``distill``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from moot.core.calls import CallContext, run_call
from moot.core.config.models import ModelConfig
from moot.core.events import Event
from moot.core.providers.base import Params
from moot.core.storage import Schema, Store
from moot.core.storage.redact import redact
from moot.core.tokens import count_tokens

#: The distillations kept with their runs; this module alone reads and writes them.
SCHEMA = Schema(
    owner="moot.context.distill",
    tables=("distillations",),
    migrations=(
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
    ),
)

PROMPT = """\
Condense the text below for the engineers who will carry it out. They will not see the original.

Keep, as short bullet lists under these three headings and nothing else:
## Key decisions
(what is to be done and how: files, names, interfaces, order)
## Constraints
(what must hold: compatibility, limits, conventions, things not to touch)
## Risks
(what could go wrong and how to notice)

Keep every file path, identifier and number exactly as written. Leave out reasoning, alternatives that were
rejected and anything already said once. Use at most about {limit} words.

The text ({source}):

{text}
"""


class DistillError(Exception):
    """The model could not distil the text (its call failed or it answered nothing)."""


@dataclass(frozen=True)
class Distillation:
    run_id: str | None
    source: str
    model_alias: str
    text: str
    source_tokens: int
    tokens: int


def stored(store: Store, run_id: str, source: str) -> Distillation | None:
    """The distillation of ``source`` kept with ``run_id``, if there is one."""
    rows = store.tables(SCHEMA).execute("SELECT * FROM distillations WHERE run_id = ? AND source = ?", (run_id, source))
    if not rows:
        return None
    r = rows[0]
    return Distillation(r["run_id"], r["source"], r["model_alias"], r["text"], r["source_tokens"], r["tokens"])


async def distill(text: str, model: ModelConfig, *, source: str = "plan", store: Store | None = None,
                  run_id: str | None = None, max_words: int = 250,
                  on_event: Callable[[Event], None] | None = None) -> Distillation:
    """Ask ``model`` for the digest of ``text``; with ``store`` and ``run_id``, keep it with the run (a digest
    already kept is returned without a call).

    Raises:
        DistillError: the call failed or the answer was empty.
    """
    if store is not None and run_id is not None and (kept := stored(store, run_id, source)) is not None:
        return kept
    messages = [{"role": "user", "content": PROMPT.format(limit=max_words, source=source, text=text.strip())}]
    result = await run_call(model, messages, Params(max_tokens=max(256, max_words * 3)),
                            ctx=CallContext(store, run_id, "distill", label=source), on_event=on_event)
    digest = redact(result.text.strip())
    if not result.ok or not digest:
        why = f"{result.error.kind}: {result.error.message}" if result.error else "an empty answer"
        raise DistillError(f"{model.name} could not distil the {source}: {why}")
    found = Distillation(run_id, source, model.name, digest, count_tokens(text, model.model),
                         count_tokens(digest, model.model))
    if store is not None and run_id is not None:
        store.tables(SCHEMA).execute(
            "INSERT OR REPLACE INTO distillations (run_id, source, model_alias, text, source_tokens, tokens, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, source, model.name, digest, found.source_tokens, found.tokens, time.time()),
        )
    return found
