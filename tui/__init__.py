"""The workbench: Textual screens and widgets over ``moot.core``, ``moot.context`` and ``moot.agents``."""

import os
import sys

FPS = 120
"""Frames a second the workbench draws at most (Textual's default is 60)."""


def use_workbench_frame_rate() -> None:
    """Have Textual draw up to ``FPS`` frames a second, unless ``TEXTUAL_FPS`` says otherwise.

    A change made just after a frame waits for the next one, sometimes two: at 60 a typed key could wait over
    30 ms before it is drawn, at 120 half that. Streamed text does not paint more often for it (it is rendered
    in slices every few milliseconds, and a frame is drawn only when something changed). Textual reads the
    setting once, when it is first imported, so call this before; the variable is not left behind for the
    programs moot starts (tests, git)."""
    if "TEXTUAL_FPS" in os.environ or "textual.constants" in sys.modules:
        return
    os.environ["TEXTUAL_FPS"] = str(FPS)
    try:
        import textual.constants  # noqa: F401  (reads it now)
    finally:
        del os.environ["TEXTUAL_FPS"]
