"""Garbage collection that does not stall the screen while models stream.

Python's full collection walks every tracked object; in a workbench holding a few hundred thousand (the widgets,
the parsers, the imported clients) that takes 50-200 ms, and it runs whenever enough objects have come and gone:
that is, while six proposals stream. So the objects alive once the workbench has started, which live as long as
it does, are moved out of the collector's sight (``gc.freeze``), and while a run streams only the young
generations are collected; the full collection comes back when no run is streaming. Reference counting frees
almost everything anyway; only cycles wait.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: The oldest generation's threshold while held: never reached during a run.
HELD_THRESHOLD = 1 << 30


class CalmCollector:
    def __init__(self) -> None:
        self._holds = 0
        self._saved: tuple[int, int, int] | None = None
        self.frozen = False

    def freeze_startup(self) -> None:
        """Move what the workbench holds after starting out of the collector's sight (once)."""
        if not self.frozen:
            gc.freeze()
            self.frozen = True

    @contextmanager
    def hold(self) -> Iterator[None]:
        """No full collections inside (nested holds are fine)."""
        if self._holds == 0:
            self._saved = gc.get_threshold()
            first, second, _ = self._saved
            gc.set_threshold(first, second, HELD_THRESHOLD)
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if self._holds == 0 and self._saved is not None:
                gc.set_threshold(*self._saved)
                self._saved = None

    @property
    def held(self) -> bool:
        return self._holds > 0
