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
    from moot.core.ensemble import strategies

    parser = argparse.ArgumentParser(
        prog="moot",
        description="Several language models plan one coding task together: proposals side by side, a judge "
        "that synthesises them. With no command, opens the workbench.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plan", help="ask several models for a plan and a judged synthesis")
    p.add_argument("task", metavar="TASK", help="the task, or - to read it from stdin")
    p.add_argument("--strategy", help=f"{', '.join(strategies.REGISTRY)}, or one from config")
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
    sv = sub.add_parser("serve", help="serve the workbench to a browser (each tab gets its own)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    sv.add_argument("--public-url", metavar="URL", help="the address browsers use, when a proxy is in front")

    h = sub.add_parser("history", help="past runs, newest first")
    h.add_argument("--search", help="only runs whose task contains this text")
    h.add_argument("--limit", type=int, default=20)
    h.add_argument("--all", action="store_true", help="runs of every project, not only this one's")
    h.add_argument("--json", action="store_true")

    s = sub.add_parser("show", help="one past run: its plan, proposals and figures")
    s.add_argument("run", metavar="RUN", help="a run id (or a unique prefix)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--prompts", action="store_true", help="also print the exact messages sent in each call")

    c = sub.add_parser("context", help="what the context manager would hand a model for TASK, with token counts")
    c.add_argument("task", metavar="TASK", help="the task, or - to read it from stdin")
    c.add_argument("--budget", type=int, help="most tokens to send (default: [ensemble] context_budget)")
    c.add_argument("--strategy", choices=["scoped", "full", "distilled", "fresh"], help="default: scoped")
    c.add_argument("--files", type=_csv, help="comma-separated files to pin (shown first)")
    c.add_argument("--model", help="model alias or litellm string whose tokenizer counts (default: the planner's)")
    c.add_argument("--json", action="store_true", help="print one JSON document")
    c.add_argument("--show", action="store_true", help="also print the text that would be sent")

    r = sub.add_parser("run", help="a workflow (feature-build) on TASK: plan, tasks carried out on a branch, review")
    r.add_argument("task", metavar="TASK", nargs="?", help="the task (planned first), or - to read it from stdin")
    r.add_argument("--plan", metavar="FILE", help="carry out this plan (Markdown): the workflow's plan is given")
    r.add_argument("--candidates", type=int, help="how many models carry out the plan, each in its own worktree")
    r.add_argument("--yes", action="store_true", help="do not stop to confirm the task list")
    r.add_argument("--resume", metavar="RUN", help="resume an interrupted workflow run (or branch run)")
    r.add_argument("--workflow", metavar="NAME",
                   help="the workflow to run (default: [agents] workflow, else feature-build; build: plan and tasks)")
    r.add_argument("--json", action="store_true", help="print one JSON document")

    rv = sub.add_parser("review", help="the diff of a run's branch against where it started")
    rv.add_argument("run", metavar="RUN", help="a run id (or a unique prefix)")
    rv.add_argument("--json", action="store_true")

    a = sub.add_parser("accept", help="apply a run's changes to your branch")
    a.add_argument("run", metavar="RUN", help="a run id (or a unique prefix)")
    a.add_argument("--files", type=_csv, help="only these files (comma-separated)")
    a.add_argument("--force", action="store_true",
                   help="accept although the reviewer's verdict is BLOCK (the override is stored with the run)")

    rj = sub.add_parser("reject", help="throw a run's changes away: remove its worktree and branch")
    rj.add_argument("run", metavar="RUN", help="a run id (or a unique prefix)")

    sub.add_parser("undo", help="revert the last accepted run's commit, if nothing was committed on top")

    pf = sub.add_parser("perf", help="how fast the local models run: hosts, loaded models, measured rates")
    pf.add_argument("--json", action="store_true", help="print one JSON document")
    pf.add_argument("--watch", action="store_true", help="refresh every 2 s until interrupted")
    pf_sub = pf.add_subparsers(dest="perf_command", metavar="ACTION")
    pb = pf_sub.add_parser("bench", help="measure MODEL on a fixed set of prompts and store its profile")
    pb.add_argument("model", metavar="MODEL", help="a model alias")
    pb.add_argument("--json", action="store_true")

    d = sub.add_parser("discuss", help="models answer each other in rounds; the judge concludes")
    d.add_argument("question", metavar="QUESTION", nargs="?", help="the question, or - to read it from stdin")
    d.add_argument("--continue", dest="resume", metavar="ID", help="go on with a stored discussion")
    d.add_argument("--rounds", type=int, default=None,
                   help="rounds of discussion after the first answers (default 1; with --continue, default 1 "
                        "unless --to is given)")
    d.add_argument("--models", type=_csv,
                   help="comma-separated model aliases that take part (default: the strategy's models)")
    d.add_argument("--to", type=_csv,
                   help="with --continue: ask only these models, with --message")
    d.add_argument("--message", help="with --to: what you say to them")
    d.add_argument("--sequential", action="store_true", help="speakers answer one after another in a round")
    d.add_argument("--conclude", action="store_true", help="have the judge write the outcome at the end")
    d.add_argument("--judge", help="the model alias that concludes and condenses")
    d.add_argument("--json", action="store_true", help="print one JSON document instead of Markdown")

    w = sub.add_parser("workflow", help="declarative workflows: phases in YAML, run by one engine")
    w_sub = w.add_subparsers(dest="workflow_command", metavar="ACTION", required=True)
    wl = w_sub.add_parser("list", help="the workflows there are: shipped, yours and this project's")
    wl.add_argument("--json", action="store_true")
    ws = w_sub.add_parser("show", help="a workflow's phases as a table")
    ws.add_argument("name", metavar="NAME")
    ws.add_argument("--json", action="store_true")
    wc = w_sub.add_parser("check", help="validate a workflow file (mistakes name the line and key)")
    wc.add_argument("file", metavar="FILE")
    wr = w_sub.add_parser("run", help="run a workflow on TASK")
    wr.add_argument("name", metavar="NAME", nargs="?")
    wr.add_argument("task", metavar="TASK", nargs="?", help="the task, or - to read it from stdin")
    wr.add_argument("--yes", action="store_true", help="go on at every checkpoint without asking")
    wr.add_argument("--resume", metavar="RUN", help="go on with a stopped or interrupted workflow run")
    wr.add_argument("--json", action="store_true", help="print one JSON document")

    t = sub.add_parser("trust", help="trust this repository's .moot/config.toml (its keys, hosts and commands)")
    t.add_argument("--status", action="store_true", help="only show what the file sets and whether it is trusted")
    t.add_argument("--revoke", action="store_true", help="forget the trust (or the no) given to this repository")
    for name, command in [*sub.choices.items(), ("perf bench", pb)]:
        if name != "trust":  # SUPPRESS: a subcommand's default does not undo the flag given before it
            command.add_argument("--trust", action="store_true", default=argparse.SUPPRESS,
                                 help="apply this repository's config in full for this command only")
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
    from . import trust_cmd

    if args.command == "trust":
        return trust_cmd.trust_command(args)
    trust_cmd.gate(args)
    from . import commands

    return commands.dispatch(args)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
