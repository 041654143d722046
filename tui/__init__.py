"""The workbench: Textual screens and widgets over ``moot.core``, ``moot.context`` and ``moot.agents``.

Textual paints at most ``TEXTUAL_FPS`` frames a second, and a change made just after a frame waits for the next
one, sometimes two. At the default 60 a typed key could wait over 30 ms before it is drawn; at 120 the wait is
at most half that. Streamed text does not paint more often for it: it is rendered every few milliseconds in
slices, and a frame is only drawn when something changed. Set before Textual is first imported; an explicit
``TEXTUAL_FPS`` wins.
"""

import os

FPS = 120
os.environ.setdefault("TEXTUAL_FPS", str(FPS))
