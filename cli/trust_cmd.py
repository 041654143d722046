"""``moot trust``, and the word moot asks before a command would use what an untrusted project config sets.

A repository's ``.moot/config.toml`` applies only its harmless keys until the user trusts that very file (see
``moot.core.config.trust``). Before a command that would call models (``plan``, ``run``, ``perf bench``), moot asks
once on a terminal, showing what the file sets; anywhere else, or after a "no", it says on stderr what it ignored.
``--trust`` applies the file for one command (for scripts), without remembering it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from moot.core.config import ConfigError, LoadedConfig, load_config, project_root
from moot.core.config import trust as trusting
from moot.core.config.loader import PROJECT_FILE

from .main import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def interactive() -> bool:
    """Whether a person can answer: stdin and stderr are both a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def ask(prompt: str) -> str:
    """The user's answer to ``prompt`` on the terminal; empty at the end of input."""
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline()


def calls_models(args: argparse.Namespace) -> bool:
    """Whether the command would call models, and so use what the project config says about them."""
    return args.command in ("plan", "run", "discuss") or (
        args.command == "perf" and getattr(args, "perf_command", None) == "bench")


def described(loaded: LoadedConfig) -> str:
    """What the project file sets that only a trusted file may, one line each, safe for a terminal."""
    pt = loaded.project_trust
    assert pt is not None
    return "\n".join(f"  {i.line()}" for i in pt.ignored)


def gate(args: argparse.Namespace) -> None:
    """Before a command that loads the config: apply ``--trust``, ask on a terminal, or say what is ignored.

    Never waits for an answer without a terminal. A broken config is left for the command to report."""
    if not (project_root(Path.cwd()) / PROJECT_FILE).is_file():
        return
    try:
        loaded = load_config(Path.cwd())
    except ConfigError:
        return
    pt = loaded.project_trust
    if pt is None or pt.applied:
        return
    if getattr(args, "trust", False):
        trusting.trust_for_now(pt.root, pt.digest)
        err(f"moot: applying all of {trusting.safe(str(pt.path))} for this command (--trust)")
        return
    if pt.should_ask and calls_models(args) and interactive():
        err(f"moot: this repository's config {trusting.safe(str(pt.path))} sets what only a config you trust may:\n"
            f"{described(loaded)}\nUntrusted, these are ignored and the rest of the file applies.")
        try:
            yes = ask("Trust this file? [y/N] ").strip().lower() in ("y", "yes")
        except (EOFError, KeyboardInterrupt):
            err("")
            yes = False
        else:
            trusting.remember(pt.root, pt.digest, yes)
        if yes:
            err("moot: trusted (moot trust --revoke forgets it; a change to the file asks again)")
            return
    err(f"moot: {pt.summary()}")
    err("  moot trust --status shows what it sets; moot trust applies it, --trust for one command")


def trust_command(args: argparse.Namespace) -> int:
    """``moot trust``: trust the current repository's config file; ``--status`` shows, ``--revoke`` forgets."""
    try:
        loaded = load_config(Path.cwd(), trust=False)
    except ConfigError as e:
        err(f"moot: config error: {e}")
        return EXIT_USAGE
    pt = loaded.project_trust
    root = loaded.project_dir
    if args.revoke:
        if trusting.forget(root):
            print(f"moot: forgot what you said about {trusting.safe(str(root / PROJECT_FILE))}")
        else:
            print(f"moot: nothing remembered for {trusting.safe(str(root))}")
        return EXIT_OK
    if pt is None:
        if args.status:
            print(f"no project config ({PROJECT_FILE}) in {trusting.safe(str(root))}")
            return EXIT_OK
        err(f"moot: no project config ({PROJECT_FILE}) in {trusting.safe(str(root))}: nothing to trust")
        return EXIT_FAILED
    where = trusting.safe(str(pt.path))
    if args.status:
        state = {"trusted": "trusted", "declined": "not trusted (you said no)", "unknown": "not trusted"}[pt.state]
        if not pt.ignored:
            print(f"{where}: sets nothing that needs trust (sha256 {pt.digest[:12]})")
            return EXIT_OK
        print(f"{where}: {state} (sha256 {pt.digest[:12]})")
        print("Only once it is trusted:" if pt.state != "trusted" else "Applied because it is trusted:")
        print(described(loaded))
        return EXIT_OK
    if not pt.ignored:
        print(f"{where} sets nothing that needs trust")
        return EXIT_OK
    trusting.remember(pt.root, pt.digest, True)
    print(f"Trusted {where} (sha256 {pt.digest[:12]}); from now on it also applies:")
    print(described(loaded))
    print("A change to the file asks again; moot trust --revoke forgets it.")
    return EXIT_OK
