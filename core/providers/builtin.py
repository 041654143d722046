"""Registers the built-in backends, one per provider kind (``kinds.KINDS``). Each backend's module is imported
only when its kind is first used."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .base import Backend, register_default
from .kinds import KINDS, ProviderKind


def _factory(kind: ProviderKind) -> Callable[[], Backend]:
    def make() -> Backend:
        module, _, name = kind.backend.partition(":")
        backend: Backend = getattr(importlib.import_module(module), name)()
        return backend

    return make


FACTORIES: dict[str, Callable[[], Backend]] = {kind.name: _factory(kind) for kind in KINDS}

for _key, _factory_of_kind in FACTORIES.items():
    register_default(_key, _factory_of_kind)  # a backend registered earlier for the same kind (a proxy) stays
