"""``moot context TASK``: what the context manager would hand a model, item by item, with exact token counts.

Progress (indexing figures) goes to stderr; the table or the ``--json`` document to stdout. Exit code 2 for
bad usage: an empty task, a negative budget, an unknown strategy or a ``--files`` path outside the index.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moot.core.words import plural

from .main import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from moot.context.scope import ContextResult
    from moot.core.config import LoadedConfig


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _model_string(loaded: LoadedConfig, name: str | None) -> str:
    """The model whose tokenizer counts: an alias from config, a litellm string, or the planner's model."""
    config = loaded.config
    if name:
        found = config.model(name)
        return found.model if found is not None else name
    alias = config.roles.get("planner")
    found = config.model(alias) if alias else None
    return found.model if found is not None else ""


def _default_budget(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """The budget a proposer on ``--model`` (else the planner's model) would really get: the configured one, capped
    for a small local context window as planning caps it."""
    from moot.context.planning import context_budget

    config = loaded.config
    name = getattr(args, "model", None) or config.roles.get("planner")
    found = config.model(name) if name else None
    return context_budget(config.budget_for("proposer"), [found] if found is not None else [])


def project_choice(loaded: LoadedConfig) -> Any:
    """The files pinned and dropped for this project (``moot.context.choice``)."""
    from moot.context.choice import ContextChoice
    from moot.core.storage import Store

    store = Store()
    try:
        return ContextChoice.read(store, loaded.project_dir)
    finally:
        store.close()


def normalise_path(root: Path, raw: str) -> str:
    """A ``--files`` entry (relative to the working directory, or absolute) as a path relative to ``root``."""
    text = raw.strip().replace("\\", "/").rstrip("/")
    absolute = Path(os.path.abspath(Path.cwd() / text))
    for base in (root, root.resolve()):
        try:
            return absolute.relative_to(base).as_posix()
        except ValueError:
            continue
    return text


def render_table(result: ContextResult) -> str:
    """One line per item (kind, tokens, path), then the total against the budget and what was left out."""
    width = max([len(str(i.tokens)) for i in result.items] + [6])
    lines = [f"{'KIND':<8}  {'TOKENS':>{width}}  PATH"]
    for item in result.items:
        where = f"{item.path} ({plural(len(item.covers), 'file')})" if item.kind == "tree" else item.path
        lines.append(f"{item.kind:<8}  {item.tokens:>{width}}  {where}")
    left = len(result.left_out)
    lines.append(f"total {result.total_tokens} / {result.budget} tokens ({result.strategy}); "
                 f"{left} file{'' if left == 1 else 's'} left out")
    return "\n".join(lines) + "\n"


def run_context(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    """Index the project, scope the task and print the result.

    ``args``: ``task`` (text or ``-`` for stdin), ``budget`` (None: ``[ensemble] context_budget``),
    ``strategy`` (None: scoped), ``files`` (list of pinned paths or None), ``model`` (alias or litellm
    string; None: the planner's model), ``json``; optional ``show`` prints the text itself after the table.
    """
    from moot.context.cache import build_index
    from moot.context.files import list_files
    from moot.context.scope import CONTEXT_STRATEGIES, scope

    from .commands import dump_json, read_task

    task = read_task(args.task)
    if task is None:
        return EXIT_USAGE
    if not task.strip():
        err("moot: the task is empty")
        return EXIT_USAGE
    budget = args.budget if getattr(args, "budget", None) is not None else _default_budget(loaded, args)
    if budget < 0:
        err(f"moot: the budget must be 0 or more tokens, not {budget}")
        return EXIT_USAGE
    strategy = getattr(args, "strategy", None) or "scoped"
    if strategy not in CONTEXT_STRATEGIES:
        err(f"moot: unknown context strategy {strategy!r} (known: {', '.join(CONTEXT_STRATEGIES)})")
        return EXIT_USAGE
    root = loaded.project_dir
    index = build_index(root, files=list_files(root))
    stats = index.stats
    err(f"moot: indexed {plural(stats.files, 'file')} in {root} ({stats.parsed} parsed, {stats.cached} cached, "
        f"{stats.seconds:.2f} s)")
    pinned = [normalise_path(root, f) for f in (getattr(args, "files", None) or [])]
    unknown = [p for p in pinned if p not in index.files]
    if unknown:
        from moot.context.files import why_left_out

        for p in unknown:
            err(f"moot: {p} is not a file moot can show: {why_left_out(root, p)}")
        return EXIT_USAGE
    choice = project_choice(loaded)  # pinned and dropped in the workbench: the project's, here too
    pinned += [p for p in choice.pinned if p not in pinned and p in index.files]
    dropped = [p for p in choice.dropped if p not in pinned]
    if choice.pinned or choice.dropped:
        err(f"moot: the project's choice: {plural(len(choice.pinned), 'file')} pinned, "
            f"{plural(len(choice.dropped), 'file')} dropped (the workbench's context inspector sets them)")
    model = _model_string(loaded, getattr(args, "model", None))
    result = scope(index, task, budget, context_strategy=strategy, model=model, pinned=pinned, dropped=dropped)
    if args.json:
        doc: dict[str, Any] = result.to_json()
        sys.stdout.write(dump_json(doc) + "\n")
        return EXIT_OK
    sys.stdout.write(render_table(result))
    if getattr(args, "show", False) and result.items:
        sys.stdout.write("\n" + result.text)
    return EXIT_OK
