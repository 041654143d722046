"""Exact token counts and fitting items into what is left of a budget.

Counts are tiktoken's, with the encoding of the model's family (cl100k otherwise); nothing is estimated.
Where an item can be cut (an outline's lines, an input's lines, how far the tree is collapsed) a binary
search finds the most that fits, and the text returned is counted again as it will be sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from moot.context.outline import OutlineItem
from moot.context.render import (
    build_tree,
    folders,
    input_lines,
    render_input,
    render_outline_item,
    render_tree,
    top_level,
)
from moot.core.tokens import count_tokens


@dataclass
class Counter:
    """Counts tokens for one model, remembering short texts (a binary search counts its answer twice)."""

    model: str = ""
    _seen: dict[str, int] = field(default_factory=dict, repr=False)

    def __call__(self, text: str) -> int:
        if len(text) > 65536:
            return count_tokens(text, self.model)
        if text not in self._seen:
            if len(self._seen) >= 1024:
                self._seen.clear()
            self._seen[text] = count_tokens(text, self.model)
        return self._seen[text]


@dataclass(frozen=True)
class Fitted:
    """A rendered text and its exact token count."""

    text: str
    tokens: int
    whole: bool = True
    """False when only part of the item fitted (the first lines of an outline or an input)."""


def last_true(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
    """The largest ``n`` in ``lo..hi`` with ``ok(n)``, for ``ok`` true up to some point and false after;
    ``lo - 1`` when ``ok(lo)`` is false."""
    best = lo - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if ok(mid):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def first_true(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
    """The smallest ``n`` in ``lo..hi`` with ``ok(n)``, for ``ok`` false up to some point and true after;
    ``hi + 1`` when ``ok(hi)`` is false."""
    best = hi + 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if ok(mid):
            best, hi = mid, mid - 1
        else:
            lo = mid + 1
    return best


def fit_text(text: str, limit: int, count: Callable[[str], int]) -> Fitted | None:
    """``text`` if it fits in ``limit`` tokens."""
    if limit <= 0:
        return None
    tokens = count(text)
    return Fitted(text, tokens) if tokens <= limit else None


def _part(text: str, limit: int, count: Callable[[str], int]) -> Fitted | None:
    fitted = fit_text(text, limit, count)
    return Fitted(fitted.text, fitted.tokens, whole=False) if fitted is not None else None


def fit_outline(path: str, items: Sequence[OutlineItem], limit: int,
                count: Callable[[str], int], first: Sequence[int] = ()) -> Fitted | None:
    """The outline of ``path`` with as many of its lines as fit (at least one), or None. When it is cut, the
    lines at the indices ``first`` (those that matter to the task, each after its enclosing lines) are kept
    before the others; what is shown stays in the file's order."""
    if not items or limit <= 0:
        return None
    whole = fit_text(render_outline_item(path, items), limit, count)
    if whole is not None:
        return whole
    if not first:
        n = last_true(1, len(items) - 1, lambda k: count(render_outline_item(path, items, k)) <= limit)
        return _part(render_outline_item(path, items, n), limit, count) if n >= 1 else None
    order = list(dict.fromkeys([*(i for i in first if 0 <= i < len(items)), *range(len(items))]))

    def rendered(k: int) -> str:
        shown = [items[i] for i in sorted(order[:k])]
        return render_outline_item(path, shown) + (f"  … {len(items) - k} more\n" if k < len(items) else "")

    n = last_true(1, len(items) - 1, lambda k: count(rendered(k)) <= limit)
    return _part(rendered(n), limit, count) if n >= 1 else None


def relevant_lines(items: Sequence[OutlineItem], wanted: set[str], split: Callable[[str], list[str]]) -> list[int]:
    """The indices of the outline lines whose names share a word with ``wanted``, each after the lines that
    enclose it (a method after its class), in the file's order."""
    out: list[int] = []
    for i, item in enumerate(items):
        if not wanted.intersection(split(item.name)):
            continue
        parents, depth = [], item.depth
        for j in range(i - 1, -1, -1):
            if items[j].depth < depth:
                parents.append(j)
                depth = items[j].depth
        out += [*reversed(parents), i]
    return list(dict.fromkeys(out))


def fit_input(label: str, text: str, limit: int, count: Callable[[str], int]) -> Fitted | None:
    """An explicit input, whole if it fits, else its first lines (at least one), or None."""
    if limit <= 0:
        return None
    whole = fit_text(render_input(label, text), limit, count)
    if whole is not None:
        return whole
    total = input_lines(text)
    n = last_true(1, total - 1, lambda k: count(render_input(label, text, k)) <= limit)
    return _part(render_input(label, text, n), limit, count) if n >= 1 else None


def fit_tree(ranked: Sequence[str], limit: int, count: Callable[[str], int]) -> tuple[Fitted, list[str]] | None:
    """The tree of ``ranked`` (best first) within ``limit``, and the paths it covers.

    First every file is listed; if that is too long, folders are collapsed into ``name/ (N files)``,
    deepest first, as few as needed (binary search); if even the top folders collapsed are too long, the
    top-level entries holding the best-ranked files are kept, as many as fit. None when nothing fits.
    """
    if not ranked or limit <= 0:
        return None
    whole = fit_text(render_tree(ranked), limit, count)
    if whole is not None:
        return whole, list(ranked)
    order = [f.path for f in folders(build_tree(ranked))]
    k = first_true(1, len(order), lambda n: count(render_tree(ranked, order[:n])) <= limit)
    if k <= len(order):
        fitted = fit_text(render_tree(ranked, order[:k]), limit, count)
        if fitted is not None:
            return fitted, list(ranked)
    groups: list[str] = []
    for rel in ranked:
        if (top := top_level(rel)) not in groups:
            groups.append(top)

    def kept(m: int) -> list[str]:
        chosen = set(groups[:m])
        return [rel for rel in ranked if top_level(rel) in chosen]

    m = last_true(1, len(groups), lambda n: count(render_tree(kept(n), order)) <= limit)
    if m < 1:
        return None
    fitted = fit_text(render_tree(kept(m), order), limit, count)
    return (fitted, kept(m)) if fitted is not None else None
