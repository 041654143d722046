"""``moot perf``: how fast the local models run. ``--json`` prints one document, ``--watch`` refreshes every 2 s
until interrupted, ``moot perf bench MODEL`` measures a model and prints its profile."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import TYPE_CHECKING

from moot.core.config import LoadedConfig
from moot.core.text import control, terminal_safe

from .commands import dump_json
from .main import EXIT_FAILED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from moot.core.perf.analyse import Spread
    from moot.core.perf.bench import BenchResult, BenchRow
    from moot.core.perf.hosts import PerfMonitor, PerfSnapshot
    from moot.core.storage import Store

WATCH_INTERVAL_S = 2.0
_CLEAR = "\x1b[H\x1b[2J"


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def perf(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if getattr(args, "perf_command", None) == "bench":
        return bench(args, loaded)
    from moot.core.perf.hosts import PerfMonitor
    from moot.core.storage import Store

    store = Store()
    monitor = PerfMonitor(loaded.config, store)
    try:
        if getattr(args, "watch", False):
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watch ends
                asyncio.run(_watch(monitor, bool(args.json)))
            return EXIT_OK
        snap = asyncio.run(monitor.refresh())
    finally:
        store.close()
    sys.stdout.write(dump_json(snap.to_json()) + "\n" if args.json else render(snap))
    return EXIT_OK


async def _pause(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def _watch(monitor: PerfMonitor, as_json: bool) -> None:
    while True:
        snap = await monitor.refresh()
        if as_json:
            sys.stdout.write(dump_json(snap.to_json(), indent=None) + "\n")
        else:
            if sys.stdout.isatty():
                control(sys.stdout, _CLEAR)
            sys.stdout.write(render(snap) + "\n")
        sys.stdout.flush()
        await _pause(WATCH_INTERVAL_S)


# ----------------------------------------------------------------------------------------------- tables


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _expires(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    m, s = divmod(int(seconds), 60)
    return f"in {m}m {s:02d}s" if m else f"in {s}s"


def _spread(s: Spread | None, digits: int) -> str:
    if s is None:
        return "-"
    return f"{s.median:.{digits}f} ({s.p5:.{digits}f}–{s.p95:.{digits}f})"


def _table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]


def render(snap: PerfSnapshot) -> str:
    """The human view of a snapshot: hosts and their loaded models, measured figures, recent reloads."""
    out = ["Hosts"]
    for h in snap.hosts.hosts:
        if not h.reachable:
            out.append(f"  {h.host}  unreachable: {h.error or 'no answer'}")
            continue
        label = "engine" if h.host == "embedded" else "version"
        out.append(f"  {h.host}  up ({label} {h.version or '?'})" + (f"  {h.error}" if h.error else ""))
        if h.loaded:
            rows = [[m.model, _bytes(m.size), _bytes(m.size_vram), m.processor, str(m.context_length or "-"),
                     _expires(m.expires_in_s)] for m in h.loaded]
            out += _table(["MODEL", "SIZE", "VRAM", "PROCESSOR", "CONTEXT", "UNTIL UNLOAD"], rows, "    ")
        elif not h.error:
            out.append("    no models loaded")
    out.append("")
    out.append("Measured (median and 90% interval over recent calls)")
    if snap.models:
        rows = [[m.model, m.host, str(m.samples), _spread(m.eval_rate, 1), _spread(m.prompt_eval_rate, 0),
                 _spread(m.load_s, 2), str(m.reloads)] for m in snap.models]
        out += _table(["MODEL", "HOST", "SAMPLES", "EVAL tok/s", "PROMPT tok/s", "LOAD s", "RELOADS"], rows)
    else:
        out.append("  no local models configured and no figures yet (try: moot perf bench MODEL)")
    if snap.pools:
        out.append("")
        out.append("Pools (each model's calls by host)")
        rows = [[p["alias"], p["host"], str(p["answered"]), f"{p['share']:.0%}", str(p["failures"]),
                 str(p["failovers"]), f"{p['wall_tokens_per_s']:.1f}" if p["wall_tokens_per_s"] else "-"]
                for p in snap.pools]
        out += _table(["MODEL", "HOST", "ANSWERED", "SHARE", "FAILED", "HANDED ON", "WALL tok/s"], rows)
        out += [f"  last chosen: {terminal_safe(p['last_reason'])}" for p in snap.pools]
    if snap.reloads:
        out.append("")
        out.append("Recent reloads")
        for s in snap.reloads:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.created_at))
            out.append(f"  {when}  {s.reload_reason or s.model}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------ bench


def bench(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.core.storage import Store

    store = Store()
    try:
        return asyncio.run(_bench(args, loaded, store))
    finally:
        store.close()


async def _bench(args: argparse.Namespace, loaded: LoadedConfig, store: Store) -> int:
    from moot.core.discovery import add_ollama_defaults
    from moot.core.perf.bench import CASES, run_bench
    from moot.core.providers.base import close_backends

    model = loaded.config.model(args.model)
    if model is None and loaded.defaulted_models:
        await add_ollama_defaults(loaded)
        model = loaded.config.model(args.model)
    if model is None:
        err(f"moot: unknown model {args.model!r} (known: {', '.join(loaded.config.aliases) or 'none'})")
        return EXIT_USAGE
    if not model.is_local:
        err(f"moot: {args.model} is {model.model}, not a local model: only ollama/ and local/ models are benchmarked")
        return EXIT_USAGE

    def progress(row: BenchRow) -> None:
        state = f"{_rate(row.eval_rate)} tok/s eval, {row.seconds:.1f} s" if row.ok else f"failed: {row.error}"
        err(f"moot: bench {row.case.name}: {state}")

    err(f"moot: bench {model.name} ({model.model}): {len(CASES)} cases")
    try:
        result = await run_bench(model, store, on_row=progress)
    finally:
        await close_backends()
    if getattr(args, "json", False):
        print(dump_json(result.to_json()))
    else:
        sys.stdout.write(render_bench(result))
    return EXIT_OK if result.ok else EXIT_FAILED


def _rate(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def render_bench(result: BenchResult) -> str:
    out = [f"Bench of {result.alias} ({result.model}) on {result.host}"]
    rows = [[r.case.name, str(r.prompt_tokens), str(r.output_tokens), _rate(r.prompt_eval_rate, 0),
             _rate(r.eval_rate), _rate(r.load_s, 2), f"{r.seconds:.2f}", "ok" if r.ok else f"failed: {r.error}"]
            for r in result.rows]
    out += _table(["CASE", "PROMPT", "OUTPUT", "PROMPT tok/s", "EVAL tok/s", "LOAD s", "TIME s", ""], rows)
    p = result.profile
    if p is not None:
        out.append("")
        out.append(f"Profile over {p.samples} bench samples (median and 90% interval):")
        out.append(f"  eval {_spread(p.eval_rate, 1)} tok/s, prompt {_spread(p.prompt_eval_rate, 0)} tok/s, "
                   f"load {_spread(p.load_s, 2)} s, cold load {_spread(p.cold_load_s, 2)} s")
    return "\n".join(out) + "\n"
