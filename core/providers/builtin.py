"""Registers the three built-in backends. Each module is imported only when its backend is first used."""

from __future__ import annotations

from .base import Backend, register_backend


def _hosted() -> Backend:
    from .hosted import HostedBackend

    return HostedBackend()


def _ollama() -> Backend:
    from .ollama import OllamaBackend

    return OllamaBackend()


def _local() -> Backend:
    from .embedded import EmbeddedBackend

    return EmbeddedBackend()


register_backend("hosted", _hosted)
register_backend("ollama", _ollama)
register_backend("local", _local)
