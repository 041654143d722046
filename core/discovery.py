"""Which models exist and which are usable now.

With no model configured, the defaults are the embedded model, one hosted model per provider whose key is in
the environment, and every model pulled in a reachable Ollama (added here, since it needs the network).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from .config import LoadedConfig, ModelConfig
from .providers.base import Availability, backend_for

CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ModelStatus:
    model: ModelConfig
    availability: Availability

    @property
    def usable(self) -> bool:
        return self.availability.usable


def ollama_host(loaded: LoadedConfig) -> str:
    from .providers.ollama import resolve_host

    return resolve_host(loaded.config.ollama.host or os.environ.get("OLLAMA_HOST"))


async def add_ollama_defaults(loaded: LoadedConfig) -> list[str]:
    """When no model was configured, offer every model pulled in the reachable Ollama. Returns the aliases."""
    if not loaded.defaulted_models:
        return []
    from .events import ProviderError
    from .providers.ollama import list_models

    host = ollama_host(loaded)
    try:
        tags = await asyncio.wait_for(list_models(host), CHECK_TIMEOUT_S)
    except (ProviderError, TimeoutError, OSError):
        return []
    added = []
    for tag in tags:
        alias = tag.removesuffix(":latest").replace("/", "-")
        if loaded.config.model(alias) is None:
            loaded.config.models.append(ModelConfig(name=alias, model=f"ollama/{tag}", api_base=host))
            added.append(alias)
    return added


async def _check(model: ModelConfig) -> ModelStatus:
    if len(model.pool) > 1:  # a pool: usable while any of its hosts is
        each = await asyncio.gather(*(_check(model.on_host(h))
                                      for h in model.pool))
        up = [s for s in each if s.usable]
        down = [f"{h}: {s.availability.reason}" for h, s in zip(model.pool, each, strict=True) if not s.usable]
        if up:
            detail = f"{len(up)} of {len(each)} hosts usable" + (f" (not: {'; '.join(down)})" if down else "")
            return ModelStatus(model, Availability(True, detail))
        return ModelStatus(model, Availability(False, "no host of the pool is usable: " + "; ".join(down),
                                               fix=each[0].availability.fix))
    try:
        av = await asyncio.wait_for(backend_for(model).availability(model), CHECK_TIMEOUT_S)
    except TimeoutError:
        av = Availability(False, "no answer while checking", fix="check the host named in api_base")
    except Exception as e:  # a backend that cannot even be loaded
        av = Availability(False, f"cannot check: {e}")
    return ModelStatus(model, av)


async def model_statuses(loaded: LoadedConfig) -> list[ModelStatus]:
    """Every model (after Ollama discovery), each checked concurrently."""
    await add_ollama_defaults(loaded)
    return list(await asyncio.gather(*(_check(m) for m in loaded.config.models)))
