"""Writing a plan where the user asked (``moot plan -o FILE``, F7 in the workbench) without ever losing their
edits: an export ends with a marker holding the SHA-256 of what moot wrote, so moot can tell its own file,
untouched, from one the user has edited since. It replaces only the former; an edited file (or one that is not
moot's) is kept, and the new export takes the next free name (``plan.2.md``), which the caller reports.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .text import clean

MARK = re.compile(r"<!-- moot export sha256:([0-9a-f]{64}) -->\n?\Z")


def text_sha256(text: str) -> str:
    """The SHA-256 of ``text`` as UTF-8, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def marked(text: str) -> str:
    """``text`` (cleaned for a terminal and a file) with the marker line that says it is moot's, unchanged."""
    body = clean(text).rstrip("\n") + "\n"
    return f"{body}<!-- moot export sha256:{text_sha256(body)} -->\n"


def untouched(existing: str) -> bool:
    """Whether ``existing`` is an export of moot's that nobody has edited since."""
    m = MARK.search(existing)
    return m is not None and text_sha256(existing[:m.start()]) == m.group(1)


def free_path(path: Path) -> Path:
    """``path`` when it is free or moot's own untouched export; else the next ``stem.N.suffix`` that is."""
    candidate, n = path, 1
    while candidate.exists():
        try:
            if untouched(candidate.read_text(encoding="utf-8")):
                return candidate
        except (OSError, UnicodeDecodeError):
            pass
        n += 1
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}")
    return candidate


def write_export(path: Path, text: str) -> tuple[Path, str | None]:
    """Write ``text`` (Markdown) at ``path`` or the next free name; the path written, and a note when it is not
    ``path`` (saying why)."""
    target = free_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(marked(text), encoding="utf-8")
    if target == path:
        return target, None
    return target, f"{path} was edited since moot wrote it (or is not moot's): it is kept, the plan is in {target}"
