"""An outline of a source file: its classes, functions and methods with signatures and first doc lines.

Built from the same tag query as :mod:`moot.context.tags`: every ``@definition.*`` node of an outline kind
becomes an item. Depth counts the classes, interfaces, modules and impl blocks around it; things defined
inside a function body are left out. The doc line is the first line of a Python docstring, or else of the
comment block directly above the definition (attributes and decorators in between are skipped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from moot.context.languages import language_for_path
from moot.context.tags import Capture, node_text, safe_scan

#: Definition kinds listed in an outline, and those among them that hold others.
OUTLINE_KINDS = frozenset({"class", "interface", "module", "impl", "function", "method"})
CONTAINER_KINDS = frozenset({"class", "interface", "module", "impl"})

#: Nodes that wrap a definition without being part of it (the comment sits above the wrapper).
_WRAPPERS = frozenset({"export_statement", "decorated_definition", "template_declaration",
                       "type_declaration", "ambient_declaration"})
#: Siblings allowed between a definition and its comment.
_SKIPPED = frozenset({"attribute_item", "decorator", "attribute", "annotation", "attribute_list"})
#: Named nodes that may come before a definition inside its wrapper.
_LEADING = _SKIPPED | {"template_parameter_list"}
_PROTOTYPES = frozenset({"declaration", "field_declaration"})
_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})
#: Node types that hold a definition's body, for definitions without a ``body`` field.
_BODIES = frozenset({"block", "statement_block", "class_body", "declaration_list", "field_declaration_list",
                     "compound_statement", "interface_body", "enum_body", "body_statement", "object_type",
                     "enum_variant_list", "enum_member_declaration_list", "constructor_body",
                     "function_body", "enumerator_list"})
_SIGNATURE_CAP = 160

_COMMENT_MARK = re.compile(r"^\s*(?://!|///?|/\*+|\*+/|\*|#+)")
_XML_TAG = re.compile(r"</?(?:summary|remarks|para|returns|value)\b[^>]*>")


@dataclass(frozen=True)
class OutlineItem:
    """One line of an outline.

    ``kind`` is ``class``, ``interface``, ``module``, ``impl``, ``function`` or ``method`` for code, and
    ``heading``, ``key`` or ``table`` for the text summaries. Lines are 1-based; ``depth`` is 0 at top level.
    """

    kind: str
    name: str
    signature: str
    line: int
    end_line: int
    doc: str
    depth: int


def outline(path: str, source: bytes, lang: str | None = None) -> list[OutlineItem]:
    """The classes, functions and methods of one file in source order; empty for unknown languages."""
    lang = lang or language_for_path(path)
    return outline_from(source, lang, safe_scan(source, lang)) if lang else []


def outline_from(source: bytes, lang: str, captures: list[Capture]) -> list[OutlineItem]:
    """The outline from captures already made by ``scan`` (so tags and outline share one parse)."""
    found: dict[int, tuple[str, Node, Node]] = {}
    for capture in captures:
        kind, node = capture.node_category, capture.node
        if node is not None and kind in OUTLINE_KINDS and node.id not in found:
            found[node.id] = (kind, capture.name, node)
    items: list[tuple[OutlineItem, Node]] = []
    for kind, name, node in found.values():
        depth, nested_in_function = 0, False
        parent = node.parent
        while parent is not None:
            outer = found.get(parent.id)
            if outer is not None:
                if outer[0] in CONTAINER_KINDS:
                    depth += 1
                else:
                    nested_in_function = True
            parent = parent.parent
        if nested_in_function:
            continue
        text = node_text(source, name).strip()
        item = OutlineItem(kind, text, signature(source, node, text), node.start_point.row + 1,
                           _last_row(node) + 1, _doc(source, node, lang)[:_SIGNATURE_CAP], depth)
        items.append((item, node))
    # A C/C++ prototype adds nothing when the file also defines the function.
    defined = {(i.name, i.depth) for i, n in items if n.type not in _PROTOTYPES}
    kept = [i for i, n in items if n.type not in _PROTOTYPES or (i.name, i.depth) not in defined]
    return sorted(kept, key=lambda item: (item.line, item.depth))


def _last_row(node: Node) -> int:
    """The 0-based row of the node's last character (a Rust line comment ends at column 0 of the next)."""
    row = node.end_point.row
    return row - 1 if node.end_point.column == 0 and row > node.start_point.row else row


def _outermost(node: Node) -> Node:
    """The export/decorator/template wrapper around ``node`` if it leads that wrapper, else ``node``.

    A Go ``type ( A ...; B ... )`` group is not climbed for ``B``: the group's comment is not ``B``'s.
    """
    while node.parent is not None and node.parent.type in _WRAPPERS:
        before = node.prev_named_sibling
        while before is not None and before.type in _LEADING:
            before = before.prev_named_sibling
        if before is not None:
            break
        node = node.parent
    return node


def _body(node: Node) -> Node | None:
    """The body of a definition: its ``body`` field, or the first body-like node a few levels down."""
    level = [node]
    for _ in range(4):
        following: list[Node] = []
        for current in level:
            if current.type == "interface_type":  # Go: methods sit right inside the braces
                return next((c for c in current.children if c.type == "{"), None)
            body = current.child_by_field_name("body")
            if body is not None and body.type not in ("identifier", "expression"):
                return body
            for child in current.named_children:
                if child.type in _BODIES:
                    return child
                following.append(child)
        level = following
    return None


def signature(source: bytes, node: Node, name: str = "") -> str:
    """The definition as written up to its body, whitespace collapsed and capped.

    A wrapper that starts on the same line (``export``, Go's ``type``) is included; a name that only comes
    after the body (C's ``typedef struct {...} name``) is kept as ``{…} name``.
    """
    start = node.start_byte
    outer = _outermost(node)
    if outer.start_point.row == node.start_point.row:
        start = outer.start_byte
    body = _body(node)
    end = body.start_byte if body is not None and body.start_byte > start else node.end_byte
    text = _collapse(source[start:end])
    if body is not None and name and name not in text:
        tail = _collapse(source[body.end_byte:node.end_byte])
        if name in tail:
            text = f"{text} {{…}} {tail}"
    text = text.removesuffix("{").rstrip().removesuffix(";").rstrip()
    if len(text) > _SIGNATURE_CAP:
        text = text[: _SIGNATURE_CAP - 1].rstrip() + "…"
    return text


def _collapse(text: bytes) -> str:
    return " ".join(text.decode("utf-8", "replace").split())


def _first_line(text: str) -> str:
    """The first non-empty line of a comment or docstring, without comment markers or XML doc tags."""
    for raw in text.splitlines():
        line = _COMMENT_MARK.sub("", raw, count=1)
        line = _XML_TAG.sub("", line.removesuffix("*/").strip()).strip()
        if line:
            return line
    return ""


def _docstring(source: bytes, node: Node) -> str:
    body = node.child_by_field_name("body")
    if body is None or body.named_child_count == 0:
        return ""
    first = body.named_children[0]
    if first.type != "expression_statement" or first.named_child_count != 1:
        return ""
    string = first.named_children[0]
    if string.type != "string":
        return ""
    parts = [c for c in string.named_children if c.type == "string_content"]
    return _first_line(node_text(source, parts[0])) if parts else ""


def _comment_above(source: bytes, node: Node) -> str:
    """The first line of the comment block that ends on the line above ``node`` (or above its attributes)."""
    node = _outermost(node)
    row = node.start_point.row
    block: list[Node] = []
    sibling = node.prev_sibling
    while sibling is not None:
        if sibling.type in _SKIPPED:
            row = sibling.start_point.row
        elif sibling.type in _COMMENTS and _last_row(sibling) >= row - 1:
            before = sibling.prev_sibling
            if before is not None and before.type not in _COMMENTS and \
                    before.end_point.row == sibling.start_point.row:
                break  # a trailing comment on a line of code belongs to that code
            block.insert(0, sibling)
            row = sibling.start_point.row
        else:
            break
        sibling = sibling.prev_sibling
    for comment in block:
        if line := _first_line(node_text(source, comment)):
            return line
    return ""


def _doc(source: bytes, node: Node, lang: str) -> str:
    doc = _docstring(source, node) if lang == "python" else ""
    return doc or _comment_above(source, node)


def render_outline(path: str, items: list[OutlineItem]) -> str:
    """A compact text form: ``path:`` then one indented ``L<line> <signature>  # <doc>`` per item."""
    lines = [f"{path}:"]
    for item in items:
        text = item.signature or f"{item.kind} {item.name}"
        doc = f"  # {item.doc}" if item.doc else ""
        lines.append(f"{'  ' * (item.depth + 1)}L{item.line} {text}{doc}")
    return "\n".join(lines)
