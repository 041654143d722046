"""``moot discuss``: models that answer each other in rounds, from the command line.

    moot discuss QUESTION [--rounds N] [--models a,b] [--sequential] [--conclude] [--judge M] [--json]
    moot discuss --continue ID [--rounds N] [--to NAME[,NAME]] [--message TEXT] [--conclude] [--json]

Progress goes to stderr, the transcript (Markdown, or one JSON document) to stdout. Exit code 0 when some
participant answered, 1 when every one failed (or the conclusion failed), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from moot.core.config import LoadedConfig

from .commands import _open_store, dump_json, err, read_task
from .main import EXIT_FAILED, EXIT_OK, EXIT_USAGE


class DiscussPrinter:
    """One line on stderr per round start, per finished answer and per digest."""

    def __init__(self) -> None:
        self._handlers = self.handlers

    @property
    def handlers(self) -> dict[type, Any]:
        """What each discussion event prints (a test checks that every event has its entry)."""
        from moot.core.discussion import events as ev
        from moot.core.discussion.export import TITLES, figures

        return {
            ev.RoundStarted: lambda e: err(f"moot: round {e.n} ({TITLES[e.kind]}): {', '.join(e.speakers)}"),
            ev.Speaking: lambda e: None,  # the answers are printed whole at the end; their figures below
            ev.Spoke: lambda e: err(f"moot:   {e.said.speaker}: {figures(e.said)}"
                                    + (f" · {e.said.error}" if e.said.error else "")),
            ev.RoundDone: lambda e: err(f"moot: round {e.round.n} stopped") if e.cancelled else None,
            ev.Digesting: lambda e: err(f"moot: the transcript would pass the smallest window ({e.window} "
                                        f"tokens): condensing rounds 1-{e.upto} ({e.source_tokens} tokens)"),
            ev.Digested: lambda e: err(f"moot: rounds 1-{e.digest.upto} condensed by {e.digest.model} into "
                                       f"{e.digest.tokens} tokens"),
            ev.DigestFailed: lambda e: err(f"moot: could not condense the transcript: {e.error}"),
        }

    def __call__(self, event: Any) -> None:
        self._handlers[type(event)](event)


def discuss(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if args.resume is None and not args.question:
        err("moot: discuss needs a QUESTION, or --continue ID")
        return EXIT_USAGE
    if args.resume is not None and args.question:
        err("moot: give either a QUESTION or --continue ID, not both")
        return EXIT_USAGE
    if bool(args.to) != bool(args.message):
        err("moot: --to and --message go together")
        return EXIT_USAGE
    if args.to and args.resume is None:
        err("moot: --to asks models of a stored discussion: use it with --continue ID")
        return EXIT_USAGE
    if args.rounds is not None and args.rounds < 0:
        err("moot: --rounds must be 0 or more")
        return EXIT_USAGE
    for alias in [*(args.models or []), *(args.to or []), *([args.judge] if args.judge else [])]:
        if loaded.config.model(alias.partition(":")[0]) is None:
            err(f"moot: unknown model {alias!r} (known: {', '.join(loaded.config.aliases)})")
            return EXIT_USAGE
    question = None
    if args.question:
        question = read_task(args.question)
        if question is None:
            return EXIT_USAGE
        if not question.strip():
            err("moot: the question is empty")
            return EXIT_USAGE
    return asyncio.run(_discuss(args, loaded, question))


async def _participants(loaded: LoadedConfig, wanted: list[str] | None) -> tuple[list[str], list[str]]:
    """The participants (``wanted``, else the default strategy's models, each once) and the usable models."""
    from moot.core.discovery import model_statuses
    from moot.core.discussion import participants_of
    from moot.core.ensemble.strategies import default_strategy, resolve

    usable = [s.model.name for s in await model_statuses(loaded) if s.usable]
    if wanted:
        return wanted, usable
    strategy = default_strategy(loaded.config, usable)
    return participants_of([(p.model, p.variant) for p in resolve(strategy, loaded.config, usable)]), usable


async def _discuss(args: argparse.Namespace, loaded: LoadedConfig, question: str | None) -> int:
    from moot.core.discussion import Discussion, DiscussionEngine, DiscussionError
    from moot.core.discussion import store as stored
    from moot.core.ensemble.engine import new_run_id
    from moot.core.ensemble.strategies import StrategyError, default_strategy, judge_model
    from moot.core.providers.base import close_backends

    store = _open_store()
    printer = DiscussPrinter()
    try:
        try:
            names, usable = await _participants(loaded, args.models)
            judge = judge_model(loaded.config, usable or names, "", args.judge)
        except StrategyError as e:
            err(f"moot: {e}")
            return EXIT_USAGE
        if question is not None:
            from .commands import _planning_context

            models = [loaded.config.model(n.partition(":")[0]) for n in names]
            context = _planning_context(loaded, question, [m for m in models if m is not None])
            own = loaded.config.strategies.get(default_strategy(loaded.config, usable))
            d = Discussion(id=new_run_id(), topic=question, participants=names,
                           sequential=args.sequential or bool(own and own.sequential), context=context)
            engine = DiscussionEngine.start(loaded.config, store, d, judge=judge, on_event=printer,
                                            project_dir=str(loaded.project_dir))
            err(f"moot: discussion {d.id}: {', '.join(names)}")
            await engine.open()
            rounds = 1 if args.rounds is None else args.rounds
        else:
            found = stored.load(store, args.resume)
            if found is None:
                err(f"moot: no discussion {args.resume!r} (see `moot history`)")
                return EXIT_USAGE
            if args.sequential:
                found.sequential = True
            engine = DiscussionEngine(loaded.config, store, found, judge=judge, on_event=printer)
            if args.to:
                await engine.mention(args.to, args.message)
            rounds = (0 if args.to else 1) if args.rounds is None else args.rounds
        for _ in range(rounds):
            await engine.next_round()
        if args.conclude:
            await engine.conclude()
    except DiscussionError as e:
        err(f"moot: {e}")
        return EXIT_USAGE
    finally:
        await close_backends()
        store.close()
    return _report(args, engine.d)


def _report(args: argparse.Namespace, d: Any) -> int:
    from moot.core.discussion import USER
    from moot.core.discussion.export import to_json, to_markdown

    if args.json:
        print(dump_json(to_json(d)))
    else:
        sys.stdout.write(to_markdown(d))
    answered = any(m.heard for r in d.rounds for m in r.messages if m.speaker != USER)
    if not answered or (args.conclude and d.conclusion is None):
        return EXIT_FAILED
    return EXIT_OK


def show(run_id: str, as_json: bool) -> int:
    """``moot show`` of a discussion: its transcript."""
    from moot.core.discussion import store as stored

    store = _open_store()
    try:
        d = stored.load(store, run_id)
    finally:
        store.close()
    if d is None:
        err(f"moot: no discussion {run_id!r}")
        return EXIT_USAGE
    from moot.core.discussion.export import to_json, to_markdown

    if as_json:
        print(dump_json(to_json(d)))
    else:
        sys.stdout.write(to_markdown(d))
    return EXIT_OK
