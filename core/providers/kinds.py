"""What moot knows about each kind of model server, said once.

A model string names its kind by its prefix: ``ollama/<tag>`` is served by an Ollama host, ``local/<name>`` by
the embedded engine, anything else by a hosted provider through litellm (``openai/…``, ``anthropic/…``). Every
other module asks here (``kind_of``, ``ModelConfig.kind``, ``ModelConfig.is_local``) instead of testing prefixes.

This module imports nothing from moot: the config schema reads it, and so can anything else.

To add a hosted provider, add one ``HostedProvider`` line to ``HOSTED`` (its prefix, key variable and the model
offered when only its key is set). To add a kind of server, add a ``ProviderKind`` to ``KINDS`` and write its
backend (a ``Backend`` subclass) in the module it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

KindName = Literal["hosted", "ollama", "local"]


@dataclass(frozen=True)
class ProviderKind:
    name: KindName
    prefixes: tuple[str, ...]
    """The model-string prefixes it serves (the hosted kind serves every other string)."""
    local: bool
    """Runs on the user's own engine: no key, no cost, measured speed, worth routing to."""
    reports_speed: bool
    """Its answers carry engine counters (prompt and eval counts and durations) for the perf store."""
    backend: str
    """``module:Class`` of its ``Backend``, imported when the kind is first used."""
    has_host: bool = False
    """It is reached at a host the user runs (probed with ``/api/version``, asked what it has loaded and with
    which context size); the ``[ollama]`` section configures it."""
    in_process: bool = False
    """Its engine runs inside moot's own processes (one call at a time; what it holds is read from the perf
    store)."""
    decodes_schema: bool = False
    """A call with ``Params.schema`` is surely decoded under it (hosted servers may, but only they know)."""
    decodes_grammar: bool = False
    """A call with ``Params.grammar`` (GBNF) is decoded under it."""
    default_context: int | None = None
    """The context size its engine loads a model with when none is configured."""
    default_model: dict[str, Any] | None = None
    """The model offered when nothing is configured, as a ``[[models]]`` entry."""
    probe: str | None = None
    """``module:function`` asking a host for its version (``async (host) -> str``), for kinds with a host."""
    loaded: str | None = None
    """``module:function`` asking a host what it holds loaded (``async (host) -> list[dict]``)."""

    def function(self, which: str) -> Any:
        """The ``probe`` or ``loaded`` function, imported."""
        import importlib

        module, _, name = str(getattr(self, which)).partition(":")
        return getattr(importlib.import_module(module), name)

    def strip(self, model: str) -> str:
        """``model`` without this kind's prefix (``ollama/qwen2.5:7b`` -> ``qwen2.5:7b``)."""
        for prefix in self.prefixes:
            if model.startswith(prefix):
                return model[len(prefix):]
        return model


@dataclass(frozen=True)
class HostedProvider:
    prefix: str
    key_env: str
    """The environment variable that conventionally holds its key."""
    default_model: str | None = None
    """The model offered under the provider's name when its key is set and no model is configured."""


HOSTED = ProviderKind("hosted", (), local=False, reports_speed=False,
                      backend="moot.core.providers.hosted:HostedBackend")
OLLAMA = ProviderKind("ollama", ("ollama/", "ollama_chat/"), local=True, reports_speed=True,
                      backend="moot.core.providers.ollama:OllamaBackend", has_host=True, decodes_schema=True,
                      probe="moot.core.providers.ollama:server_version",
                      loaded="moot.core.providers.ollama:running_models")
EMBEDDED = ProviderKind("local", ("local/",), local=True, reports_speed=True,
                        backend="moot.core.providers.embedded:EmbeddedBackend", in_process=True,
                        decodes_schema=True, decodes_grammar=True, default_context=4096,
                        default_model={"name": "smollm2", "model": "local/smollm2", "max_tokens": 384,
                                       "temperature": 0.7, "num_ctx": 8192})

#: Every kind, the most specific prefixes first; the hosted kind takes what no other claims.
KINDS: tuple[ProviderKind, ...] = (OLLAMA, EMBEDDED, HOSTED)
BY_NAME: dict[str, ProviderKind] = {k.name: k for k in KINDS}

#: The hosted providers moot offers out of the box.
HOSTED_PROVIDERS: tuple[HostedProvider, ...] = (
    HostedProvider("openai", "OPENAI_API_KEY", "openai/gpt-4o-mini"),
    HostedProvider("anthropic", "ANTHROPIC_API_KEY", "anthropic/claude-3-5-haiku-latest"),
    HostedProvider("gemini", "GEMINI_API_KEY", "gemini/gemini-2.0-flash"),
    HostedProvider("openrouter", "OPENROUTER_API_KEY", "openrouter/openai/gpt-4o-mini"),
    HostedProvider("mistral", "MISTRAL_API_KEY", "mistral/mistral-small-latest"),
    HostedProvider("groq", "GROQ_API_KEY", "groq/llama-3.3-70b-versatile"),
    HostedProvider("deepseek", "DEEPSEEK_API_KEY", "deepseek/deepseek-chat"),
    HostedProvider("xai", "XAI_API_KEY", "xai/grok-2-latest"),
)
#: Each hosted provider's key variable, by prefix.
KEY_ENV: dict[str, str] = {p.prefix: p.key_env for p in HOSTED_PROVIDERS}


def kind_of(model: str) -> ProviderKind:
    """The kind of server that serves the model string ``model``."""
    for kind in KINDS:
        if any(model.startswith(prefix) for prefix in kind.prefixes):
            return kind
    return HOSTED


def provider_of(model: str) -> str:
    """The part before the first slash (``openai``, ``ollama``, ``local``…); ``openai`` when there is none."""
    return model.split("/", 1)[0] if "/" in model else "openai"


def local_kinds() -> tuple[ProviderKind, ...]:
    return tuple(k for k in KINDS if k.local)
