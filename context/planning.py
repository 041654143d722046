"""The repository context a planning run hands its proposers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from moot.core.config.models import ModelConfig

from .scope import ContextResult, scope


def context_budget(budget: int, models: Sequence[ModelConfig]) -> int:
    """The configured budget, capped at a quarter of the smallest local context window among ``models``
    (a small local model must keep room for the task, its answer and the judge's prompt)."""
    windows = [m.num_ctx for m in models if m.is_local and m.num_ctx]
    return min([budget, *(w // 4 for w in windows)])


def planning_context(root: Path, task: str, budget: int, model: str = "", *, pinned: Sequence[str] = (),
                     dropped: Sequence[str] = ()) -> ContextResult | None:
    """Scoped context for ``task`` from the git repository at ``root``, with the user's ``pinned`` files
    first and ``dropped`` ones left out; None outside a repository (a stray run in a home directory must not
    walk everything) or when the budget is zero."""
    from .cache import TagCache, build_index
    from .files import git_lists, list_files

    if budget <= 0 or not git_lists(root):
        return None
    cache = TagCache()
    try:
        index = build_index(root, files=list_files(root, sniff=False), cache=cache)
    finally:
        cache.close()
    return scope(index, task, budget, model=model, pinned=pinned, dropped=dropped)
