"""A block of text lines in the perf panel that repaints only when its text or styles change, and asks for a
layout only when its number of lines changes (the panel refreshes several times a second while models
stream)."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static


class Lines(Static):
    """Static text, updated through ``show``."""

    DEFAULT_CSS = """
    Lines {
        height: auto;
    }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__("", markup=False, **kw)
        self._shown: tuple[str, tuple[Any, ...]] | None = None
        self._fitted = False
        """Whether every shown line fitted the width (so the height was the number of lines)."""

    @property
    def plain(self) -> str:
        """The text shown, without styles."""
        return self._shown[0] if self._shown is not None else ""

    def show(self, content: Content) -> None:
        key = (content.plain, tuple(content.spans))
        if key == self._shown:
            return
        old = self._shown
        self._shown = key
        lines = key[0].split("\n")
        same = old is not None and old[0].count("\n") == len(lines) - 1
        fits = max(map(len, lines)) <= self.size.width  # a longer line wraps: its height is not its count
        self.update(content, layout=not (same and fits and self._fitted))
        self._fitted = fits
