"""The analyser: per host and model, the spread of eval rate, prompt rate and load time over recent calls, and
a latency prediction for a request of a given size.

Rates come straight from the nanosecond fields (``eval_count / eval_duration``); a sample whose server left a
field out (Ollama omits zeros: a cached prompt has no prompt figures) simply does not count for that rate.
A prediction is ``load (when the model is not loaded) + prompt_tokens / prompt rate + output_tokens / eval
rate``, with the medians for the estimate and the 5th and 95th percentiles for its interval.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..providers.kinds import kind_of
from . import reload as reload_mod
from .store import HISTORY, PerfStore, Sample, perf_store

if TYPE_CHECKING:
    from ..storage import Store
    from .hosts import HostsSnapshot

SNAPSHOT_MAX_AGE_S = 30.0
"""An observed host snapshot older than this no longer says whether a model is loaded."""


def quantile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, interpolating linearly between neighbours."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(frozen=True, slots=True)
class Spread:
    """The median and the 90 % interval (5th to 95th percentile) of one figure."""

    median: float
    p5: float
    p95: float
    n: int

    def to_dict(self, digits: int = 3) -> dict[str, float]:
        return {"median": round(self.median, digits), "p5": round(self.p5, digits), "p95": round(self.p95, digits)}


def spread(values: Iterable[float | None]) -> Spread | None:
    """The spread of the values that are not None; None when there are none."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    return Spread(statistics.median(vals), quantile(vals, 0.05), quantile(vals, 0.95), len(vals))


@dataclass(frozen=True, slots=True)
class ModelStats:
    """What the recent samples of one model on one host say."""

    host: str
    model: str
    samples: int
    eval_rate: Spread | None
    """Generated tokens per second."""
    prompt_eval_rate: Spread | None
    """Prompt tokens per second."""
    load_s: Spread | None
    """Load time of every call, warm ones included."""
    cold_load_s: Spread | None
    """Load time of the calls that had to load the model: what a cold start costs."""
    reloads: int
    """Calls among the samples that showed a reload."""
    last_at: float | None
    """When the model was last used (Unix time)."""
    num_ctx: int | None
    """The context size of the newest sample."""

    def to_json(self) -> dict[str, Any]:
        """The entry of ``moot perf --json``'s ``models`` list."""

        def d(s: Spread | None) -> dict[str, float] | None:
            return s.to_dict() if s is not None else None

        return {
            "model": self.model,
            "host": self.host,
            "samples": self.samples,
            "eval_rate": d(self.eval_rate),
            "prompt_eval_rate": d(self.prompt_eval_rate),
            "load_s": d(self.load_s),
        }


def stats_of(host: str, model: str, samples: list[Sample]) -> ModelStats:
    """The stats of ``samples`` (newest first) of one host and model."""
    baseline = reload_mod.warm_baseline_ns(s.load_ns for s in samples)
    return ModelStats(
        host=host,
        model=model,
        samples=len(samples),
        eval_rate=spread(s.eval_rate for s in samples),
        prompt_eval_rate=spread(s.prompt_eval_rate for s in samples),
        load_s=spread(s.load_s for s in samples) if samples else None,
        cold_load_s=spread(s.load_s for s in samples if reload_mod.is_load(s.load_ns, baseline)),
        reloads=sum(1 for s in samples if s.reloaded),
        last_at=samples[0].created_at if samples else None,
        num_ctx=samples[0].num_ctx if samples else None,
    )


@dataclass(frozen=True, slots=True)
class Prediction:
    """A request's predicted latency in seconds: ``seconds`` from the medians, ``low``..``high`` from the
    90 % intervals, and ``basis``, a sentence saying what it rests on."""

    seconds: float
    low: float
    high: float
    basis: str
    load_s: float = 0.0
    """The load time included (0 when the model is loaded)."""
    prompt_rate: float | None = None
    """The median prompt rate used (None: no prompt figures yet, prompt time counted as 0)."""
    eval_rate: float = 0.0
    """The median eval rate used."""

    def seconds_for(self, prompt_tokens: int, output_tokens: int) -> float:
        """The median estimate for another request size on the same basis."""
        prompt = prompt_tokens / self.prompt_rate if self.prompt_rate else 0.0
        return self.load_s + prompt + output_tokens / self.eval_rate


def _full_tag(tag: str) -> str:
    return tag if ":" in tag.rsplit("/", 1)[-1] else tag + ":latest"


def same_model(model: str, loaded_name: str) -> bool:
    """Whether ``loaded_name`` (from a host's list of loaded models: an Ollama tag, or the embedded engine's
    model string) names the model string ``model`` (``llama3`` is ``llama3:latest``)."""
    if model == loaded_name:
        return True
    kind = kind_of(model)
    if kind.in_process:
        return False
    return _full_tag(kind.strip(model)) == _full_tag(loaded_name)


class Analyser:
    """Reads the perf store and answers questions about speed.

    Args:
        store: moot's ``Store`` or a ``PerfStore``.
        window: how many recent samples per host and model count.
        clock: the time source (tests pass a fixed one).
        keep_alive_s: how long an idle model stays loaded, when no host snapshot says otherwise.
    """

    def __init__(
        self,
        store: Store | PerfStore,
        *,
        window: int = HISTORY,
        clock: Callable[[], float] = time.time,
        keep_alive_s: float = reload_mod.KEEP_ALIVE_S,
    ):
        self.store = perf_store(store)
        self.window = window
        self.clock = clock
        self.keep_alive_s = keep_alive_s
        self.hosts: HostsSnapshot | None = None

    def observe(self, snapshot: HostsSnapshot) -> None:
        """Remember a host snapshot: which hosts are up and which models they have loaded."""
        self.hosts = snapshot

    def _fresh_hosts(self) -> HostsSnapshot | None:
        h = self.hosts
        return h if h is not None and self.clock() - h.taken_at <= SNAPSHOT_MAX_AGE_S else None

    def samples(self, model: str, host: str, *, source: str | None = None) -> list[Sample]:
        """The recent samples of one model on one host, newest first."""
        return self.store.samples(model, host, limit=self.window, source=source)

    def stats(self, model: str, host: str, *, source: str | None = None) -> ModelStats | None:
        """The stats of one model on one host; None without samples."""
        samples = self.samples(model, host, source=source)
        return stats_of(host, model, samples) if samples else None

    def all_stats(self) -> list[ModelStats]:
        """The stats of every host and model with samples, the most recently used first."""
        return [stats_of(h, m, self.samples(m, h)) for h, m in self.store.series()]

    def host_up(self, host: str) -> bool | None:
        """Whether the last host snapshot found ``host`` reachable; None when it does not say."""
        snap = self._fresh_hosts()
        status = snap.host(host) if snap is not None else None
        return status.reachable if status is not None else None

    def is_loaded(self, model: str, host: str) -> bool | None:
        """Whether ``model`` is loaded on ``host`` with the context size moot uses, so a call will not load it.

        From the last host snapshot when fresh (a model loaded with another context size will be reloaded,
        so it counts as not loaded); else from when moot last used it; None without either.
        """
        snap = self._fresh_hosts()
        status = snap.host(host) if snap is not None else None
        if status is not None and status.reachable and status.error is None:
            entry = status.find(model)
            if entry is None:
                return False
            samples = self.store.samples(model, host, limit=1)
            ours = samples[0].num_ctx if samples else None
            return not (ours and entry.context_length and ours != entry.context_length)
        samples = self.store.samples(model, host, limit=1)
        if not samples:
            return None
        return self.clock() - samples[0].created_at <= self.keep_alive_s

    def predict(
        self, model: str, host: str, prompt_tokens: int, output_tokens: int, *, loaded: bool | None = None
    ) -> Prediction | None:
        """Predict a request's latency; None without eval figures for this model on this host.

        ``loaded`` says whether the model is loaded (no load time); None asks ``is_loaded``.
        """
        st = self.stats(model, host)
        if st is None or st.eval_rate is None:
            return None
        if loaded is None:
            loaded = self.is_loaded(model, host)
        notes = [f"{st.samples} samples"]
        load = (0.0, 0.0, 0.0)
        if not loaded:
            if st.cold_load_s is not None:
                c = st.cold_load_s
                load = (c.median, c.p5, c.p95)
                notes.append(f"load {c.median:.1f} s (not loaded)")
            else:
                notes.append("not loaded, load time unknown")
        er = st.eval_rate
        pr = st.prompt_eval_rate
        if pr is None and prompt_tokens:
            notes.append("no prompt figures yet")

        def total(load_s: float, prompt_rate: float | None, eval_rate: float) -> float:
            prompt = prompt_tokens / prompt_rate if prompt_rate else 0.0
            return load_s + prompt + output_tokens / eval_rate

        seconds = total(load[0], pr.median if pr else None, er.median)
        low = total(load[1], pr.p95 if pr else None, er.p95)
        high = total(load[2], pr.p5 if pr else None, er.p5)
        rates = f"eval {er.median:.1f} tok/s"
        if pr is not None:
            rates = f"prompt {pr.median:.0f} tok/s, " + rates
        basis = f"{rates} ({', '.join(notes)})"
        return Prediction(seconds, low, high, basis, load[0], pr.median if pr else None, er.median)
