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

from moot.core.config import LoadedConfig
from moot.core.text import one_line, terminal_safe

from .commands import _open_store, dump_json, err, read_task
from .exec_printer import ExecPrinter, ticking
from .main import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .progress import ProgressPrinter


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
    print(f"# Workflow {run['strategy']} · run {run['id']} · {run['status']}\n\n{terminal_safe(run['task'].strip())}\n")
    for r in rows:
        child = f" · run {r['child_run']}" if r["child_run"] else ""
        print(f"## {r['name']} ({r['type']}) · {r['state']}{child}\n")
        print(terminal_safe((r["output"] or r["error"] or "").strip()) + "\n")
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
    from moot.agents.workflow.engine import DEFAULT

    async def yes(point: Any) -> bool:
        err(f"moot: checkpoint at {point.phase} ({'; '.join(point.reasons)}): going on (--yes)")
        return True

    async def terminal(point: Any) -> bool:
        if point.setting == DEFAULT:  # nobody set it: the task list was just shown, and yes is the default
            print("moot: carry out these tasks? [Y/n] ", end="", file=sys.stderr, flush=True)
            answer = await asyncio.to_thread(sys.stdin.readline)
            return answer.strip().lower() in ("", "y", "yes")
        err(f"\nmoot: checkpoint {point.when} {point.phase} ({point.setting} = {point.value})")
        for reason in point.reasons:
            err(terminal_safe(f"  - {reason}"))
        if point.shown.strip():
            err("\n" + terminal_safe(point.shown.strip()) + "\n")
        print("moot: go on? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = await asyncio.to_thread(sys.stdin.readline)
        return answer.strip().lower() in ("y", "yes")

    if args.yes:
        return yes
    return terminal if sys.stdin.isatty() else None


def progress(printer: Any) -> Any:
    """The engine's events as lines on stderr: phases and notes here, a routed phase's run by ``printer``."""
    def on_event(ev: Any) -> None:
        if not isinstance(ev, tuple):
            printer(ev)
            return
        kind, name, what = ev
        if kind == "phase":
            err(f"moot: phase {name}: {what}")
        elif kind == "note":
            err(f"moot: {name}: {what}")
        elif kind == "tasks":
            show_tasks(*what)
        elif kind == "routed":
            err(f"moot: run {what}: phase {name} carries the tasks out on a branch of its own")
        else:
            err(f"moot: phase {name}: {kind} run {what}")

    return on_event


def show_tasks(routed: list[Any], models: list[str] | None) -> None:
    """A routed phase's task list, each with its role, model (or the candidates' models), files and what it
    waits for."""
    err(f"moot: {len(routed)} task(s)" + (f", carried out by each of {', '.join(models)}" if models else "") + ":")
    for rt in routed:
        t = rt.task
        deps = f" after {', '.join(t.depends_on)}" if t.depends_on else ""
        who = "" if models else f" → {rt.alias}"
        err(terminal_safe(f"  {t.id}  [{rt.role}{who}] {t.title}{deps}"))
        if t.files:
            err(terminal_safe(f"      files: {', '.join(t.files)}"))


async def drive(args: argparse.Namespace, loaded: LoadedConfig, found: Any, task: str | None, *,
                given: dict[str, str] | None = None, candidates: int | None = None) -> Any:
    """Run (or with ``args.resume``, resume) the workflow ``found`` on ``task``, its progress on stderr; the
    ``WorkflowResult``, or an exit code when it could not run. ``moot run`` and ``moot workflow run`` share it."""
    from moot.agents.workflow.engine import WorkflowEngine
    from moot.agents.workflow.phases import CheckpointStop, PhaseFailed
    from moot.core.discovery import model_statuses
    from moot.core.ensemble.engine import new_run_id

    store = _open_store()
    try:
        statuses = await model_statuses(loaded)
        usable = [s.model.name for s in statuses if s.usable]
        printer = ExecPrinter()
        engine = WorkflowEngine(loaded, store, usable, loaded.project_dir, found, ask=_asker(args),
                                on_event=progress(printer))
        engine.ensemble_progress = ProgressPrinter  # an ensemble phase's proposers, a line each
        phases = [p.name for p in found.workflow.phases]
        err(f"moot: workflow {found.workflow.name}: " + " → ".join(
            f"{n} (given)" if n in (given or {}) else n for n in phases))
        run_id = args.resume or new_run_id()
        try:
            async with ticking(printer):
                result = await (engine.resume(run_id) if args.resume else
                                engine.run(task or "", run_id=run_id, given=given, candidates=candidates))
        except asyncio.CancelledError:
            err(f"moot: interrupted; `moot run --resume {run_id}` goes on at the phase it stopped in")
            raise
        except CheckpointStop as e:
            err(f"moot: {e}")
            return EXIT_FAILED
        except PhaseFailed as e:
            err(f"moot: {e}")
            return EXIT_USAGE
        err(f"moot: workflow run {result.run_id} {result.state} in {result.wall_s:.1f} s"
            + (f": {result.error}" if result.error else ""))
        return result
    finally:
        store.close()


def resumed(store: Any, run_id: str, loaded: LoadedConfig) -> Any:
    """The workflow a stored workflow run ran (None when ``run_id`` is no workflow run)."""
    from moot.agents.workflow.loader import find

    run = store.run(run_id)
    if run is None or run.get("kind") != "workflow":
        return None
    return find(str(run["strategy"]), loaded.project_dir)


async def _run(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.agents.workflow.loader import find
    from moot.core.providers.base import close_backends

    try:
        if args.resume:
            store = _open_store()
            try:
                found = resumed(store, args.resume, loaded)
            finally:
                store.close()
            if found is None:
                err(f"moot: no workflow run {args.resume!r} (see `moot history`)")
                return EXIT_USAGE
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
        result = await drive(args, loaded, found, task)
        if isinstance(result, int):
            return result
        if args.json:
            print(dump_json(result.to_json()))
        else:
            for p in result.phases:
                print(f"## {p.name} ({p.type}) · {p.state}\n")
                print(terminal_safe((p.outcome.output if p.outcome else p.error or "").strip()) + "\n")
                for f in p.files:
                    print(f"- wrote {f}")
        return EXIT_OK if result.state == "done" else EXIT_FAILED
    finally:
        await close_backends()
