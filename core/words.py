"""Counts in words: "1 task", "2 tasks", never "1 tasks"."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word``, the word in its plural when ``n`` is not 1 (``many``, else ``word`` + "s")."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
