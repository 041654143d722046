"""The context size moot settled on for each model on each host, in this process.

A local server reloads a model whenever a request asks for another context size, so every request for a model
must ask for the same one. The perf store decides the size (``perf.num_ctx``) and remembers it here; a backend
reads it here when a call names none. Kept in the providers so that they never import the perf store.
"""

from __future__ import annotations

_sizes: dict[tuple[str, str], int] = {}


def remembered(host: str, model: str) -> int | None:
    """The context size settled on for ``model`` (a model string) on ``host``, if any."""
    return _sizes.get((host, model))


def remember(host: str, model: str, n: int) -> None:
    _sizes[(host, model)] = n


def forget_all() -> None:
    _sizes.clear()
