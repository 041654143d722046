"""``moot run``, ``review``, ``accept``, ``reject`` and ``undo``: a plan carried out on a branch of its own, and
what becomes of it. Progress goes to stderr, the result to stdout.

A run with several candidates is named ``RUN`` for its winner and ``RUN-<n>`` for candidate ``n`` (the branch
``moot/<run-id>-<n>``), so ``moot review RUN-1`` and ``moot accept RUN-1`` pick the other one.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path
from typing import Any

from moot.core.config import LoadedConfig
from moot.core.text import terminal_safe

from .commands import _open_store, dump_json, err, plural, read_task
from .exec_printer import ExecPrinter, ticking
from .main import EXIT_FAILED, EXIT_OK, EXIT_USAGE

# -------------------------------------------------------------------------------------------------- run


def run(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if args.resume:
        if args.task or args.plan:
            err("moot: --resume takes no TASK or --plan")
            return EXIT_USAGE
        return asyncio.run(_resume(args, loaded))
    if bool(args.task) == bool(args.plan):
        err("moot: give a TASK or --plan FILE (one of them)")
        return EXIT_USAGE
    n = args.candidates if args.candidates is not None else loaded.config.agents.candidates
    if not 1 <= n <= 4:
        err("moot: --candidates must be between 1 and 4")
        return EXIT_USAGE
    plan = None
    if args.plan:
        try:
            plan = Path(args.plan).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            err(f"moot: cannot read the plan {args.plan}: {e}")
            return EXIT_USAGE
        if not plan.strip():
            err(f"moot: the plan {args.plan} is empty")
            return EXIT_USAGE
        task = _title(plan) or Path(args.plan).stem
    else:
        read = read_task(args.task)
        if read is None:
            return EXIT_USAGE
        task = read
        if not task.strip():
            err("moot: the task is empty")
            return EXIT_USAGE
    from moot.agents.worktree import WorktreeError, head_of

    try:
        head_of(loaded.project_dir)
    except WorktreeError as e:
        err(f"moot: {e}")
        return EXIT_USAGE
    return asyncio.run(_run(args, loaded, task, plan, n))


def _title(plan: str) -> str:
    """The plan's first heading (else its first line), as the run's task."""
    lines = [ln.strip() for ln in plan.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("#"):
            return re.sub(r"^#+\s*(plan:\s*)?", "", ln, flags=re.I).strip()
    return lines[0][:120] if lines else ""


async def _run(args: argparse.Namespace, loaded: LoadedConfig, task: str, plan: str | None, n: int) -> int:
    """TASK through the workflow ``--workflow`` or ``[agents] workflow`` names (``feature-build`` unless set);
    with ``--plan FILE`` the plan is given to the workflow and the phases only it needed are skipped."""
    from moot.agents.workflow.loader import DEFAULT_WORKFLOW, find, plan_phase
    from moot.core.providers.base import close_backends

    from .workflow_cmd import drive

    found = find(args.workflow or loaded.config.agents.workflow or DEFAULT_WORKFLOW, loaded.project_dir)
    given = None
    if plan is not None:
        if (source := plan_phase(found.workflow)) is None:
            err(f"moot: workflow {found.workflow.name} carries no plan out (it has no routed phase): --plan needs "
                "one that does")
            return EXIT_USAGE
        given = {source: plan}
    try:
        result = await drive(args, loaded, found, task, given=given, candidates=n)
        return _finish(args, result)
    finally:
        await close_backends()


def _finish(args: argparse.Namespace, result: Any) -> int:
    """``moot run``'s answer once its workflow ends: the phases after the branch was made, then the branch run
    (its tasks, tests, review and what to do next); ``--json``: the branch run's document with the workflow's."""
    from moot.agents import runs

    if isinstance(result, int):
        return result
    routed = next((p for p in result.phases if p.type == "routed" and p.outcome and p.outcome.child_run), None)
    store = _open_store()
    try:
        branch_run = runs.load(store, routed.outcome.child_run) if routed and routed.outcome else None
    finally:
        store.close()
    ok = result.state == "done" and (branch_run is None or branch_run.ok)
    if args.json:
        doc = _run_json(branch_run) if branch_run is not None else {}
        print(dump_json({**doc, "workflow": result.to_json()}))
        return EXIT_OK if ok else EXIT_FAILED
    after = result.phases[result.phases.index(routed) + 1:] if routed is not None else result.phases
    for p in after:
        if p.state == "skipped":
            continue
        print(f"## {p.name} ({p.type}) · {p.state}\n")
        print(terminal_safe((p.outcome.output if p.outcome else p.error or "").strip()) + "\n")
        for f in p.files:
            print(f"- wrote {f}")
    if branch_run is not None:
        _report(args, branch_run)
    else:
        print(f"workflow run {result.run_id} {result.state}: no branch was made"
              + (f" ({result.error})" if result.error else "")
              + f". `moot show {result.run_id}` shows each phase; `moot run --resume {result.run_id}` goes on")
    return EXIT_OK if ok else EXIT_FAILED


async def _resume(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.agents import execute as x
    from moot.agents import runs
    from moot.agents.session import RunSession
    from moot.agents.worktree import WorktreeError
    from moot.core.providers.base import close_backends

    from .workflow_cmd import drive, resumed

    store = _open_store()
    runs.mark_stale(store)
    try:
        if (found := resumed(store, args.resume, loaded)) is not None:  # a workflow run: on at its phase
            store.close()
            return _finish(args, await drive(args, loaded, found, None))
        run = runs.load(store, args.resume)
        if run is None:
            err(f"moot: no execution run {args.resume!r} (see `moot history`)")
            return EXIT_USAGE
        printer = ExecPrinter()
        try:
            async with ticking(printer):
                result = await RunSession(loaded.config, store, loaded.project_dir, on_event=printer).resume(
                    run.run_id)
        except x.ExecuteError as e:
            err(f"moot: {e}")
            return EXIT_USAGE
        except WorktreeError as e:
            err(f"moot: {e}")
            return EXIT_FAILED
        except asyncio.CancelledError:
            err(f"moot: interrupted again; `moot run --resume {run.run_id}` carries on")
            raise
        return _report(args, result)
    finally:
        store.close()
        await close_backends()


def _run_json(run: Any) -> dict[str, Any]:
    from moot.agents.hunks import flagged_changes

    doc = dict(run.to_json())
    c = run.chosen
    doc["warnings"] = [{"path": path, "why": why}
                       for path, why in (flagged_changes(Path(run.repo_dir), run.base_sha, c.branch) if c else [])]
    return doc


def _report(args: argparse.Namespace, run: Any) -> int:
    from moot.agents.hunks import flagged_changes

    if args.json:
        print(dump_json(_run_json(run)))
        return EXIT_OK if run.ok else EXIT_FAILED
    out: list[str] = []
    for c in run.candidates if len(run.candidates) > 1 else run.candidates[:1]:
        chosen = c.candidate == (run.winner or 0)
        head = f"{'winner: ' if chosen and len(run.candidates) > 1 else ''}branch {c.branch}"
        if c.model_alias and len(run.candidates) > 1:
            head += f" ({c.model_alias})"
        out.append(f"{head}: {plural(c.diff_lines or 0, 'line')} changed")
        for t in c.tasks:
            line = f"  {t.status:<8} {t.task_id}  {t.title}  [{t.model_alias}]"
            if t.commit:
                line += f"  {t.commit[:10]}"
            if t.error:
                line += f"\n           {t.error}"
            out.append(line)
        flagged = flagged_changes(Path(run.repo_dir), run.base_sha, c.branch)
        out += [f"  warning: {path}: {why}" for path, why in flagged]
        if c.tests is not None:
            out.append(f"  tests {'passed' if c.tests.get('passed') else 'FAILED'}: {c.tests.get('command')}")
        if c.review:
            out.append(f"  review by {c.review.get('model')}: {c.review.get('verdict') or 'failed'}")
            for f in c.review.get("findings") or []:
                where = f"{f.get('file')}:{f.get('line')}" if f.get("line") else (f.get("file") or "-")
                out.append(f"    - {where}: {f.get('text')}")
    rid = run.run_id
    out.append("")
    out.append(f"run {rid} {run.state}. Next: `moot review {rid}`, `moot accept {rid}` or `moot reject {rid}`"
               + (f" (`{rid}-<n>` picks candidate n)" if len(run.candidates) > 1 else ""))
    print("\n".join(out))
    return EXIT_OK if run.ok else EXIT_FAILED


# ------------------------------------------------------------------------------------ review / accept / reject


def _find(store: Any, name: str) -> tuple[Any, Any] | None:
    """The run and candidate ``name`` means: ``RUN`` (its winner) or ``RUN-<n>`` (candidate n)."""
    from moot.agents import runs

    run = runs.load(store, name)
    if run is not None:
        return run, run.chosen
    m = re.fullmatch(r"(.+)-(\d+)", name)
    if m and (run := runs.load(store, m.group(1))) is not None:
        c = run.candidate(int(m.group(2)))
        if c is not None:
            return run, c
    return None


def _open_run(store: Any, name: str, need_branch: bool = True) -> tuple[Any, Any] | int:
    found = _find(store, name)
    if found is None:
        err(f"moot: no execution run {name!r} (see `moot history`)")
        return EXIT_USAGE
    run, c = found
    if run.live:
        err(f"moot: run {run.run_id} is still being carried out (pid {run.pid})")
        return EXIT_USAGE
    if run.state in ("accepted", "rejected", "undone", "cancelled"):
        err(f"moot: run {run.run_id} was {run.state}; its branch is gone")
        return EXIT_USAGE
    if c is None and need_branch:
        err(f"moot: run {run.run_id} has no branch (it failed before its tasks began: {run.error or 'unknown'})")
        return EXIT_USAGE
    return run, c


def review(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.agents import runs
    from moot.agents.hunks import diff_between

    store = _open_store()
    runs.mark_stale(store)
    try:
        opened = _open_run(store, args.run)
        if isinstance(opened, int):
            return opened
        run, c = opened
        repo = Path(run.repo_dir)
        files = diff_between(repo, run.base_sha, c.branch)
        if args.json:
            print(dump_json({"run_id": run.run_id, "branch": c.branch, "base": run.base_sha,
                             "files": [_file_json(f) for f in files]}))
            return EXIT_OK
        import git

        r = git.Repo(repo)
        try:
            text = r.git.diff(run.base_sha, c.branch, "--no-color", "--no-ext-diff", "--no-textconv")
        finally:
            r.close()
        print(f"run {run.run_id}, branch {c.branch} against {run.base_sha[:10]}"
              + (f" ({run.base_branch})" if run.base_branch else "") + ":")
        for f in files:
            print(f"  {f.status:<9} {f.path}  +{f.added} -{f.removed}")
            if f.warning:
                print(f"            warning: {f.warning}")
        if not files:
            print("  (no changes)")
        if text:
            print()
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return EXIT_OK
    finally:
        store.close()


def _file_json(f: Any) -> dict[str, Any]:
    """One file of ``moot review --json``: its status, counts and hunks (numbered, as ``accept`` picks them)."""
    return {"path": f.path, "old_path": f.old_path, "status": f.status, "binary": f.binary, "added": f.added,
            "removed": f.removed, "warning": f.warning,
            "hunks": [{"index": i, "header": h.header, "lines": list(h.lines)} for i, h in enumerate(f.hunks)]}


def accept(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.agents import runs
    from moot.agents.accept import AcceptError, DirtyTreeError
    from moot.agents.hunks import diff_between
    from moot.agents.landing import BlockedError, findings_text, land
    from moot.core.text import terminal_safe

    store = _open_store()
    runs.mark_stale(store)
    try:
        opened = _open_run(store, args.run)
        if isinstance(opened, int):
            return opened
        run, c = opened
        repo = Path(run.repo_dir)
        paths = [f.path for f in diff_between(repo, run.base_sha, c.branch)]
        if not paths:
            err(f"moot: branch {c.branch} changes nothing; `moot reject {run.run_id}` drops it")
            return EXIT_FAILED
        chosen = paths
        if args.files:
            unknown = [f for f in args.files if f not in paths]
            if unknown:
                err(f"moot: not changed by the run: {', '.join(unknown)} (changed: {', '.join(paths)})")
                return EXIT_USAGE
            chosen = [p for p in paths if p in args.files]
        try:
            result = land(store, run, c, {p: None for p in chosen}, mode=loaded.config.agents.accept,
                          force=args.force)
        except BlockedError as e:
            err(f"moot: {e}; nothing was changed:")
            err(terminal_safe(findings_text(e.review)) or "(no findings given)")
            err(f"moot: `moot accept {args.run} --force` accepts it anyway (the override is stored with the run)")
            return EXIT_FAILED
        except DirtyTreeError as e:
            err("moot: you have uncommitted changes in " + ", ".join(e.files)
                + "; commit or stash them, then accept again (nothing was changed)")
            return EXIT_FAILED
        except AcceptError as e:
            err(f"moot: {e}")
            return EXIT_FAILED
        if args.force and c.review and c.review.get("verdict") == "BLOCK":
            err("moot: accepted over the reviewer's BLOCK; the override is stored with the run")
        if result.commit:
            print(f"accepted run {run.run_id} as commit {result.commit[:10]}: {', '.join(result.files)}")
        else:
            print(f"accepted run {run.run_id} as uncommitted changes: {', '.join(result.files)}")
        return EXIT_OK
    finally:
        store.close()


def reject(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.agents import runs
    from moot.agents.landing import drop
    from moot.agents.worktree import WorktreeError

    store = _open_store()
    runs.mark_stale(store)
    try:
        opened = _open_run(store, args.run, need_branch=False)
        if isinstance(opened, int):
            return opened
        run, _ = opened
        try:
            removed = drop(store, run)
        except WorktreeError as e:
            err(f"moot: {e}")
            return EXIT_FAILED
        print(f"rejected run {run.run_id}; removed {', '.join(removed) or 'nothing (no branch was left)'}")
        return EXIT_OK
    finally:
        store.close()


def undo(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from moot.agents import runs
    from moot.agents.accept import UndoError
    from moot.agents.accept import undo as undo_accept
    from moot.agents.worktree import WorktreeError, open_repo

    try:
        open_repo(loaded.project_dir)  # outside a repository: the same words as every other command
        result = undo_accept(loaded.project_dir)
    except WorktreeError as e:
        err(f"moot: {e}")
        return EXIT_USAGE
    except UndoError as e:
        err(f"moot: {e}")
        return EXIT_FAILED
    store = _open_store()
    try:
        if result.run_id and (run := runs.load(store, result.run_id)) is not None:
            runs.set_state(store, run.run_id, runs.RunState.UNDONE)
    finally:
        store.close()
    what = f" of run {result.run_id}" if result.run_id else ""
    print(f"reverted {str(result.reverted)[:10]}{what}")
    return EXIT_OK
