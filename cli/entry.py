"""The ``moot`` console script: the workbench with no command, the headless commands otherwise.

It lives in ``moot.cli``, the command-line interface; it imports Textual only when the
workbench is actually opened, so ``moot --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        from moot.tui import use_workbench_frame_rate

        use_workbench_frame_rate()
        from moot.tui.app import run_workbench

        end_process(run_workbench())
    from .main import main as cli

    try:
        code = cli(args)
        sys.stdout.flush()  # a reader that went away is found here, not in the interpreter's teardown
        return code
    except BrokenPipeError:  # `moot history | head -1`: the reader has all it wanted; nothing to say
        quiet_stdout()
        return 1
    except Exception as e:
        from moot.core.tokens import TokenizerUnavailable

        if not isinstance(e, TokenizerUnavailable):
            raise
        print(f"moot: {e}", file=sys.stderr)
        return 1


def quiet_stdout() -> None:
    """Point stdout at the null device, so that nothing more (not even the final flush) fails on a closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def end_process(code: int) -> NoReturn:
    """End the process now, once the workbench has closed what it opened (the database, the model worker
    processes, the terminal). The interpreter's own teardown would only add to the wait after ctrl+q: a garbage
    collection over every object the workbench made (0.1-0.3 s), and the threads still importing in the
    background (started after the first frame)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
