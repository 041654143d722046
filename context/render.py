"""The text of each context item: a whole file, an outline, the compact tree of the rest, an input.

Every item's text starts with a header line (never whitespace) and ends with one newline, so items join
with nothing in between and tiktoken splits the joined text at the item boundaries: the tokens of the
whole are the sum of the items' tokens. :mod:`moot.context.budget` still counts the final text to be sure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from moot.context.outline import OutlineItem, render_outline

TREE_HEADER = "Other files:"
_BACKTICK_RUN = re.compile(r"`{3,}")


def _safe_header(text: str) -> str:
    """One line that starts with a visible character."""
    line = " ".join(text.split())
    return line or "(unnamed)"


def render_full(path: str, content: str) -> str:
    """``path`` then the content in a fence longer than any backtick run inside it."""
    longest = max((len(m) for m in _BACKTICK_RUN.findall(content)), default=0)
    fence = "`" * max(3, longest + 1)
    lang = PurePosixPath(path).suffix.removeprefix(".")
    body = content if not content or content.endswith("\n") else content + "\n"
    return f"{_safe_header(path)}\n{fence}{lang}\n{body}{fence}\n"


def render_outline_item(path: str, items: Sequence[OutlineItem], shown: int | None = None) -> str:
    """The outline of ``path`` with its first ``shown`` lines (all by default) and a count of the rest."""
    shown = len(items) if shown is None else max(0, min(shown, len(items)))
    text = render_outline(_safe_header(path), list(items[:shown]))
    rest = len(items) - shown
    if rest:
        text += f"\n  … {rest} more"
    return text + "\n"


def render_input(label: str, text: str, shown_lines: int | None = None) -> str:
    """An explicit input (a distillation, a note): ``## label`` then its text, maybe cut after some lines."""
    lines = text.rstrip().splitlines()
    shown = len(lines) if shown_lines is None else max(0, min(shown_lines, len(lines)))
    body = "\n".join(lines[:shown])
    if shown < len(lines):
        body += ("\n" if body else "") + f"… ({len(lines) - shown} more lines cut)"
    return f"## {_safe_header(label)}\n" + (body + "\n" if body else "")


def input_lines(text: str) -> int:
    """How many lines :func:`render_input` can show of ``text``."""
    return len(text.rstrip().splitlines())


@dataclass
class Folder:
    """A folder of the tree: its subfolders and files, and how many files lie anywhere below it."""

    path: str = ""
    folders: dict[str, Folder] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    count: int = 0


def build_tree(paths: Iterable[str]) -> Folder:
    """The folder tree of ``paths``."""
    root = Folder()
    for rel in sorted(set(paths)):
        parts = rel.split("/")
        node = root
        node.count += 1
        for i, part in enumerate(parts[:-1]):
            node = node.folders.setdefault(part, Folder("/".join(parts[: i + 1])))
            node.count += 1
        node.files.append(parts[-1])
    return root


def folders(root: Folder) -> list[Folder]:
    """Every folder below ``root``, in the order to collapse them: deepest first, then the fullest."""
    found: list[Folder] = []
    stack = list(root.folders.values())
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node.folders.values())
    return sorted(found, key=lambda f: (-f.path.count("/"), -f.count, f.path))


def _plural(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def tree_lines(node: Folder, collapsed: frozenset[str], depth: int = 0) -> list[str]:
    """Indented lines: files, folders as ``name/``, collapsed folders as ``name/ (N files)``.

    A folder holding nothing but one folder is written on one line (``a/b/``).
    """
    lines: list[str] = []
    pad = "  " * depth
    for name in sorted(node.folders):
        child, label = node.folders[name], name
        while child.path not in collapsed and not child.files and len(child.folders) == 1:
            inner = next(iter(child.folders))
            child, label = child.folders[inner], f"{label}/{inner}"
        if child.path in collapsed:
            lines.append(f"{pad}{label}/ ({_plural(child.count)})")
        else:
            lines.append(f"{pad}{label}/")
            lines.extend(tree_lines(child, collapsed, depth + 1))
    lines.extend(f"{pad}{name}" for name in sorted(node.files))
    return lines


def render_tree(paths: Iterable[str], collapsed: Iterable[str] = ()) -> str:
    """The compact tree of ``paths`` under a header, or "" when there are none."""
    root = build_tree(paths)
    if not root.count:
        return ""
    lines = tree_lines(root, frozenset(collapsed))
    return TREE_HEADER + "\n" + "\n".join(lines) + "\n"


def top_level(rel: str) -> str:
    """The first part of a path: its top folder, or the file itself at the root."""
    return rel.split("/", 1)[0]
