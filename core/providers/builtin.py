"""Registers the three built-in backends. Each module is imported only when its backend is first used."""

from __future__ import annotations

from collections.abc import Callable

from .base import Backend, register_default


def _hosted() -> Backend:
    from .hosted import HostedBackend

    return HostedBackend()


def _ollama() -> Backend:
    from .ollama import OllamaBackend

    return OllamaBackend()


def _local() -> Backend:
    from .embedded import EmbeddedBackend

    return EmbeddedBackend()


FACTORIES: dict[str, Callable[[], Backend]] = {"hosted": _hosted, "ollama": _ollama, "local": _local}

for _key, _factory in FACTORIES.items():
    register_default(_key, _factory)  # a backend registered earlier for the same kind (a proxy) stays
