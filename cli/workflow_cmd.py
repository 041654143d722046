"""``moot workflow list | show NAME | check FILE | run NAME TASK`` (and ``run --resume RUN``).

A run's progress goes to stderr, its result (each phase's output, or ``--json``) to stdout. A checkpoint asks on a
terminal; without one it stops the run with a clear message unless ``--yes`` is given (the run is kept:
``--resume`` goes on from there).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from moot.core.config import ConfigError, LoadedConfig
from moot.core.text import one_line

from .commands import _open_store, dump_json, err, read_task
from .exec_printer import ExecPrinter, ticking
from .main import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def workflow(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    action = args.workflow_command
    if action == "list":
        return _list(args, loaded)
    if action == "show":
        return _show(args, loaded)
    if action == "check":
        return _check(args)
    return asyncio.run(_run(args, loaded))


def _list(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.agents.workflow.loader import available

    found, errors = available(loaded.project_dir)
    if args.json:
        print(dump_json({"workflows": [{"name": f.workflow.name, "description": f.workflow.description,
                                        "source": f.source, "path": f.path,
                                        "phases": [p.name for p in f.workflow.phases]} for f in found.values()],
                         "errors": [str(e) for e in errors]}))
        return EXIT_OK
    width = max((len(n) for n in found), default=4)
    for name, f in sorted(found.items()):
        phases = " → ".join(p.name for p in f.workflow.phases)
        print(f"{name:<{width}}  {f.source:<7}  {phases}")
        if f.workflow.description:
            print(f"{'':<{width}}  {'':<7}  {one_line(f.workflow.description)}")
    for e in errors:
        err(f"moot: {e}")
    return EXIT_OK if not errors else EXIT_USAGE


def _who(p: Any) -> str:
    """Who takes part in phase ``p``, in a few words."""
    if p.type == "ensemble":
        return ", ".join(p.models or []) or (p.strategy or "the strategy's models")
    if p.type == "discussion":
        return f"{p.rounds} round(s), {', '.join(p.participants or []) or 'the strategy'}"
    if p.type == "single":
        return (p.model or f"role {p.role}") + (" · task list" if p.format == "tasks" else "")
    if p.type == "routed":
        return "tasks by role" + (f" ({', '.join(f'{k}={v}' for k, v in p.routing.items())})" if p.routing else "")
    return ", ".join(s.name for s in p.phases)


def _rows(phases: list[Any], indent: str = "") -> list[list[str]]:
    rows = []
    for p in phases:
        rows.append([indent + p.name, p.type, _who(p), ", ".join(p.input) or ("the phase's" if indent else "the task"),
                     p.output or "-", p.checkpoint or "policy", p.effort or "policy"])
        if p.type == "parallel":
            rows += _rows(p.phases, indent + "  ")
    return rows


def _show(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.agents.workflow.loader import find

    f = find(args.name, loaded.project_dir)
    if args.json:
        print(dump_json({"name": f.workflow.name, "source": f.source, "path": f.path,
                         **f.workflow.model_dump(exclude={"name"})}))
        return EXIT_OK
    print(f"{f.workflow.name} ({f.source}: {f.path})")
    if f.workflow.description:
        print(one_line(f.workflow.description))
    head = ["phase", "type", "who", "input", "output", "checkpoint", "effort"]
    rows = [head, *_rows(f.workflow.phases)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from moot.agents.workflow.loader import read

    wf = read(Path(args.file))
    print(f"{args.file}: workflow {wf.name}, {len(wf.phases)} phase(s): " + ", ".join(p.name for p in wf.phases))
    return EXIT_OK


def show_run(run: dict[str, Any], as_json: bool) -> int:
    """``moot show`` of a workflow run: each phase's state, output, files, checkpoint decision and child run."""
    from moot.agents.workflow import store as stored

    store = _open_store()
    try:
        rows = stored.phases(store, run["id"])
    finally:
        store.close()
    if as_json:
        print(dump_json({"run_id": run["id"], "workflow": run["strategy"], "task": run["task"],
                         "status": run["status"], "phases": rows}))
        return EXIT_OK
    print(f"# Workflow {run['strategy']} · run {run['id']} · {run['status']}\n\n{run['task'].strip()}\n")
    for r in rows:
        child = f" · run {r['child_run']}" if r["child_run"] else ""
        print(f"## {r['name']} ({r['type']}) · {r['state']}{child}\n")
        print((r["output"] or r["error"] or "").strip() + "\n")
        for f in r["meta"].get("files", []):
            print(f"- wrote {f}")
        if d := r["decision"]:
            answer = "went on" if d.get("go_on") else "stopped"
            print(f"- checkpoint {d.get('when')} ({d.get('setting')} = {d.get('value')}): "
                  f"{'asked, ' if d.get('asked') else ''}{answer}" + (f"; {'; '.join(d['reasons'])}" if d.get("reasons")
                                                                      else ""))
        print()
    return EXIT_OK


def _asker(args: argparse.Namespace) -> Any:
    """The checkpoint's question: ``--yes`` says yes; a terminal is asked; otherwise nobody (the run stops)."""
    async def yes(point: Any) -> bool:
        err(f"moot: checkpoint at {point.phase} ({'; '.join(point.reasons)}): going on (--yes)")
        return True

    async def terminal(point: Any) -> bool:
        err(f"\nmoot: checkpoint {point.when} {point.phase} ({point.setting} = {point.value})")
        for reason in point.reasons:
            err(f"  - {reason}")
        if point.shown.strip():
            err("\n" + point.shown.strip() + "\n")
        print("moot: go on? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = await asyncio.to_thread(sys.stdin.readline)
        return answer.strip().lower() in ("y", "yes")

    if args.yes:
        return yes
    return terminal if sys.stdin.isatty() and sys.stderr.isatty() else None


async def _run(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.agents.workflow.engine import WorkflowEngine
    from moot.agents.workflow.loader import find
    from moot.agents.workflow.phases import CheckpointStop, PhaseFailed
    from moot.core.discovery import model_statuses
    from moot.core.providers.base import close_backends

    store = _open_store()
    try:
        if args.resume:
            run = store.run(args.resume)
            if run is None or run.get("kind") != "workflow":
                err(f"moot: no workflow run {args.resume!r} (see `moot history`)")
                return EXIT_USAGE
            found = find(str(run["strategy"]), loaded.project_dir)
            task = None
        else:
            if not args.name or not args.task:
                err("moot: workflow run NAME TASK (or --resume RUN)")
                return EXIT_USAGE
            found = find(args.name, loaded.project_dir)
            task = read_task(args.task)
            if task is None or not task.strip():
                err("moot: the task is empty")
                return EXIT_USAGE
        statuses = await model_statuses(loaded)
        usable = [s.model.name for s in statuses if s.usable]
        printer = ExecPrinter()

        def progress(ev: Any) -> None:
            if isinstance(ev, tuple):
                kind, name, what = ev
                if kind == "phase":
                    err(f"moot: phase {name}: {what}")
                elif kind == "note":
                    err(f"moot: {name}: {what}")
                else:
                    err(f"moot: phase {name}: {kind} run {what}")
            else:
                printer(ev)

        engine = WorkflowEngine(loaded, store, usable, loaded.project_dir, found, ask=_asker(args), on_event=progress)
        err(f"moot: workflow {found.workflow.name}: " + " → ".join(p.name for p in found.workflow.phases))
        try:
            async with ticking(printer):
                result = await (engine.resume(args.resume) if args.resume else engine.run(task or ""))
        except CheckpointStop as e:
            err(f"moot: {e}")
            return EXIT_FAILED
        except PhaseFailed as e:
            err(f"moot: {e}")
            return EXIT_USAGE
        err(f"moot: workflow run {result.run_id} {result.state} in {result.wall_s:.1f} s"
            + (f": {result.error}" if result.error else ""))
        if args.json:
            print(dump_json(result.to_json()))
        else:
            for p in result.phases:
                print(f"## {p.name} ({p.type}) · {p.state}\n")
                print((p.outcome.output if p.outcome else p.error or "").strip() + "\n")
                for f in p.files:
                    print(f"- wrote {f}")
        return EXIT_OK if result.state == "done" else EXIT_FAILED
    except ConfigError:
        raise
    finally:
        store.close()
        await close_backends()
