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


_HOSTED: dict[str, int] | None = None


def hosted_window(model: str) -> int | None:
    """The input window the hosted client's bundled model map gives ``model`` (``openai/gpt-4o`` or ``gpt-4o``),
    if it knows it. The map is read from the client's package data, without importing the client (slow) and
    without the network."""
    global _HOSTED
    if _HOSTED is None:
        _HOSTED = _read_hosted_map()
    return _HOSTED.get(model) or _HOSTED.get(model.split("/", 1)[-1])


def _read_hosted_map() -> dict[str, int]:
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    try:
        data = json.loads((Path(spec.origin).parent / "model_prices_and_context_window_backup.json").read_text())
    except (OSError, ValueError):
        return {}
    return {name: int(n) for name, facts in data.items() if isinstance(facts, dict)
            and isinstance(n := facts.get("max_input_tokens") or facts.get("max_tokens"), int) and n > 0}
