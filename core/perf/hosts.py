"""Live state of the local engines: every Ollama host moot uses, and the embedded engine.

``snapshot(config)`` asks each Ollama host for its version (``/api/version``) and loaded models (``/api/ps``)
concurrently, with a short time limit; a host that is down or slow is reported unreachable, never raised.
``PerfMonitor`` joins that with the perf store's figures into one ``PerfSnapshot``: what ``moot perf`` prints
and what the workbench's perf panel renders.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import importlib.util
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .analyse import Analyser, ModelStats, same_model, stats_of
from .pool import summary as pool_summary
from .reload import KEEP_ALIVE_S
from .shapes import summary as shapes_summary
from .store import EMBEDDED_HOST, HISTORY, PerfStore, Sample, host_of, perf_store

if TYPE_CHECKING:
    from ..config.models import Config, ModelConfig
    from ..storage import Store

TIMEOUT_S = 2.0
"""How long a host may take to answer before it counts as unreachable."""
NEVER_EXPIRES_S = 10 * 365 * 86400.0
"""An expiry further away than this means "kept loaded for good" (reported as None)."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """One model a host has loaded."""

    model: str
    """As the host names it: an Ollama tag (``qwen2.5-coder:7b``), or the embedded model string."""
    size: int | None
    """Bytes in memory."""
    size_vram: int | None
    """Bytes of it in GPU memory."""
    processor: str
    """``100% CPU``, ``100% GPU``, ``48%/52% CPU/GPU``, or ``unknown``."""
    context_length: int | None
    expires_in_s: float | None
    """Seconds until the host unloads it; None when it never does (or the host does not say)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "size": self.size,
            "size_vram": self.size_vram,
            "processor": self.processor,
            "context_length": self.context_length,
            "expires_in_s": self.expires_in_s,
        }


@dataclass(frozen=True, slots=True)
class HostStatus:
    """One host: whether it answers, its version, what it has loaded."""

    host: str
    """An Ollama base URL, or ``embedded``."""
    reachable: bool
    version: str | None = None
    loaded: tuple[LoadedModel, ...] = ()
    error: str | None = None
    """Why it is unreachable (or why its list of loaded models is missing)."""

    def find(self, model: str) -> LoadedModel | None:
        """The loaded entry of the model string ``model``, if loaded here."""
        return next((m for m in self.loaded if same_model(model, m.model)), None)

    def to_json(self) -> dict[str, Any]:
        """The entry of ``moot perf --json``'s ``hosts`` list."""
        return {
            "host": self.host,
            "reachable": self.reachable,
            "version": self.version,
            "loaded": [m.to_json() for m in self.loaded],
        }


@dataclass(frozen=True, slots=True)
class HostsSnapshot:
    """Every host at one moment."""

    hosts: tuple[HostStatus, ...]
    taken_at: float

    def host(self, host: str) -> HostStatus | None:
        return next((h for h in self.hosts if h.host == host), None)


def processor(size: int | None, size_vram: int | None) -> str:
    """Where a loaded model sits, from its size and the part of it in GPU memory."""
    if size_vram is None or size is None:
        return "unknown"
    if size_vram == 0:
        return "100% CPU"
    if size_vram == size:
        return "100% GPU"
    if size <= 0 or size_vram > size:
        return "unknown"
    cpu = math.floor((size - size_vram) / size * 100 + 0.5)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def expires_in(expires_at: str | None, now: float) -> float | None:
    """Seconds from ``now`` to an ISO 8601 expiry, rounded to 0.1 s; None when absent, unreadable or
    practically never."""
    if not expires_at:
        return None
    try:
        when = datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    left = when - now
    return None if left > NEVER_EXPIRES_S else round(max(0.0, left), 1)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def ollama_hosts(config: Config) -> list[str]:
    """Every Ollama host in use: ``[ollama] host`` (else ``OLLAMA_HOST`` or the default), then each Ollama
    model's own (every host of its pool), in order, without repeats."""
    from ..providers.ollama import resolve_host

    hosts = [resolve_host(config.ollama.host)]
    for m in config.models:
        if m.provider_kind.has_host:
            hosts.append(host_of(m))
            hosts += [resolve_host(h) for h in m.pool]
    return list(dict.fromkeys(hosts))


async def ollama_status(
    host: str, *, timeout_s: float = TIMEOUT_S, clock: Callable[[], float] = time.time
) -> HostStatus:
    """Ask one Ollama host for its version and loaded models (the kind's ``probe`` and ``loaded``). Never
    raises."""
    from ..providers.kinds import OLLAMA

    server_version, running_models = OLLAMA.function("probe"), OLLAMA.function("loaded")

    async def ask(coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, timeout_s)
        except TimeoutError:
            return TimeoutError(f"no answer from {host} within {timeout_s:g} s")
        except Exception as e:  # ProviderError with a message a user can act on, or anything else
            return e

    version, running = await asyncio.gather(ask(server_version(host)), ask(running_models(host)))
    if isinstance(version, BaseException):
        return HostStatus(host, False, error=_message(version))
    if isinstance(running, BaseException):
        return HostStatus(host, True, version or None, error=f"loaded models unknown: {_message(running)}")
    now = clock()
    loaded = tuple(
        LoadedModel(
            model=str(m.get("model") or ""),
            size=_int(m.get("size")),
            size_vram=_int(m.get("size_vram")),
            processor=processor(_int(m.get("size")), _int(m.get("size_vram"))),
            context_length=_int(m.get("context_length")),
            expires_in_s=expires_in(m.get("expires_at"), now),
        )
        for m in running
    )
    return HostStatus(host, True, version or None, loaded)


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", "") or exc) or type(exc).__name__


@functools.cache
def _engine_version() -> str | None:
    for dist in ("llama_cpp_python", "llama-cpp-python"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def embedded_installed() -> bool:
    """Whether the ``local`` extra is installed: llama.cpp's binding can be found (it is not imported)."""
    return importlib.util.find_spec("llama_cpp") is not None


def _file_size(model: ModelConfig | None) -> int | None:
    from ..providers.embedded import model_path

    if model is None:
        return None
    try:
        return os.path.getsize(model_path(model))
    except Exception:  # no file, or the shipped model is missing: the size is just unknown
        return None


def embedded_status(
    config: Config,
    *,
    perf: PerfStore | None = None,
    since: float | None = None,
    keep_alive_s: float = KEEP_ALIVE_S,
    clock: Callable[[], float] = time.time,
) -> HostStatus:
    """The embedded engine as a host: reachable when the ``local`` extra is installed.

    The workbench runs the engine in its model worker process, out of this process's sight, so its loaded
    models are inferred from the perf store: a ``local/`` model whose newest sample is from this session
    (``since``, when the worker loaded it and keeps it) or within ``keep_alive_s``. An engine loaded in this
    process (a headless command) counts too. They run on the CPU and do not expire (``expires_in_s`` None).
    """
    from ..providers import base
    from ..providers.embedded import DEFAULT_CTX, EmbeddedBackend, model_path
    from ..providers.kinds import EMBEDDED

    if not embedded_installed():
        return HostStatus(EMBEDDED_HOST, False, error="embedded engine not installed (pip install 'moot[local]')")
    configured = {m.model: m for m in config.models if m.provider_kind.in_process}
    loaded: dict[str, LoadedModel] = {}
    backend = base.instance(EMBEDDED.name)
    engines = backend.loaded_engines() if isinstance(backend, EmbeddedBackend) else []
    if engines:
        by_path: dict[str, str] = {}
        for m in configured.values():
            try:
                by_path.setdefault(str(model_path(m)), m.model)
            except Exception:
                continue
        for path, n_ctx in engines:
            try:
                size: int | None = os.path.getsize(path)
            except OSError:
                size = None
            name = by_path.get(path) or EMBEDDED.prefixes[0] + os.path.basename(path).removesuffix(".gguf")
            loaded.setdefault(name, LoadedModel(name, size, 0, processor(size, 0), n_ctx, None))
    if perf is not None:
        now = clock()
        for host, name in perf.series():
            if host != EMBEDDED_HOST or name in loaded:
                continue
            newest = perf.samples(name, EMBEDDED_HOST, limit=1)
            if not newest:
                continue
            s = newest[0]
            if (since is not None and s.created_at >= since) or now - s.created_at <= keep_alive_s:
                mc = configured.get(name)
                size = _file_size(mc)
                n_ctx = s.num_ctx or (mc.num_ctx if mc else None) or DEFAULT_CTX
                loaded[name] = LoadedModel(name, size, 0, processor(size, 0), n_ctx, None)
    return HostStatus(EMBEDDED_HOST, True, _engine_version(), tuple(loaded.values()))


async def snapshot(
    config: Config,
    *,
    timeout_s: float = TIMEOUT_S,
    embedded: bool = True,
    clock: Callable[[], float] = time.time,
    perf: PerfStore | None = None,
    since: float | None = None,
    keep_alive_s: float = KEEP_ALIVE_S,
) -> HostsSnapshot:
    """Every Ollama host in use (asked concurrently) and, when ``embedded``, the embedded engine (whose loaded
    models are read from ``perf``: see ``embedded_status``)."""
    hosts = ollama_hosts(config)
    statuses = list(await asyncio.gather(*(ollama_status(h, timeout_s=timeout_s, clock=clock) for h in hosts)))
    if embedded:
        statuses.append(embedded_status(config, perf=perf, since=since, keep_alive_s=keep_alive_s, clock=clock))
    return HostsSnapshot(tuple(statuses), clock())


# ------------------------------------------------------------------------------------------ the monitor


@dataclass(frozen=True)
class PerfSnapshot:
    """Everything the perf panel and ``moot perf`` show, at one moment."""

    hosts: HostsSnapshot
    models: tuple[ModelStats, ...]
    """Per host and model: the recent figures (models in config without samples yet have ``samples == 0``)."""
    reloads: tuple[Sample, ...] = ()
    """Recent samples that showed a reload, newest first (``reload_reason`` says what happened)."""
    decisions: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """Recent routing decisions, newest first (rows of ``route_decisions``)."""
    pools: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """Per pooled model and host: its share of the calls, speed, failures and why it was last chosen
    (``pool.summary``)."""
    outcomes: dict[str, Any] = field(default_factory=dict)
    """What came of local tasks: per model and role, success by shape and size and a recent series; and each
    run's share of tasks done locally (``shapes.summary``)."""

    @property
    def taken_at(self) -> float:
        return self.hosts.taken_at

    def to_json(self) -> dict[str, Any]:
        """The document ``moot perf --json`` prints."""
        return {
            "hosts": [h.to_json() for h in self.hosts.hosts],
            "models": [m.to_json() for m in self.models],
            "pools": list(self.pools),
            "outcomes": self.outcomes or {"models": [], "runs": []},
        }


def local_models(config: Config) -> list[ModelConfig]:
    return [m for m in config.models if m.is_local]


class PerfMonitor:
    """Polls the hosts and reads the perf store; call ``refresh`` on a timer (every 2 s is plenty).

    Args:
        config: the merged config (which hosts, which local models).
        store: moot's ``Store`` or a ``PerfStore``.
        analyser: shared with the router, so routing sees the hosts this monitor observed; made when omitted.
        timeout_s: how long a host may take to answer.
        embedded: include the embedded engine.
        session_start: when this session began (Unix time; now when omitted): an embedded model used since
            then is still loaded in the model worker.
    """

    def __init__(
        self,
        config: Config,
        store: Store | PerfStore,
        *,
        analyser: Analyser | None = None,
        timeout_s: float = TIMEOUT_S,
        embedded: bool = True,
        clock: Callable[[], float] = time.time,
        session_start: float | None = None,
    ):
        self.config = config
        self.store = perf_store(store)
        self.analyser = analyser or Analyser(self.store, clock=clock)
        self.timeout_s = timeout_s
        self.embedded = embedded
        self.clock = clock
        self.session_start = clock() if session_start is None else session_start
        self.latest: PerfSnapshot | None = None

    async def refresh(self) -> PerfSnapshot:
        """Poll every host, feed the analyser, and return (and keep in ``latest``) a new snapshot."""
        hosts = await snapshot(
            self.config, timeout_s=self.timeout_s, embedded=self.embedded, clock=self.clock, perf=self.store,
            since=self.session_start, keep_alive_s=self.analyser.keep_alive_s,
        )
        self.analyser.observe(hosts)
        self.latest = self.read(hosts)
        return self.latest

    def read(self, hosts: HostsSnapshot) -> PerfSnapshot:
        """The store's side of a snapshot (no network), around a given hosts snapshot."""
        models = self.analyser.all_stats()
        seen = {(m.host, m.model) for m in models}
        for m in local_models(self.config):
            key = (host_of(m), m.model)
            if key not in seen:
                seen.add(key)
                models.append(stats_of(key[0], key[1], []))
        return PerfSnapshot(
            hosts,
            tuple(models),
            tuple(self.store.reloads(limit=10)),
            tuple(self.store.decisions(limit=20)),
            tuple(pool_summary(self.store.store)),
            shapes_summary(self.store.store),
        )

    def history(self, model: str, host: str, *, limit: int = HISTORY) -> list[Sample]:
        """Recent samples of one model on one host, newest first (for sparklines)."""
        return self.store.samples(model, host, limit=limit)
