"""What to show a model for a task within a token budget, and what was left out.

Strategies:

- ``scoped``: explicit inputs, then pinned files (whole if they fit, else an outline), then by rank the
  top files whole (up to half of what is left), short outlines of many of the next ones (each at most a few
  percent of the budget, cut to its first lines), and a compact tree of the rest; what the tree leaves unused
  shows outlined files whole.
- ``distilled``: the same, with the distillation of earlier phases passed in ``extra`` first.
- ``full``: every file whole, in rank order, as long as the budget allows.
- ``fresh``: only the explicit inputs and the pinned files.

The total never exceeds the budget: every item is counted exactly as rendered, and the joined text is
counted once more at the end (items are dropped from the end in the unlikely case it came out larger).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from moot.context.budget import Counter, Fitted, fit_input, fit_outline, fit_text, fit_tree, relevant_lines
from moot.context.encoding import decode_source
from moot.context.index import RepoIndex
from moot.context.rank import rank_files
from moot.context.render import render_full, render_tree

ContextStrategy = Literal["full", "scoped", "distilled", "fresh"]
"""How much of the repository a phase sees (not to be confused with an ensemble strategy: who proposes)."""
ItemKind = Literal["full", "outline", "tree", "input"]
CONTEXT_STRATEGIES: tuple[str, ...] = ("full", "scoped", "distilled", "fresh")

#: Share of the budget left after inputs and pinned files that whole files may take in ``scoped``.
FULL_SHARE = 0.5
#: Most of that budget kept back for the tree (less when the whole tree is smaller).
TREE_SHARE = 0.15
#: The most of the outlines' budget one file's outline may take: a central file's long outline is cut to its
#: first lines, so that many more of the files ranked after it are shown too (measured with
#: bench/context_quality.py: breadth finds the changed files; the whole files above give the depth).
OUTLINE_SHARE = 0.03
#: ... but never less than this many tokens, and no outline is started with fewer than ``OUTLINE_MIN`` left.
OUTLINE_FLOOR = 60
OUTLINE_MIN = 24
#: Stop looking for whole files after this many in a row did not fit.
FULL_MISSES = 3
#: A file larger than this many bytes per token left is not read (no real text is that sparse).
BYTES_PER_TOKEN = 40
_KIND_ORDER = {"input": 0, "full": 1, "outline": 2, "tree": 3}
#: The path of the tree item.
TREE_PATH = "."


@dataclass
class ContextItem:
    """One piece of the context: a file whole or outlined, the tree of others, or an explicit input."""

    path: str
    """The file's path; the input's label; ``.`` for the tree."""
    kind: ItemKind
    tokens: int
    """Exact tokens of ``text``."""
    text: str
    covers: list[str] = field(default_factory=list)
    """The index's files this item shows (every file in the tree for the tree item)."""


@dataclass
class ContextResult:
    """The context for one task: items in the order they are sent, and the files in none of them."""

    budget: int
    total_tokens: int
    """Exact tokens of :attr:`text`; never more than ``budget``."""
    items: list[ContextItem]
    left_out: list[str]
    """Files of the index in no item (not even the tree), best-ranked first (by path for ``fresh``)."""
    strategy: str
    why: dict[str, dict[str, float]] = field(default_factory=dict)
    """For each file shown whole or outlined: its rank and score, and the signals behind them (``walk``, the
    PageRank; ``lexical``, the BM25 match; ``defines`` and ``named``, the lifts), as ``rank_files`` gives."""

    @property
    def text(self) -> str:
        """Everything that is sent, items joined in order."""
        return "".join(item.text for item in self.items)

    def to_json(self) -> dict[str, Any]:
        """The ``moot context --json`` document."""
        return {
            "budget": self.budget,
            "total_tokens": self.total_tokens,
            "items": [{"path": i.path, "kind": i.kind, "tokens": i.tokens,
                       **({"why": self.why[i.path]} if i.path in self.why else {})} for i in self.items],
            "left_out": list(self.left_out),
        }


class _Builder:
    """Items chosen so far and what is left of the budget."""

    def __init__(self, index: RepoIndex, budget: int, count: Counter, task: str = "") -> None:
        self.index, self.budget, self.count = index, budget, count
        from moot.context.lexical import words

        self.split = words
        self.wanted = set(words(task))
        """The task's words: a cut outline keeps the lines that name them."""
        self.items: list[ContextItem] = []
        self.used = 0

    @property
    def remaining(self) -> int:
        return self.budget - self.used

    @property
    def covered(self) -> set[str]:
        return {rel for item in self.items for rel in item.covers}

    def add(self, path: str, kind: ItemKind, fitted: Fitted, covers: list[str]) -> None:
        self.items.append(ContextItem(path, kind, fitted.tokens, fitted.text, covers))
        self.used += fitted.tokens

    def input(self, label: str, text: str) -> bool:
        fitted = fit_input(label, text, self.remaining, self.count)
        if fitted is not None:
            self.add(label, "input", fitted, [])
        return fitted is not None

    def full(self, rel: str, limit: int) -> bool:
        """Show ``rel`` whole if it fits in ``limit`` tokens; the file is read only then."""
        limit = min(limit, self.remaining)
        info = self.index.files.get(rel)
        if limit <= 0 or (info is not None and info.size > limit * BYTES_PER_TOKEN):
            return False
        path = self.index.root / rel
        try:
            if info is None and not path.resolve().is_relative_to(self.index.root.resolve()):
                return False  # a pinned path outside the index must still lie inside the repository
            content = decode_source(path.read_bytes())  # its mark or coding declaration, else UTF-8
        except (OSError, ValueError):
            return False
        fitted = fit_text(render_full(rel, content), limit, self.count)
        if fitted is not None:
            self.add(rel, "full", fitted, [rel] if info is not None else [])
        return fitted is not None

    def outline(self, rel: str, limit: int) -> Fitted | None:
        """Show the outline of ``rel``, as many lines as fit in ``limit``."""
        info = self.index.files.get(rel)
        if info is None:
            return None
        first = relevant_lines(info.outline, self.wanted, self.split) if self.wanted else []
        fitted = fit_outline(rel, info.outline, min(limit, self.remaining), self.count, first)
        if fitted is not None:
            self.add(rel, "outline", fitted, [rel])
        return fitted

    def tree(self, ranked: list[str]) -> None:
        found = fit_tree(ranked, self.remaining, self.count)
        if found is not None:
            self.add(TREE_PATH, "tree", found[0], found[1])

    def result(self, order: Sequence[str], strategy: str) -> ContextResult:
        total = self.count("".join(i.text for i in self.items))
        while total > self.budget and self.items:  # joined text counted larger than its parts: drop the tail
            self.items.pop()
            total = self.count("".join(i.text for i in self.items))
        covered = self.covered
        left_out = [rel for rel in order if rel not in covered]
        return ContextResult(self.budget, total, self.items, left_out, strategy)


def _scoped(b: _Builder, ranked: list[str]) -> None:
    """Top files whole, then outlines, then the tree, for what is left of the budget."""
    start, available = len(b.items), b.remaining
    full_cap = b.used + int(available * FULL_SHARE)
    misses = 0
    for rel in ranked:
        if b.used >= full_cap or misses >= FULL_MISSES:
            break
        if b.full(rel, full_cap - b.used):
            misses = 0
        else:
            misses += 1
    rest = [rel for rel in ranked if rel not in b.covered]
    reserve = min(int(available * TREE_SHARE), b.count(render_tree(rest)))
    outline_cap = b.budget - reserve
    cap = max(OUTLINE_FLOOR, int((outline_cap - b.used) * OUTLINE_SHARE))
    for rel in rest:
        info = b.index.files[rel]
        if not info.outline:
            continue
        if outline_cap - b.used < OUTLINE_MIN:
            break
        b.outline(rel, min(cap, outline_cap - b.used))  # a long outline is cut to its first lines; the next follow
    b.tree([rel for rel in rest if rel not in b.covered])
    _upgrade(b, start)


def _upgrade(b: _Builder, start: int) -> None:
    """Spend what the tree did not need on showing outlined files whole, best-ranked first; then put the
    items from ``start`` on in kind order (whole files, outlines, the tree)."""
    for i in range(start, len(b.items)):
        item = b.items[i]
        if item.kind != "outline" or b.remaining <= 0:
            continue
        b.used -= item.tokens
        if b.full(item.path, b.remaining):
            b.items[i] = b.items.pop()
        else:
            b.used += item.tokens
    b.items[start:] = sorted(b.items[start:], key=lambda it: _KIND_ORDER[it.kind])


def scope(index: RepoIndex, task: str, budget: int, *, context_strategy: ContextStrategy = "scoped", model: str = "",
          pinned: Sequence[str] = (), dropped: Sequence[str] = (), plan_files: Sequence[str] = (),
          extra: Sequence[tuple[str, str]] = ()) -> ContextResult:
    """Choose and render the context for ``task`` within ``budget`` tokens of ``model``'s encoding.

    Args:
        index: the repository's index; whole files are read from ``index.root``.
        task: the task's text; what it mentions steers the ranking.
        budget: most tokens the result may take (negative counts as 0).
        context_strategy: ``scoped``, ``distilled``, ``full`` or ``fresh`` (see the module docstring).
        model: the model the text is for; picks the tokenizer.
        pinned: files shown first (whole if they fit, else outlined); they also steer the ranking. A
            pinned path outside the index is shown if it is a file inside ``index.root``.
        dropped: files never shown, not even in the tree.
        plan_files: files the plan names for this task; they steer the ranking.
        extra: ``(label, text)`` inputs shown before everything else, cut by lines if too long.

    Raises:
        ValueError: an unknown context strategy.
    """
    if context_strategy not in CONTEXT_STRATEGIES:
        raise ValueError(f"unknown context strategy {context_strategy!r} (known: {', '.join(CONTEXT_STRATEGIES)})")
    b = _Builder(index, max(0, budget), Counter(model), task)
    skip = set(dropped)
    pins = [p for p in dict.fromkeys(pinned) if p not in skip]
    for label, text in extra:
        b.input(label, text)
    signals: dict[str, dict[str, float]] = {}
    ranks: dict[str, tuple[int, float]] = {}
    if context_strategy == "fresh":
        order = sorted(index.files)
    else:
        from moot.context.history import read_history

        ranking = rank_files(index, task=task, chosen=pins, plan_files=plan_files, signals=signals,
                             history=read_history(index.root) if task.strip() or pins or plan_files else None)
        order = [rel for rel, _ in ranking]
        ranks = {rel: (n, score) for n, (rel, score) in enumerate(ranking, start=1)}
    for rel in pins:
        if not b.full(rel, b.remaining):
            b.outline(rel, b.remaining)
    if context_strategy != "fresh":
        shown = b.covered
        ranked = [rel for rel in order if rel not in skip and rel not in shown]
        if context_strategy == "full":
            for rel in ranked:
                if b.remaining < 8:
                    break
                b.full(rel, b.remaining)
        else:
            _scoped(b, ranked)
    result = b.result(order, context_strategy)
    result.why = {rel: {"rank": ranks[rel][0], "score": round(ranks[rel][1], 6), **signals.get(rel, {})}
                  for item in result.items for rel in ([item.path] if item.kind in ("full", "outline") else [])
                  if rel in ranks}
    return result
