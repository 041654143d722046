"""The ``moot`` console script: the workbench with no command, the headless commands otherwise.

It lives in ``moot.tui`` because ``moot.core`` may not import the UI; it imports Textual only when the
workbench is actually opened, so ``moot --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        from . import use_workbench_frame_rate

        use_workbench_frame_rate()
        from .app import run_workbench

        return run_workbench()
    from moot.core.cli.main import main as cli

    return cli(args)
