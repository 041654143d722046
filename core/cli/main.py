"""``moot``: the command line. Parsing lives here; each command's work is imported only when it runs, so
``moot --help`` stays fast (no pydantic, no litellm on that path).

Exit codes: 0 success, 1 the work failed (every model failed…), 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moot",
        description="Several language models plan one coding task together: proposals side by side, a judge "
        "that synthesises them. With no command, opens the workbench.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plan", help="ask several models for a plan and a judged synthesis")
    p.add_argument("task", metavar="TASK", help="the task, or - to read it from stdin")
    p.add_argument("--strategy", help="diverse, role-based, consensus, self-moa, or one from config")
    p.add_argument("--models", type=_csv, help="comma-separated model aliases to propose")
    p.add_argument("--variants", type=_csv, help="comma-separated prompt variants")
    p.add_argument("--judge", help="the model alias that judges")
    p.add_argument("--rank", action="store_true", default=None, help="peer-rank the proposals before the judge")
    p.add_argument("--max-usd", type=float, help="cost limit for this run")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of Markdown")
    p.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE instead of stdout")

    m = sub.add_parser("models", help="list the configured models and whether each is usable now")
    m.add_argument("--json", action="store_true")
    sub.add_parser("doctor", help="explain what is missing and how to fix it")

    h = sub.add_parser("history", help="past runs, newest first")
    h.add_argument("--search", help="only runs whose task contains this text")
    h.add_argument("--limit", type=int, default=20)
    h.add_argument("--json", action="store_true")

    s = sub.add_parser("show", help="one past run: its plan, proposals and figures")
    s.add_argument("run", metavar="RUN", help="a run id (or a unique prefix)")
    s.add_argument("--json", action="store_true")

    c = sub.add_parser("context", help="what the context manager would hand a model for TASK, with token counts")
    c.add_argument("task", metavar="TASK", help="the task, or - to read it from stdin")
    c.add_argument("--budget", type=int, help="most tokens to send (default: [ensemble] context_budget)")
    c.add_argument("--strategy", choices=["scoped", "full", "distilled", "fresh"], help="default: scoped")
    c.add_argument("--files", type=_csv, help="comma-separated files to pin (shown first)")
    c.add_argument("--model", help="model alias or litellm string whose tokenizer counts (default: the planner's)")
    c.add_argument("--json", action="store_true", help="print one JSON document")
    c.add_argument("--show", action="store_true", help="also print the text that would be sent")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from moot.core import __version__

        print(f"moot {__version__}")
        return EXIT_OK
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    from . import commands

    return commands.dispatch(args)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
