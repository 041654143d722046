"""Compare two proposals: a side-by-side diff (with the changed words marked) or a unified one.

``side_by_side`` and ``unified`` are plain functions over two texts; ``DiffView`` renders their rows with
colours from the theme (component classes styled in ``compare.tcss``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from rich.console import RenderableType
from rich.padding import Padding
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Footer, Select, Static

from moot.core.ensemble.result import Proposal

from .base import MootScreen

Span = tuple[int, int]
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
WORD_MATCH_MIN = 0.4
"""Below this similarity two paired lines are simply different; marking their words would be noise."""
LINE_MATCH_MIN = 0.6
"""Two lines of a replaced block face each other when at least this alike."""
PAIRING_LIMIT = 40_000
"""Larger replaced blocks (lines × lines) are paired in order rather than by likeness."""


@dataclass(frozen=True)
class Row:
    """One aligned row of a side-by-side diff. A side is ``None`` where it has no line."""

    kind: str
    """equal, removed, added or changed."""
    left: str | None
    right: str | None
    left_no: int | None = None
    right_no: int | None = None
    left_spans: tuple[Span, ...] = ()
    """Character ranges of ``left`` that differ from ``right`` (only for changed rows)."""
    right_spans: tuple[Span, ...] = ()


def word_spans(a: str, b: str) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """The character ranges of ``a`` and ``b`` whose words differ; nothing when the lines hardly match."""
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    matcher = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    if matcher.ratio() < WORD_MATCH_MIN:
        return (), ()
    oa = list(accumulate(map(len, ta), initial=0))
    ob = list(accumulate(map(len, tb), initial=0))
    ops = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    left = tuple((oa[i1], oa[i2]) for _, i1, i2, _, _ in ops if i2 > i1)
    right = tuple((ob[j1], ob[j2]) for _, _, _, j1, j2 in ops if j2 > j1)
    return left, right


def _pair(la: Sequence[str], lb: Sequence[str], i0: int, j0: int) -> list[Row]:
    """Rows for a replaced block: the most alike lines face each other (as difflib's Differ pairs them),
    the rest are removed or added; a block with no alike lines is paired in order."""
    best, bi, bj = LINE_MATCH_MIN, -1, -1
    if len(la) * len(lb) <= PAIRING_LIMIT:
        matcher = difflib.SequenceMatcher(autojunk=False)
        for j, right in enumerate(lb):
            matcher.set_seq2(right)
            for i, left in enumerate(la):
                matcher.set_seq1(left)
                if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best and matcher.ratio() > best:
                    best, bi, bj = matcher.ratio(), i, j
    if bi < 0:
        return [_row(la[k] if k < len(la) else None, lb[k] if k < len(lb) else None, i0 + k, j0 + k)
                for k in range(max(len(la), len(lb)))]
    return (_pair(la[:bi], lb[:bj], i0, j0) + [_row(la[bi], lb[bj], i0 + bi, j0 + bj)]
            + _pair(la[bi + 1:], lb[bj + 1:], i0 + bi + 1, j0 + bj + 1))


def _row(left: str | None, right: str | None, i: int, j: int) -> Row:
    """One row of a replaced block; ``i`` and ``j`` count from 0."""
    if left is None:
        return Row("added", None, right, None, j + 1)
    if right is None:
        return Row("removed", left, None, i + 1)
    if left == right:
        return Row("equal", left, right, i + 1, j + 1)
    return Row("changed", left, right, i + 1, j + 1, *word_spans(left, right))


def side_by_side(a: str, b: str) -> list[Row]:
    """``a`` against ``b`` line by line, aligned: removed lines on the left, added ones on the right."""
    la, lb = a.splitlines(), b.splitlines()
    rows: list[Row] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, la, lb, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [_row(la[i1 + k], lb[j1 + k], i1 + k, j1 + k) for k in range(i2 - i1)]
        else:
            rows += _pair(la[i1:i2], lb[j1:j2], i1, j1)
    return rows


def unified(a: str, b: str, a_name: str = "left", b_name: str = "right") -> list[tuple[str, str]]:
    """A unified diff as (kind, line) pairs; kind is header, hunk, removed, added or equal."""
    lines = difflib.unified_diff(a.splitlines(), b.splitlines(), a_name, b_name, lineterm="")
    kinds = {"@": "hunk", "-": "removed", "+": "added"}
    return [("header" if n < 2 else kinds.get(line[:1], "equal"), line) for n, line in enumerate(lines)]


class DiffView(Widget):
    """The diff of two texts, side by side or unified; grows with its content (scroll its container)."""

    COMPONENT_CLASSES = {"diff--removed", "diff--added", "diff--removed-word", "diff--added-word",
                         "diff--gutter", "diff--hunk", "diff--header"}
    unified: reactive[bool] = reactive(False, layout=True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[Row] = []
        self.lines: list[tuple[str, str]] = []

    def show(self, left: str, right: str, names: tuple[str, str]) -> None:
        """Diff ``left`` against ``right``; ``names`` head the unified diff."""
        self.rows, self.lines = side_by_side(left, right), unified(left, right, *names)
        self.refresh(layout=True)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name)

    def _cell(self, line: str | None, spans: Sequence[Span], kind: str) -> RenderableType:
        if line is None:
            return Text("")
        text = Text(line)
        if kind == "equal":
            return text
        line_style = self._style(f"diff--{kind}")
        for start, end in spans:
            text.stylize(self._style(f"diff--{kind}-word"), start, end)
        return Padding(text, 0, style=line_style, expand=True)

    def render(self) -> RenderableType:
        if self.unified:
            if not self.lines:
                return Text("The two proposals are identical.", style=self._style("diff--gutter"))
            lines = Table.grid(expand=True)
            lines.add_column(ratio=1)
            for kind, line in self.lines:
                plain = kind in ("equal", "hunk", "header")
                lines.add_row(Text(line, style=self._style(f"diff--{kind}") if kind != "equal" else "")
                              if plain else self._cell(line, (), kind))
            return lines
        table = Table.grid(expand=True, padding=(0, 1, 0, 0))
        gutter = self._style("diff--gutter")
        for ratio in (None, 1, None, 1):
            table.add_column(ratio=ratio, justify="left" if ratio else "right", style=None if ratio else gutter)
        for row in self.rows:
            lk = "removed" if row.kind in ("removed", "changed") else "equal"
            rk = "added" if row.kind in ("added", "changed") else "equal"
            table.add_row(str(row.left_no or ""), self._cell(row.left, row.left_spans, lk),
                          str(row.right_no or ""), self._cell(row.right, row.right_spans, rk))
        return table


def proposal_name(p: Proposal) -> str:
    """How a proposal is named in the pickers: its plan letter (or number), model and variant."""
    return f"{p.label or p.index + 1} · {p.proposer.model.name} · {p.proposer.variant}"


class CompareScreen(MootScreen[None]):
    """Two proposals picked with the selects at the top, and their diff below."""

    CSS_PATH = "compare.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", id="compare.back", tooltip="Back to the proposals"),
        Binding("u", "toggle_unified", "Unified/side by side", id="compare.unified",
                tooltip="Switch between the side-by-side and the unified diff"),
        Binding("s", "swap", "Swap", id="compare.swap", tooltip="Swap the left and right proposals"),
    ]

    def __init__(self, proposals: Sequence[Proposal], first: int | None = None) -> None:
        super().__init__()
        self.proposals = {p.index: p for p in proposals if p.text}
        order = list(self.proposals)
        start = order.index(first) if first in self.proposals else 0
        self.initial = (order[start], order[(start + 1) % len(order)]) if order else (0, 0)

    def compose(self) -> ComposeResult:
        options = [(proposal_name(p), i) for i, p in self.proposals.items()]
        with Horizontal(id="compare-pickers"):
            yield Select(options, value=self.initial[0], allow_blank=False, id="compare-left")
            yield Select(options, value=self.initial[1], allow_blank=False, id="compare-right")
        yield Static("", id="compare-summary", markup=False)
        with VerticalScroll(id="compare-scroll"):
            yield DiffView(id="compare-diff")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-scroll").focus()
        self.update_diff()

    @property
    def pair(self) -> tuple[Proposal, Proposal]:
        """The proposals on the left and on the right."""
        left = self.query_one("#compare-left", Select).value
        right = self.query_one("#compare-right", Select).value
        return self.proposals[left], self.proposals[right]  # type: ignore[index]

    @on(Select.Changed)
    def update_diff(self) -> None:
        """Diff the two chosen proposals again, and count what changed."""
        left, right = self.pair
        diff = self.query_one(DiffView)
        diff.show(left.text, right.text, (proposal_name(left), proposal_name(right)))
        counts = {k: sum(r.kind == k for r in diff.rows) for k in ("removed", "added", "changed", "equal")}
        mode = "unified" if diff.unified else "side by side"
        self.query_one("#compare-summary", Static).update(
            f"{counts['changed']} changed · {counts['removed']} removed · {counts['added']} added · "
            f"{counts['equal']} unchanged lines  ({mode}; u switches)")

    def action_toggle_unified(self) -> None:
        diff = self.query_one(DiffView)
        diff.unified = not diff.unified
        self.update_diff()

    def action_swap(self) -> None:
        left, right = self.query_one("#compare-left", Select), self.query_one("#compare-right", Select)
        with self.prevent(Select.Changed):
            left.value, right.value = right.value, left.value
        self.update_diff()

    def action_back(self) -> None:
        self.dismiss()
