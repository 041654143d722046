"""Summaries of text files that are not code: markdown headings, YAML/JSON top-level keys, TOML tables.

Each reader scans lines (or characters, for JSON) rather than parsing the whole document, so it keeps line
numbers and tolerates broken files: it returns what it could read and never raises. Items are
:class:`~moot.context.outline.OutlineItem` so :func:`~moot.context.outline.render_outline` shows them too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePath

from moot.context.outline import OutlineItem

_CAP = 100
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_YAML_KEY = re.compile(r"""^("[^"]*"|'[^']*'|[^\s#'"\-?:][^:#]*?|\?[^:]*?)\s*:(?:\s|$)""")
_TOML_TABLE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_TOML_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-.]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=""")


def _cap(text: str, limit: int = _CAP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _comment_above(lines: list[str], index: int) -> str:
    """The first line of the ``#`` comment block directly above line ``index`` (0-based)."""
    start = index
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    for line in lines[start:index]:
        if text := line.lstrip().lstrip("#").strip():
            return _cap(text)
    return ""


def _close(items: list[OutlineItem], ends: list[int]) -> list[OutlineItem]:
    """Items with their end lines filled in."""
    return [OutlineItem(i.kind, i.name, i.signature, i.line, max(i.line, end), i.doc, i.depth)
            for i, end in zip(items, ends, strict=True)]


def markdown_headings(text: str) -> list[OutlineItem]:
    """ATX (``## Title``) and setext (underlined) headings outside code fences and front matter.

    ``depth`` is the level minus one; ``doc`` is the section's first line of text; a section ends where the
    next heading of the same or a higher level starts.
    """
    lines = text.splitlines()
    found: list[tuple[int, int, str]] = []  # (index, level, title)
    fence, index = "", 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        index = next((i + 1 for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), 0)
    while index < len(lines):
        line = lines[index]
        if match := _FENCE.match(line):
            fence = "" if fence == match.group(1) else fence or match.group(1)
        elif not fence:
            if (atx := _ATX.match(line)) and atx.group(2):
                found.append((index, len(atx.group(1)), atx.group(2).strip()))
            elif (index + 1 < len(lines) and line.strip() and not line.startswith((" " * 4, "\t"))
                  and (setext := _SETEXT.match(lines[index + 1])) and not _ATX.match(line)):
                level = 1 if setext.group(1).startswith("=") else 2
                found.append((index, level, line.strip()))
                index += 1
        index += 1
    items, ends = [], []
    for n, (at, level, title) in enumerate(found):
        end = next((i for i, lv, _ in found[n + 1:] if lv <= level), len(lines))
        stop = found[n + 1][0] if n + 1 < len(found) else len(lines)
        body = (ln.strip() for ln in lines[at + 1:stop])
        doc = next((ln for ln in body if ln and not _SETEXT.match(ln)), "")
        if doc.startswith(("```", "~~~", "|", "<", "#")):  # code, tables and HTML are not a summary
            doc = ""
        items.append(OutlineItem("heading", _cap(title), _cap(f"{'#' * level} {title}", 160), at + 1, at + 1,
                                 _cap(doc), level - 1))
        ends.append(end)
    return _close(items, ends)


def _keyed_blocks(lines: list[str], starts: list[tuple[int, str, str, str]]) -> list[OutlineItem]:
    """Items for (index, kind, name, signature) starts, each running to its last line before the next."""
    items, ends = [], []
    for n, (at, kind, name, written) in enumerate(starts):
        stop = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        while stop > at + 1 and (not lines[stop - 1].strip() or lines[stop - 1].lstrip().startswith("#")):
            stop -= 1  # blank lines and the next entry's comment
        items.append(OutlineItem(kind, _cap(name), _cap(written, 160), at + 1, at + 1,
                                 _comment_above(lines, at), 0))
        ends.append(stop)
    return _close(items, ends)


def yaml_keys(text: str) -> list[OutlineItem]:
    """The keys at the top level of every document in a YAML stream, with their line and ``#`` comment."""
    lines = text.splitlines()
    starts = []
    for index, line in enumerate(lines):
        if line[:1] in ("", " ", "\t", "#", "-", "%", "]", "}") or line.startswith("..."):
            continue
        if match := _YAML_KEY.match(line):
            name = match.group(1).lstrip("?").strip().strip("\"'")
            starts.append((index, "key", name, line.strip()))
    return _keyed_blocks(lines, starts)


def toml_outline(text: str) -> list[OutlineItem]:
    """The keys before the first table, then every ``[table]`` and ``[[array.of.tables]]`` header."""
    lines = text.splitlines()
    starts = []
    in_table, quote = False, ""
    for index, line in enumerate(lines):
        if quote:  # inside a multi-line string
            if line.count(quote) % 2:
                quote = ""
            continue
        if (table := _TOML_TABLE.match(line)) and not _TOML_KEY.match(line):
            in_table = True
            starts.append((index, "table", table.group(2), f"{table.group(1)}{table.group(2)}"
                           f"{']' * len(table.group(1))}"))
        elif (key := _TOML_KEY.match(line)) and not in_table:
            starts.append((index, "key", key.group(1).strip("\"'"), line.strip()))
        for mark in ('"""', "'''"):
            if line.count(mark) % 2:
                quote = mark
    return _keyed_blocks(lines, starts)


def _json_value_preview(text: str, at: int) -> str:
    """A short view of the JSON value at ``at``: scalars as written, containers as ``{…}`` or ``[…]``."""
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    if at < len(text) and text[at] in "{[":
        return "{…}" if text[at] == "{" else "[…]"
    end = at
    if text[at:at + 1] == '"':
        end = _string_end(text, at)
        return _cap(text[at:end + 1], 60)
    while end < len(text) and text[end] not in ",}\n":
        end += 1
    return _cap(text[at:end].strip(), 60)


def _string_end(text: str, at: int) -> int:
    """The index of the quote closing the JSON string that opens at ``at`` (or of the line end if none)."""
    end = at + 1
    while end < len(text) and text[end] not in '"\n':
        end += 2 if text[end] == "\\" else 1
    return min(end, len(text))


def json_keys(text: str) -> list[OutlineItem]:
    """The keys of a top-level JSON object, read by a small scanner that stops quietly at broken input."""
    items: list[OutlineItem] = []
    depth, index, line = 0, 0, 1
    key_line, key = 0, None
    while index < len(text):
        char = text[index]
        if char == "\n":
            line += 1
        elif char == '"':
            end = _string_end(text, index)
            if end >= len(text) or text[end] == "\n":
                break  # unterminated string: stop with what we have
            if depth == 1:
                key, key_line = text[index + 1:end], line
            index = end
        elif char == ":" and depth == 1 and key is not None:
            preview = _json_value_preview(text, index + 1)
            items.append(OutlineItem("key", _cap(key), _cap(f'"{key}": {preview}', 160), key_line,
                                     key_line, "", 0))
            key = None
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth <= 0:
                line -= 1 if not text[text.rfind("\n", 0, index) + 1:index].strip() else 0
                break
        elif char == "," and depth == 1:
            key = None
        index += 1
    ends = [nxt.line - 1 for nxt in items[1:]] + [line] if items else []
    return _close(items, ends)


_READERS: dict[str, Callable[[str], list[OutlineItem]]] = {
    "md": markdown_headings, "markdown": markdown_headings, "mdx": markdown_headings,
    "yaml": yaml_keys, "yml": yaml_keys,
    "toml": toml_outline,
    "json": json_keys, "jsonc": json_keys, "json5": json_keys,
}


def summarise(path: str, source: bytes) -> list[OutlineItem] | None:
    """Headings or keys of a markdown, YAML, TOML or JSON file; None for any other kind of file."""
    suffix = PurePath(path).suffix.lower().lstrip(".")
    reader = _READERS.get(suffix)
    if reader is None:
        return None
    text = source.decode("utf-8", "replace").removeprefix("\ufeff")
    try:
        return reader(text)
    except Exception:  # a reader bug must not take down the repo map; the file is then just unsummarised
        return []
