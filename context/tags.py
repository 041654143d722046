"""Definition and reference tags of a source file, read with tree-sitter tag queries.

Each language's query (``queries/<lang>.scm``) names its captures in one convention:
``@name.definition.<category>`` on the name of something defined, ``@name.reference.<category>`` on a name
used, and ``@definition.<category>`` on the whole defining node, which the outline reads for signatures
and line ranges. One parse and one query run per file; syntax errors only cost the tags inside the broken
part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tree_sitter import Node, QueryCursor

from moot.context.languages import language_for_path, parser_for, query_for

Kind = Literal["def", "ref"]

#: When one name is captured as two kinds of definition, the higher wins (a method is also a function).
_PRIORITY = {"method": 3, "interface": 2, "module": 2, "class": 1, "function": 0, "constant": 0}


@dataclass(frozen=True)
class Tag:
    """One name defined or used in a file.

    ``category`` is the capture's last part: ``class``, ``function``, ``method``, ``interface``,
    ``module``, ``constant`` for definitions, ``call`` or ``class`` for references. ``line`` is 1-based.
    """

    path: str
    name: str
    kind: Kind
    category: str
    line: int


@dataclass(frozen=True)
class Capture:
    """A name captured by the tag query, with the whole definition node when the pattern marks one.

    ``node_category`` is the category of that node's ``@definition.*`` capture; it can differ from
    ``category`` (a Rust ``impl`` block names the type it implements as a class reference).
    """

    kind: Kind
    category: str
    name: Node
    node: Node | None
    node_category: str | None


def scan(source: bytes, lang: str) -> list[Capture]:
    """Parse ``source`` as ``lang`` and run its tag query once, in source order.

    A name captured as several definitions keeps the most specific one; a name that is defined is not
    also reported as a reference; the same reference found by two patterns is kept once.

    Raises:
        KeyError: ``lang`` has no grammar.
    """
    query = query_for(lang)
    tree = parser_for(lang).parse(source)
    defs: dict[tuple[int, int], Capture] = {}
    refs: dict[tuple[int, int, str], Capture] = {}
    for _, captures in QueryCursor(query).matches(tree.root_node):
        node, node_category = None, None
        for key, nodes in captures.items():
            if key.startswith("definition."):
                node, node_category = nodes[0], key.removeprefix("definition.")
        for key, nodes in captures.items():
            if not key.startswith("name."):
                continue
            _, kind, category = key.split(".", 2)
            for name in nodes:
                if kind == "definition":
                    span = (name.start_byte, name.end_byte)
                    old = defs.get(span)
                    if old is None or _PRIORITY.get(category, 1) > _PRIORITY.get(old.category, 1):
                        defs[span] = Capture("def", category, name, node, node_category)
                elif kind == "reference":
                    span_of = (name.start_byte, name.end_byte, category)
                    if span_of not in refs or refs[span_of].node is None:
                        refs[span_of] = Capture("ref", category, name, node, node_category)
    found = list(defs.values())
    found += [ref for (start, end, _), ref in refs.items() if (start, end) not in defs]
    found.sort(key=lambda c: (c.name.start_byte, c.kind != "def", c.category))
    return found


def node_text(source: bytes, node: Node) -> str:
    """The text of ``node``, decoded leniently (files in odd encodings still yield names)."""
    return source[node.start_byte:node.end_byte].decode("utf-8", "replace")


def extract_tags(path: str, source: bytes, lang: str | None = None) -> list[Tag]:
    """The definitions and references in one file, in source order.

    Args:
        path: the file's path, stored in each tag and used to pick the language when ``lang`` is None.
        source: the file's bytes.
        lang: a language name from :data:`moot.context.languages.GRAMMARS`, or None to go by extension.

    Returns:
        The tags; an empty list for a language without a grammar.
    """
    lang = lang or language_for_path(path)
    return tags_from(path, source, safe_scan(source, lang)) if lang else []


def safe_scan(source: bytes, lang: str) -> list[Capture]:
    """``scan``, or nothing when the language has no grammar here."""
    try:
        return scan(source, lang)
    except (KeyError, ImportError):
        return []


def tags_from(path: str, source: bytes, captures: list[Capture]) -> list[Tag]:
    """The tags in captures already made by ``scan`` (so tags and outline share one parse)."""
    tags: list[Tag] = []
    for capture in captures:
        name = node_text(source, capture.name).strip()
        if name:
            tags.append(Tag(path, name, capture.kind, capture.category, capture.name.start_point.row + 1))
    return tags
