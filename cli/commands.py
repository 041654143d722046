"""The headless commands. Progress goes to stderr, the result to stdout (or ``-o FILE``).

Everything a command prints goes through ``moot.core.text.clean`` (``dispatch`` guards stdout and stderr for
the length of the command): no key, and no character that could act on the terminal, whatever a task, a model
or a server put in the text. A file written with ``-o`` is cleaned the same way, and every JSON document is
cleaned string by string before it is encoded (``dump_json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from moot.core.config import ConfigError, LoadedConfig, load_config
from moot.core.text import clean, clean_data, guarded_output, one_line
from moot.core.words import plural

from .main import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def dispatch(args: argparse.Namespace) -> int:
    handlers = {"plan": plan, "models": models, "doctor": doctor, "history": history, "show": show,
                "context": context, "run": run, "review": _lazy("run_cmd", "review"),
                "accept": _lazy("run_cmd", "accept"), "reject": _lazy("run_cmd", "reject"),
                "undo": _lazy("run_cmd", "undo"), "perf": _lazy("perf_cmd", "perf"),
                "discuss": _lazy("discuss_cmd", "discuss"), "workflow": _lazy("workflow_cmd", "workflow"),
                "serve": _lazy("serve_cmd", "serve")}
    try:
        with guarded_output():
            loaded = load_config(Path.cwd())
            return handlers[args.command](args, loaded)
    except ConfigError as e:
        err(f"moot: config error: {e}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err("moot: interrupted")
        return 130


def run(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    """``moot run``: TASK (or ``--plan FILE``) through the workflow ``--workflow`` or ``[agents] workflow``
    names, ``feature-build`` unless set."""
    if getattr(args, "workflow", None) and args.resume:
        err("moot: --workflow takes a TASK or --plan (--resume RUN goes on with the workflow RUN ran)")
        return EXIT_USAGE
    return int(_lazy("run_cmd", "run")(args, loaded))


def _lazy(module: str, name: str) -> Any:
    """A handler imported only when its command runs."""

    def handler(args: argparse.Namespace, loaded: LoadedConfig) -> int:
        import importlib

        return int(getattr(importlib.import_module(f"{__package__}.{module}"), name)(args, loaded))

    return handler


def dump_json(doc: Any, indent: int | None = 2) -> str:
    """``doc`` as JSON, every string in it cleaned first (a key is found in the text, not in its JSON-escaped form,
    and a script that prints a string raw gets no terminal escape)."""
    return json.dumps(clean_data(doc), indent=indent)


def read_task(arg: str) -> str | None:
    """The task: ``arg``, or what stdin holds when it is ``-``. None, said on stderr, when it is not text (not
    UTF-8, or holding a NUL byte)."""
    where = "on stdin " if arg == "-" else ""
    try:
        if arg == "-":
            buffer = getattr(sys.stdin, "buffer", None)
            text = buffer.read().decode("utf-8-sig") if buffer is not None else sys.stdin.read()
        else:
            text = arg
            text.encode("utf-8")  # an argument that was not UTF-8 arrives with surrogates in it
    except UnicodeError:
        err(f"moot: the task {where}is not text (it is not valid UTF-8)")
        return None
    if "\x00" in text:
        err(f"moot: the task {where}is not text (it holds a NUL byte)")
        return None
    return text


def _emit(args: argparse.Namespace, text: str, *, export: bool = False) -> None:
    """The result on stdout, or in ``-o FILE``; an ``export`` (a plan as Markdown) never replaces a file the
    user edited since moot wrote it (``core.exports``)."""
    if getattr(args, "output", None) and export:
        from moot.core.exports import write_export

        written, note = write_export(Path(args.output), text)
        err(f"moot: {note}" if note else f"moot: wrote {written}")
    elif getattr(args, "output", None):
        Path(args.output).write_text(clean(text), encoding="utf-8")
        err(f"moot: wrote {args.output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _open_store() -> Any:
    from moot.core.storage import Store

    store = Store()
    store.mark_interrupted()
    return store


# -------------------------------------------------------------------------------------------------- plan


def plan(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    task = read_task(args.task)
    if task is None:
        return EXIT_USAGE
    if not task.strip():
        err("moot: the task is empty")
        return EXIT_USAGE
    if args.models or args.variants:  # paired when the lists are as long as each other, else every combination
        m, v = len(args.models or [None]), len(args.variants or [None])
        wanted, limit = (m if m == v else m * v), loaded.config.ensemble.max_proposers
        if wanted > limit:
            err(f"moot: --models and --variants ask for {wanted} proposers; at most {limit} run at once "
                f"([ensemble] max_proposers = {limit})")
            return EXIT_USAGE
    return asyncio.run(_plan(args, loaded, task))


async def _plan(args: argparse.Namespace, loaded: LoadedConfig, task: str) -> int:
    from moot.core.discovery import model_statuses
    from moot.core.ensemble import Ensemble, PlanOptions, StrategyError
    from moot.core.ensemble.prompts import UnknownVariant
    from moot.core.providers.base import close_backends

    from .progress import ProgressPrinter

    statuses = await model_statuses(loaded)
    usable = [s.model.name for s in statuses if s.usable]
    opts = PlanOptions(strategy=args.strategy, models=args.models, variants=args.variants, judge=args.judge,
                       rank=args.rank, max_usd=args.max_usd)
    if args.judge and loaded.config.model(args.judge) is None:
        err(f"moot: unknown judge {args.judge!r} (known: {', '.join(loaded.config.aliases)})")
        return EXIT_USAGE
    store = _open_store()
    ensemble = Ensemble(loaded, store, usable)
    try:
        result = ensemble.begin(task, opts)  # resolves the strategy and checks the variants, once
    except (StrategyError, UnknownVariant) as e:
        store.close()
        err(f"moot: {e}")
        return EXIT_USAGE
    own = loaded.config.strategies.get(result.strategy)
    limit = loaded.config.ensemble.max_proposers
    if not (args.models or args.variants) and own is not None and len(own.members) > limit:
        err(f"moot: strategy {result.strategy} names {len(own.members)} members; the first {limit} propose "
            f"([ensemble] max_proposers = {limit})")
    if loaded.defaulted_models:
        err("moot: no models configured; using " + ", ".join(usable or ["nothing usable"])
            + " (run moot doctor to add hosted or Ollama models)")
    budget = await _fit(ensemble, loaded)
    proposers = [p.proposer for p in result.proposals]
    opts.context = _planning_context(loaded, task, [p.model for p in proposers], budget)
    names = [f"{p.model.name} ({p.variant})" for p in proposers]
    err(f"moot: {result.strategy}: {plural(len(proposers), 'proposer')}")
    printer = ProgressPrinter(names)
    ensemble.on_progress = printer
    try:
        await ensemble.complete()
    finally:
        printer.finish()
        store.close()
        await close_backends()
    for p in result.proposals:
        if p.status != "done" and p.error:
            err(f"  {p.proposer.model.name} ({p.proposer.variant}) {p.status}: {p.error}")
    err(f"moot: run {result.run_id} in {result.wall_s:.1f} s, ${result.totals()['cost_usd']:.4f}")
    doc = by_label(result.to_json())
    _emit(args, dump_json(doc) if args.json else result.to_markdown(), export=not args.json)
    return EXIT_OK if result.ok else EXIT_FAILED


def context(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from .context_cmd import run_context

    return run_context(args, loaded)


async def _fit(ensemble: Any, loaded: LoadedConfig) -> int | None:
    """Shape an embedded-only run to its engine (``Ensemble.fit``), saying so on stderr; the context budget
    it leaves, or None when the run is not shaped."""
    from moot.context.planning import context_budget

    models = [p.proposer.model for p in ensemble.proposals]
    shape = await ensemble.fit(context_budget(loaded.config.budget_for("proposer"), models))
    if shape is None:
        return None
    err(f"moot: {shape.note}")
    return int(shape.context_tokens)


def _planning_context(loaded: LoadedConfig, task: str, models: list[Any], budget: int | None = None) -> str | None:
    """The scoped repository context for the proposers (within ``budget`` when given), reported on stderr."""
    from moot.context.planning import context_budget, planning_context

    from .context_cmd import project_choice

    if budget is None:
        budget = context_budget(loaded.config.budget_for("proposer"), models)
    result = planning_context(loaded.project_dir, task, budget, models[0].model if models else "",
                              **project_choice(loaded).options())
    if result is None:
        err("moot: no repository context (not a git repository, or context_budget = 0)")
        return None
    err(f"moot: context: {plural(len(result.items), 'item')}, {result.total_tokens}/{budget} tokens")
    return result.text


# ------------------------------------------------------------------------------------------ models / doctor


def models(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.core.discovery import model_statuses

    statuses = asyncio.run(model_statuses(loaded))
    if args.json:
        print(dump_json([{"name": s.model.name, "model": s.model.model, "backend": s.model.kind,
                          "usable": s.usable, "reason": s.availability.reason} for s in statuses]))
        return EXIT_OK
    width = max([len(s.model.name) for s in statuses] + [5])
    print(f"{'ALIAS':<{width}}  {'BACKEND':<7}  {'MODEL':<36}  STATUS")
    for s in statuses:
        state = "usable" if s.usable else s.availability.reason
        if s.usable and s.availability.reason:
            state += f" ({s.availability.reason})"
        print(f"{s.model.name:<{width}}  {s.model.kind:<7}  {s.model.model:<36}  {state}")
    if loaded.defaulted_models:
        print("\n(no models configured: these are the defaults; `moot doctor` says how to add more)")
    return EXIT_OK


def doctor(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from .doctor import run_doctor

    return run_doctor(loaded)


# -------------------------------------------------------------------------------------------- history


def history(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    store = _open_store()
    try:
        runs = store.runs(limit=args.limit, search=args.search,
                          project=None if args.all else str(loaded.project_dir))
    finally:
        store.close()
    if args.json:
        print(dump_json([{k: r[k] for k in ("id", "kind", "task", "strategy", "status", "created_at")}
                         for r in runs]))
        return EXIT_OK
    if not runs:
        where = "" if args.all else " in this project (--all: every project's)"
        print("no runs yet" + (f" matching {args.search!r}" if args.search else "") + where)
        return EXIT_OK
    for r in runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"]))
        task = one_line(r["task"])
        print(f"{r['id']}  {when}  {r['kind']:<4}  {r['status']:<11}  {r['strategy'] or '':<10}  "
              f"{task[:60] + ('…' if len(task) > 60 else '')}")
    return EXIT_OK


def show(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.core.ensemble.result import markdown_from_json

    store = _open_store()
    try:
        run = store.run(args.run)
        calls = store.calls(run["id"]) if run else []
    finally:
        store.close()
    if run is None:
        err(f"moot: no run {args.run!r} (see `moot history`)")
        return EXIT_USAGE
    if run["kind"] == "discussion":
        from .discuss_cmd import show as show_discussion

        return show_discussion(run["id"], args.json)
    if run["kind"] == "workflow":
        from .workflow_cmd import show_run

        return show_run(run, args.json)
    doc = json.loads(run["result_json"]) if run["result_json"] else None
    if args.json:
        print(dump_json({"run": {k: v for k, v in run.items() if k != "result_json"}, "result": by_label(doc),
                         "calls": calls}))
        return EXIT_OK
    if doc is None:
        print(f"run {run['id']} is {run['status']} and left no result")
    else:
        sys.stdout.write(markdown_from_json(doc))
    print("\n## Calls")
    for c in calls:
        print(call_line(c))
        if args.prompts:
            for m in c["messages"]:
                print(f"\n### {m.get('role', '?')}\n\n{m.get('content', '')}")
            print()
    return EXIT_OK


def by_label(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """A run's document with its proposals in the order of their letters (A, B, C), as the synthesis names
    them; unlettered ones last, in their own order."""
    if doc and isinstance(doc.get("proposals"), list):
        doc = {**doc, "proposals": sorted(doc["proposals"], key=lambda p: (not p.get("label"), p.get("label") or ""))}
    return doc


def call_line(c: dict[str, Any]) -> str:
    """One logged call: phase, plan letter, model and variant, status, figures, and its error if any."""
    who = " ".join(x for x in (f"Plan {c['label']}" if c.get("label") else "", c["model_alias"]) if x)
    if c.get("variant"):
        who += f" ({c['variant']})"
    figures = f"{c['prompt_tokens']}+{plural(c['completion_tokens'] or 0, 'token')}, {c['latency_s'] or 0:.1f} s"
    if c.get("cost_usd"):
        figures += f", ${c['cost_usd']:.4f}"
    extra = ""
    if c["error_kind"]:
        shown = (c.get("error_message") or "").split("\n", 1)[0]  # the line shown; the log keeps the rest
        extra = f" — {c['error_kind']}" + (f": {shown}" if shown else "")
    return f"- {c['phase']:<9} {who}: {c['status']}, {figures}{extra}"
