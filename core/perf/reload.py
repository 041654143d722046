"""Reload detection: telling a model that had to be loaded again from one that answered warm.

A server reports how long it spent loading the model for each call (``load_duration``). For a warm model that
is a few milliseconds. A call is a *load* when its load time is at least ``MIN_LOAD_NS`` and well above the
model's recent warm baseline (``JUMP_FACTOR`` times it). A load is a *reload* when the model was already
loaded: the server listed it as loaded before the call, or moot used it within the keep-alive window.
A load after the model expired is not a reload; it is the price of a cold start.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Sample

MIN_LOAD_NS = 200_000_000
"""Load times below 0.2 s are a warm model's bookkeeping, never a load."""
JUMP_FACTOR = 5.0
"""A load time this many times the warm baseline (and at least ``MIN_LOAD_NS``) is a load."""
KEEP_ALIVE_S = 300.0
"""How long a server keeps an idle model loaded unless told otherwise (the usual default, 5 minutes)."""


@dataclass(frozen=True, slots=True)
class ReloadVerdict:
    """What ``detect`` concluded about one call."""

    reloaded: bool
    load: bool
    """The call's figures show a load (warm or not)."""
    baseline_s: float | None
    """The model's recent warm load time, when known."""
    reason: str = ""
    """For a reload: a sentence for the panel and the log."""


def warm_baseline_ns(loads_ns: Iterable[int]) -> int | None:
    """The median of the load times that are not loads themselves, or None when there are none."""
    warm = [x for x in loads_ns if x < MIN_LOAD_NS]
    return int(statistics.median(warm)) if warm else None


def is_load(load_ns: int, baseline_ns: int | None) -> bool:
    """Whether a call that spent ``load_ns`` loading had to load the model."""
    return load_ns >= max(MIN_LOAD_NS, JUMP_FACTOR * (baseline_ns or 0))


def detect(
    history: Sequence[Sample],
    sample: Sample,
    *,
    was_loaded: bool | None = None,
    keep_alive_s: float = KEEP_ALIVE_S,
) -> ReloadVerdict:
    """Whether ``sample`` shows a reload, given the same model's earlier samples on the same host.

    Args:
        history: earlier samples of this host and model, newest first.
        sample: the new sample (its ``created_at`` is "now").
        was_loaded: whether the server listed the model as loaded just before the call; None when unknown,
            in which case a use within ``keep_alive_s`` counts as loaded.
        keep_alive_s: how long an idle model stays loaded.
    """
    baseline = warm_baseline_ns(h.load_ns for h in history)
    load = is_load(sample.load_ns, baseline)
    baseline_s = baseline / 1e9 if baseline is not None else None
    if not load:
        return ReloadVerdict(False, False, baseline_s)
    last = history[0] if history else None
    age = sample.created_at - last.created_at if last is not None else None
    warm = was_loaded if was_loaded is not None else (age is not None and age <= keep_alive_s)
    if not warm:
        return ReloadVerdict(False, True, baseline_s)
    parts = [f"{sample.model} reloaded on {sample.host}: load {sample.load_ns / 1e9:.2f} s"]
    if baseline_s is not None:
        parts[0] += f" against a warm {baseline_s:.2f} s"
    if was_loaded:
        parts.append("it was loaded before the call")
    elif age is not None:
        parts.append(f"last used {age:.0f} s before")
    if last is not None and last.num_ctx and sample.num_ctx and last.num_ctx != sample.num_ctx:
        parts.append(f"num_ctx changed {last.num_ctx} → {sample.num_ctx}")
    return ReloadVerdict(True, True, baseline_s, "; ".join(parts))
