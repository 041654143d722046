"""The perf store: every local call's figures, one row in ``perf_samples`` each, keyed by host and model.

``PerfStore`` wraps moot's ``Store`` (one SQLite file) and owns the perf SQL. ``record`` runs reload detection
against the model's recent samples, stores the verdict with the sample, and logs a reload as a warning on the
``moot.perf`` logger.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import reload as reload_mod
from .tables import SCHEMA

if TYPE_CHECKING:
    from ..config.models import ModelConfig
    from ..events import Perf
    from ..storage import Store

log = logging.getLogger("moot.perf")

EMBEDDED_HOST = "embedded"
"""The host name under which the embedded engine's figures are kept."""

HISTORY = 50
"""How many recent samples per host and model the analyser and reload detection look at."""

_COLUMNS = (
    "host", "model", "source", "call_id", "prompt_tokens", "output_tokens", "num_ctx", "prompt_eval_count",
    "prompt_eval_ns", "eval_count", "eval_ns", "load_ns", "total_ns", "ttft_s", "latency_s", "reloaded",
    "reload_reason", "created_at",
)


def _rate(count: int, duration_ns: int) -> float | None:
    """Tokens per second, with a single rounding (integer nanoseconds times 1e9 are exact)."""
    return count * 1_000_000_000 / duration_ns if count > 0 and duration_ns > 0 else None


@dataclass(frozen=True, slots=True)
class Sample:
    """The figures of one local call. Counts are tokens, durations nanoseconds, as the server reports them."""

    host: str
    """An Ollama base URL, or ``embedded``."""
    model: str
    """The backend model string, e.g. ``ollama/qwen2.5-coder:7b``."""
    source: str = "call"
    """``call`` (real work) or ``bench`` (``moot perf bench``)."""
    prompt_tokens: int = 0
    """The request's prompt, a cached prefix included: the size a prediction is asked for."""
    output_tokens: int = 0
    num_ctx: int | None = None
    prompt_eval_count: int = 0
    """Prompt tokens the engine evaluated (a cached prefix is not evaluated again)."""
    prompt_eval_ns: int = 0
    eval_count: int = 0
    eval_ns: int = 0
    load_ns: int = 0
    total_ns: int = 0
    ttft_s: float | None = None
    latency_s: float | None = None
    call_id: int | None = None
    reloaded: bool = False
    reload_reason: str | None = None
    created_at: float = 0.0
    """Unix time; ``PerfStore.record`` fills it in when left at 0."""
    id: int | None = None

    @property
    def eval_rate(self) -> float | None:
        """Generated tokens per second, or None when the figures do not say."""
        return _rate(self.eval_count, self.eval_ns)

    @property
    def prompt_eval_rate(self) -> float | None:
        """Prompt tokens per second, or None when the figures do not say (a fully cached prompt)."""
        return _rate(self.prompt_eval_count, self.prompt_eval_ns)

    @property
    def load_s(self) -> float:
        return self.load_ns / 1e9

    @classmethod
    def from_perf(
        cls,
        host: str,
        model: str,
        perf: Perf,
        *,
        prompt_tokens: int | None = None,
        output_tokens: int | None = None,
        **fields: Any,
    ) -> Sample:
        """A sample from a call's ``Perf`` event; token counts default to the evaluated ones."""
        return cls(
            host=host,
            model=model,
            prompt_tokens=perf.prompt_eval_count if prompt_tokens is None else prompt_tokens,
            output_tokens=perf.eval_count if output_tokens is None else output_tokens,
            prompt_eval_count=perf.prompt_eval_count,
            prompt_eval_ns=perf.prompt_eval_duration,
            eval_count=perf.eval_count,
            eval_ns=perf.eval_duration,
            load_ns=perf.load_duration,
            total_ns=perf.total_duration,
            ttft_s=perf.ttft_s or None,
            **fields,
        )

    @classmethod
    def from_row(cls, row: Any) -> Sample:
        d = dict(row)
        d["reloaded"] = bool(d["reloaded"])
        return cls(**{k: d[k] for k in (*_COLUMNS, "id")})


class PerfStore:
    """Perf samples and routing decisions in moot's database.

    Args:
        store: moot's ``Store``.
        clock: the time source for ``created_at`` (tests pass a fixed one).
        keep_alive_s: how long an idle model stays loaded, for reload detection.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        keep_alive_s: float = reload_mod.KEEP_ALIVE_S,
    ):
        self.store = store
        self.clock = clock
        self.keep_alive_s = keep_alive_s

    # ----------------------------------------------------------------------------------------- samples

    def record(self, sample: Sample, *, was_loaded: bool | None = None) -> Sample:
        """Store ``sample`` after reload detection; returns it as stored (with ``id`` and ``reloaded``).

        ``was_loaded`` says whether the server listed the model as loaded before the call, when known.
        """
        if not sample.created_at:
            sample = replace(sample, created_at=self.clock())
        history = self.samples(sample.model, sample.host, limit=HISTORY)
        verdict = reload_mod.detect(history, sample, was_loaded=was_loaded, keep_alive_s=self.keep_alive_s)
        if verdict.reloaded:
            sample = replace(sample, reloaded=True, reload_reason=verdict.reason)
            log.warning("%s", verdict.reason)
        values = tuple(getattr(sample, c) for c in _COLUMNS)
        marks = ", ".join("?" for _ in _COLUMNS)
        rows = self.store.tables(SCHEMA).execute(
            f"INSERT INTO perf_samples ({', '.join(_COLUMNS)}) VALUES ({marks}) RETURNING id", values
        )
        return replace(sample, id=int(rows[0][0]))

    def samples(
        self,
        model: str | None = None,
        host: str | None = None,
        *,
        limit: int = HISTORY,
        source: str | None = None,
    ) -> list[Sample]:
        """Recent samples, newest first, optionally of one model, one host, one source."""
        where, args = self._where(model=model, host=host, source=source)
        rows = self.store.tables(SCHEMA).execute(
            f"SELECT * FROM perf_samples{where} ORDER BY created_at DESC, id DESC LIMIT ?", (*args, limit)
        )
        return [Sample.from_row(r) for r in rows]

    def series(self) -> list[tuple[str, str]]:
        """Every (host, model) with samples, the most recently used first."""
        rows = self.store.tables(SCHEMA).execute(
            "SELECT host, model, MAX(created_at) AS last FROM perf_samples GROUP BY host, model "
            "ORDER BY last DESC, host, model"
        )
        return [(r["host"], r["model"]) for r in rows]

    def reloads(self, *, since: float | None = None, limit: int = 20) -> list[Sample]:
        """Samples that showed a reload, newest first."""
        sql, args = "SELECT * FROM perf_samples WHERE reloaded = 1", []
        if since is not None:
            sql += " AND created_at >= ?"
            args.append(since)
        rows = self.store.tables(SCHEMA).execute(sql + " ORDER BY created_at DESC, id DESC LIMIT ?", (*args, limit))
        return [Sample.from_row(r) for r in rows]

    @staticmethod
    def _where(**filters: Any) -> tuple[str, tuple[Any, ...]]:
        used = {k: v for k, v in filters.items() if v is not None}
        if not used:
            return "", ()
        return " WHERE " + " AND ".join(f"{k} = ?" for k in used), tuple(used.values())

    # --------------------------------------------------------------------------------------- decisions

    def record_decision(self, row: dict[str, Any]) -> int:
        """Write one routing decision (the columns of ``route_decisions``); returns its id."""
        row = {**row, "created_at": row.get("created_at") or self.clock()}
        if isinstance(row.get("adjustments"), dict):
            row["adjustments"] = json.dumps(row["adjustments"])
        cols = list(row)
        rows = self.store.tables(SCHEMA).execute(
            f"INSERT INTO route_decisions ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) RETURNING id",
            tuple(row[c] for c in cols),
        )
        return int(rows[0][0])

    def decisions(self, run_id: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
        """Stored routing decisions, newest first; ``adjustments`` decoded."""
        where, args = self._where(run_id=run_id)
        rows = self.store.tables(SCHEMA).execute(
            f"SELECT * FROM route_decisions{where} ORDER BY created_at DESC, id DESC LIMIT ?", (*args, limit)
        )
        out = []
        for r in rows:
            d = dict(r)
            d["adjustments"] = json.loads(d["adjustments"]) if d["adjustments"] else None
            out.append(d)
        return out


def host_of(model: ModelConfig) -> str:
    """Where ``model`` runs: its resolved Ollama base URL, or ``embedded``."""
    if model.provider_kind.in_process:
        return EMBEDDED_HOST
    from ..providers.ollama import resolve_host

    return resolve_host(model.api_base)


def record_call(
    store: Store,
    model: ModelConfig,
    perf: Perf,
    *,
    prompt_tokens: int,
    output_tokens: int,
    call_id: int | None,
    num_ctx: int | None,
    latency_s: float | None,
    source: str = "call",
) -> Sample | None:
    """Record the figures of one finished local call; a failure is logged, never raised (a call must not
    fail because its figures could not be kept)."""
    try:
        sample = Sample.from_perf(
            host_of(model), model.model, perf, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
            source=source, call_id=call_id or None, num_ctx=num_ctx, latency_s=latency_s,
        )
        return PerfStore(store).record(sample)
    except Exception as e:
        log.warning("perf figures of %s not recorded: %s: %s", model.model, type(e).__name__, e)
        return None


def perf_store(store: Store | PerfStore) -> PerfStore:
    """``store`` as a ``PerfStore``."""
    return store if isinstance(store, PerfStore) else PerfStore(store)
