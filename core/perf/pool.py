"""Host pools: one model served by several hosts (Ollama hosts, or OpenAI-compatible servers), each call sent to
the host with the best predicted latency under its current load, and on to the next when one is down.

    picks = await order(model, store, prompt_tokens=1200, output_tokens=600)
    picks[0].host, picks[0].reason   # "http://gpu2:11434: predicted 4.1 s (eval 95 tok/s), loaded, 0 in flight"

A host's prediction comes from the perf store (an Ollama host: its eval and prompt rates and load time, loaded
or not as its ``/api/ps`` says) or from this module's own record of calls (any other server: its output rate);
it is multiplied by one plus the calls moot has in flight there, since a host answers them in turn. A host
that failed is tried last for ``DOWN_S`` seconds. Every call's host, why it was chosen and how it went is a row
of ``host_calls``, which ``moot perf`` and the perf panel read (each host's share, speed and failures).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..storage import Schema
from .analyse import Analyser, same_model

if TYPE_CHECKING:
    from ..config.models import ModelConfig
    from ..storage import Store

#: A host that failed goes to the end of the order for this long (seconds).
DOWN_S = 30.0
#: How long an Ollama host's list of loaded models is believed (seconds).
PS_TTL_S = 5.0
#: How long asking a host for its loaded models may take before it is left unasked.
PS_TIMEOUT_S = 1.0
#: How many recent calls per host and model the output rate of a non-Ollama host is read from.
RECENT = 20

SCHEMA = Schema(
    owner="moot.core.perf.pool",
    tables=("host_calls",),
    migrations=(
        (
            "p001_host_calls",
            """
            CREATE TABLE host_calls (
                id            INTEGER PRIMARY KEY AUTOINCREMENT,
                alias         TEXT NOT NULL,          -- the model's alias
                model         TEXT NOT NULL,          -- its model string
                host          TEXT NOT NULL,          -- the api_base the call went to
                ok            INTEGER NOT NULL,       -- 1: answered; 0: failed there
                failed_over   INTEGER NOT NULL DEFAULT 0,  -- 1: it failed before any text and the next host was tried
                error         TEXT,
                predicted_s   REAL,
                in_flight     INTEGER NOT NULL DEFAULT 0,  -- moot's other calls at that host when it was chosen
                reason        TEXT NOT NULL,          -- why this host, in words
                output_tokens INTEGER NOT NULL DEFAULT 0,
                latency_s     REAL,
                created_at    REAL NOT NULL
            );
            CREATE INDEX host_calls_host ON host_calls(host, model, created_at);
            """,
        ),
    ),
)


@dataclass(frozen=True)
class Pick:
    """One host of a pool, in the order a call tries them."""

    host: str
    predicted_s: float | None
    in_flight: int
    loaded: bool | None
    down: bool
    reason: str


class _Live:
    """What this process knows right now: calls in flight per host, hosts that just failed, loaded models."""

    def __init__(self) -> None:
        self.in_flight: Counter[str] = Counter()
        self.down_until: dict[str, float] = {}
        self.loaded: dict[str, tuple[float, frozenset[str] | None]] = {}

    def begin(self, host: str) -> None:
        self.in_flight[host] += 1

    def end(self, host: str) -> None:
        self.in_flight[host] = max(0, self.in_flight[host] - 1)

    def failed(self, host: str) -> None:
        self.down_until[host] = time.monotonic() + DOWN_S
        self.loaded.pop(host, None)

    def answered(self, host: str) -> None:
        self.down_until.pop(host, None)

    def is_down(self, host: str) -> bool:
        return self.down_until.get(host, 0.0) > time.monotonic()


LIVE = _Live()


async def _loaded_models(model: ModelConfig, host: str) -> frozenset[str] | None:
    """The models an Ollama ``host`` has loaded (``/api/ps``, believed for ``PS_TTL_S``); None when unknown."""
    kind = model.provider_kind
    if not kind.loaded:
        return None
    kept = LIVE.loaded.get(host)
    if kept is not None and time.monotonic() - kept[0] < PS_TTL_S:
        return kept[1]
    from ..providers.ollama import resolve_host

    found: frozenset[str] | None = None
    try:
        running = await asyncio.wait_for(kind.function("loaded")(resolve_host(host)), PS_TIMEOUT_S)
        found = frozenset(str(m.get("model") or "") for m in running)
    except Exception:  # a host that does not answer is unknown here; the call itself finds out
        found = None
    LIVE.loaded[host] = (time.monotonic(), found)
    return found


def _rate(store: Store | None, model: ModelConfig, host: str) -> tuple[float, float] | None:
    """(output tokens per second, seconds before them) of recent answered calls to a non-Ollama host."""
    if store is None:
        return None
    rows = store.tables(SCHEMA).execute(
        "SELECT output_tokens, latency_s FROM host_calls WHERE host = ? AND model = ? AND ok = 1 "
        "AND latency_s > 0 AND output_tokens > 0 ORDER BY id DESC LIMIT ?", (host, model.model, RECENT))
    rates = [r["output_tokens"] / r["latency_s"] for r in rows]
    return (statistics.median(rates), 0.0) if rates else None


def _predict(model: ModelConfig, host: str, store: Store | None, prompt_tokens: int, output_tokens: int,
             loaded: bool | None) -> tuple[float | None, str]:
    """The predicted seconds of a call on ``host`` and what the prediction rests on."""
    if store is None:
        return None, "no figures"
    if model.provider_kind.reports_speed:  # the perf store has its engine's figures
        from .store import host_of

        key = host_of(model.on_host(host))
        p = Analyser(store).predict(model.model, key, prompt_tokens, output_tokens, loaded=loaded)
        return (p.seconds, p.basis) if p is not None else (None, "no figures yet")
    rate = _rate(store, model, host)
    if rate is None:
        return None, "no figures yet"
    return output_tokens / rate[0], f"{rate[0]:.0f} tok/s over its recent calls"


async def order(model: ModelConfig, store: Store | None, *, prompt_tokens: int, output_tokens: int) -> list[Pick]:
    """The pool's hosts in the order a call tries them: the lowest predicted wait first (a host without figures
    counts as the median of the others, ahead of them on a tie so that it gets measured), hosts that just
    failed last; the pool's own order breaks ties."""
    hosts = list(model.pool) or ([model.api_base] if model.api_base else [])
    loaded_sets = await asyncio.gather(*(_loaded_models(model, h) for h in hosts))
    picks: list[Pick] = []
    for host, models in zip(hosts, loaded_sets, strict=True):
        loaded = None if models is None else any(same_model(model.model, m) for m in models)
        predicted, basis = _predict(model, host, store, prompt_tokens, output_tokens, loaded)
        picks.append(Pick(host, predicted, LIVE.in_flight[host], loaded, LIVE.is_down(host), basis))
    known = [p.predicted_s for p in picks if p.predicted_s is not None]
    typical = statistics.median(known) if known else 1.0

    def wait(p: Pick) -> float:
        base = p.predicted_s if p.predicted_s is not None else typical * 0.999
        return base * (1 + p.in_flight)

    ranked = sorted(range(len(picks)), key=lambda i: (picks[i].down, round(wait(picks[i]), 6), i))
    out = []
    for i in ranked:
        p = picks[i]
        words = [f"predicted {p.predicted_s:.1f} s ({p.reason})" if p.predicted_s is not None else p.reason]
        if p.loaded is not None:
            words.append("model loaded" if p.loaded else "model not loaded")
        words.append(f"{p.in_flight} in flight")
        if p.down:
            words.append(f"failed in the last {DOWN_S:.0f} s")
        out.append(Pick(p.host, p.predicted_s, p.in_flight, p.loaded, p.down, f"{p.host}: {', '.join(words)}"))
    return out


def expected_output(store: Store | None, model: ModelConfig) -> int | None:
    """The median output of the model's recent answered calls through its pool (None before any)."""
    if store is None:
        return None
    rows = store.tables(SCHEMA).execute(
        "SELECT output_tokens FROM host_calls WHERE alias = ? AND ok = 1 AND output_tokens > 0 "
        "ORDER BY id DESC LIMIT ?", (model.name, RECENT))
    found = [r["output_tokens"] for r in rows]
    return int(statistics.median(found)) if found else None


def record(store: Store | None, model: ModelConfig, pick: Pick, *, ok: bool, failed_over: bool = False,
           error: str | None = None, output_tokens: int = 0, latency_s: float | None = None) -> None:
    """Keep how one call to ``pick.host`` went."""
    if store is None:
        return
    store.tables(SCHEMA).execute(
        "INSERT INTO host_calls (alias, model, host, ok, failed_over, error, predicted_s, in_flight, reason, "
        "output_tokens, latency_s, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (model.name, model.model, pick.host, int(ok), int(failed_over), error, pick.predicted_s, pick.in_flight,
         pick.reason, output_tokens, latency_s, time.time()))


def summary(store: Store, *, since: float | None = None) -> list[dict[str, Any]]:
    """Per pooled model and host: calls, answered, share of the model's answered calls, failures, failovers,
    the median output tokens per second of wall time (waiting at the host included) and the last reason it was
    chosen."""
    rows = list(store.tables(SCHEMA).execute(
        "SELECT * FROM host_calls WHERE created_at >= ? ORDER BY id", (since or 0.0,)))
    answered_of = Counter(r["alias"] for r in rows if r["ok"])
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        groups.setdefault((r["alias"], r["host"]), []).append(r)
    out = []
    for (alias, host), calls in sorted(groups.items()):
        answered = [c for c in calls if c["ok"]]
        rates = [c["output_tokens"] / c["latency_s"] for c in answered if c["latency_s"] and c["output_tokens"]]
        out.append({"alias": alias, "model": calls[-1]["model"], "host": host, "calls": len(calls),
                    "answered": len(answered), "share": round(len(answered) / max(1, answered_of[alias]), 3),
                    "failures": len(calls) - len(answered), "failovers": sum(c["failed_over"] for c in calls),
                    "wall_tokens_per_s": round(statistics.median(rates), 1) if rates else None,
                    "last_reason": calls[-1]["reason"]})
    return out
