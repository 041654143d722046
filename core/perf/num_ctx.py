"""moot's own context size per local model, kept stable so moot never makes a server reload a model.

An Ollama server reloads a model whenever a request asks for another ``num_ctx`` than the one it is loaded
with. So moot settles on one value per host and model and sends it on every call:

1. the model's configured ``num_ctx``, when set;
2. else the value remembered for this host and model (prefs scope ``num_ctx``);
3. else the first one used: a caller's explicit request; for the embedded engine its default; for Ollama the
   context size the model is already loaded with, or, when it is not loaded, the one the server loads it
   with for moot's first call (read from ``/api/ps`` afterwards).

The value is remembered in the process too, so the Ollama backend sends it even for a call made without a
store.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from ..providers import context_sizes
from .analyse import same_model
from .store import host_of

if TYPE_CHECKING:
    from ..config.models import ModelConfig
    from ..providers.base import Params
    from ..storage import Store

PREF_SCOPE = "num_ctx"
PROBE_TIMEOUT_S = 2.0

_unknowable: set[tuple[str, str]] = set()
"""Models whose server did not list them after a call (kept loaded for no time): not asked again."""


def remembered(host: str, model: str) -> int | None:
    """The context size moot settled on for ``model`` (a model string) on ``host`` in this process."""
    return context_sizes.remembered(host, model)


def forget_all() -> None:
    """Forget what this process remembered (the prefs stay)."""
    context_sizes.forget_all()
    _unknowable.clear()


async def loaded_context(host: str, model: str, timeout_s: float = PROBE_TIMEOUT_S) -> int | None:
    """The context size ``model`` is loaded with on the Ollama ``host``, or None (not loaded, host down)."""
    from ..providers.kinds import OLLAMA

    try:
        entries = await asyncio.wait_for(OLLAMA.function("loaded")(host), timeout_s)
    except Exception:  # a probe: a down or slow host just means "unknown"
        return None
    for e in entries:
        n = e.get("context_length")
        if same_model(model, str(e.get("model") or "")) and isinstance(n, int) and n > 0:
            return n
    return None


class NumCtxBook:
    """Where moot's stable context sizes are kept: this process, and the prefs of ``store`` when given."""

    def __init__(self, store: Store | None = None):
        self.store = store

    def get(self, host: str, model: str) -> int | None:
        n = context_sizes.remembered(host, model)
        if n is None and self.store is not None:
            value = self.store.get_pref(PREF_SCOPE, f"{host} {model}")
            if isinstance(value, int) and value > 0:
                n = value
                context_sizes.remember(host, model, n)
        return n

    def remember(self, host: str, model: str, n: int) -> None:
        context_sizes.remember(host, model, n)
        if self.store is not None:
            self.store.set_pref(PREF_SCOPE, f"{host} {model}", n)

    async def resolve(self, model: ModelConfig, requested: int | None = None) -> int | None:
        """The context size to send for ``model``; None only for an Ollama model moot has never called and
        that is not loaded (the server's default is used, and ``learn`` remembers it afterwards)."""
        if model.num_ctx:
            return model.num_ctx
        host = host_of(model)
        if known := self.get(host, model.model):
            return known
        n: int | None = requested
        if n is None:
            n = model.provider_kind.default_context
        if n is None and model.provider_kind.has_host and (host, model.model) not in _unknowable:
            n = await loaded_context(host, model.model)
        if n:
            self.remember(host, model.model, n)
        return n

    async def learn(self, model: ModelConfig) -> int | None:
        """After a call that sent no context size: the one the server loaded the model with, remembered."""
        if model.num_ctx:
            return model.num_ctx
        host = host_of(model)
        if known := self.get(host, model.model):
            return known
        if not model.provider_kind.has_host or (host, model.model) in _unknowable:
            return None
        n = await loaded_context(host, model.model)
        if n:
            self.remember(host, model.model, n)
        else:
            _unknowable.add((host, model.model))
        return n


async def stable_params(model: ModelConfig, params: Params, store: Store | None) -> Params:
    """``params`` with moot's stable context size for ``model`` (local models only). Never raises."""
    if not model.is_local:
        return params
    try:
        n = await NumCtxBook(store).resolve(model, params.num_ctx)
    except Exception:
        return params
    return replace(params, num_ctx=n) if n else params


async def learn(model: ModelConfig, store: Store | None) -> int | None:
    """``NumCtxBook(store).learn(model)``, never raising."""
    try:
        return await NumCtxBook(store).learn(model)
    except Exception:
        return None
