"""Words for things: counts ("1 task", "2 tasks", never "1 tasks") and file names made from text."""

from __future__ import annotations

import re


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word``, the word in its plural when ``n`` is not 1 (``many``, else ``word`` + "s")."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def slug(text: str, limit: int = 48) -> str:
    """``text`` as a file name: lower-case words joined by hyphens, at most ``limit`` characters."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:limit].rstrip("-") or "plan"
