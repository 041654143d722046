"""The provider contract: one async streaming interface, one backend per kind of model server.

A backend is written as a plugin: subclass ``Backend``, implement ``stream`` (and optionally ``availability``
and ``cost``), and register it with ``register_backend``. The built-in backends are registered the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..events import Event, Usage
from .kinds import ProviderKind

if TYPE_CHECKING:
    from ..config.models import ModelConfig

Message = dict[str, Any]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""


@dataclass(frozen=True, slots=True)
class Params:
    """What one call asks for, beyond the messages. ``None`` means the model's configured value."""

    max_tokens: int | None = None
    temperature: float | None = None
    timeout_s: float | None = None
    retries: int | None = None
    num_ctx: int | None = None
    backoff_s: float = 0.5
    """First retry delay; each retry doubles it, with jitter."""
    schema: dict[str, Any] | None = None
    """A JSON schema the answer must follow. Backends that can decode under it do (Ollama's ``format``, the
    embedded engine's JSON-schema grammar, ``response_format`` for hosted models that support it); callers
    still validate the answer, since a backend that cannot only gets the request."""
    grammar: str | None = None
    """A GBNF grammar the embedded engine decodes under (it wins over ``schema`` there). Other backends ignore
    it: callers pass the same request with the format described in the prompt."""
    role: str | None = None
    """The part the call plays (its phase: ``propose``, ``rank``, ``judge``, ``decompose``, ``execute``,
    ``debug``, ``review``, ``distill``…); it picks the reply cap's factor (``stream.REPLY_CAP_FACTORS``)."""
    effort: str | None = None
    """Reasoning effort (``low``, ``medium``, ``high``) for models that take one; others ignore it."""
    seed: int | None = None
    """A sampling seed (None: the model's ``seed``, else none is sent)."""
    max_reply_tokens: int | None = None
    """Cut the reply after this many tokens (thinking included). None: a few times ``max_tokens``, per role;
    a server that honours ``max_tokens`` never reaches it."""
    max_reply_bytes: int | None = None
    """Cut the reply after this many bytes of UTF-8 (thinking included). None: the token cap times
    ``stream.BYTES_PER_TOKEN``."""

    def resolve(self, model: ModelConfig) -> Params:
        return Params(
            max_tokens=self.max_tokens if self.max_tokens is not None else model.max_tokens,
            temperature=self.temperature if self.temperature is not None else model.temperature,
            timeout_s=self.timeout_s if self.timeout_s is not None else model.timeout_s,
            retries=self.retries if self.retries is not None else model.retries,
            num_ctx=self.num_ctx if self.num_ctx is not None else model.num_ctx,
            backoff_s=self.backoff_s,
            schema=self.schema,
            grammar=self.grammar,
            role=self.role,
            effort=self.effort,
            seed=self.seed if self.seed is not None else model.seed,
            max_reply_tokens=self.max_reply_tokens,
            max_reply_bytes=self.max_reply_bytes,
        )


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a model can be called now, and if not, what to do about it."""

    usable: bool
    reason: str = ""
    """Why not (or a note when usable), e.g. ``unavailable (set OPENAI_API_KEY)``."""
    fix: str = ""
    """What the user can do, for ``moot doctor``."""


class Backend(ABC):
    """One kind of model server.

    Subclasses set ``name`` and implement ``stream``. ``availability`` and ``cost`` have defaults.
    """

    name: ClassVar[str]
    provider_kind: ProviderKind | None = None
    """The kind of server it serves, with its facts (``kinds``); a proxy carries the facts of the kind it
    stands for. None for a plugin serving a model prefix of its own."""

    @property
    def local(self) -> bool:
        """Whether it runs on this machine (it reports ``Perf`` figures and costs nothing)."""
        return self.provider_kind is not None and self.provider_kind.local

    @abstractmethod
    def stream(self, model: ModelConfig, messages: list[Message], params: Params) -> AsyncIterator[Event]:
        """Ask the model and yield its answer as events.

        Args:
            model: the configured model.
            messages: the chat so far.
            params: resolved parameters (no ``None`` left but ``num_ctx``).

        Returns:
            An async iterator of events, ending with ``Done`` or ``Error``.

        Raises:
            ProviderError: instead of yielding ``Error``, a backend may raise it; the caller converts it.
        """

    async def availability(self, model: ModelConfig) -> Availability:
        """Whether the model can be called now. The default says yes."""
        return Availability(True)

    def cost(self, model: ModelConfig, usage: Usage) -> float:
        """The cost in US dollars of a call with this usage. Local backends cost nothing."""
        return 0.0

    async def aclose(self) -> None:  # noqa: B027  optional, with a do-nothing default
        """Release clients and engines. Optional."""


_FACTORIES: dict[str, Callable[[], Backend]] = {}
_INSTANCES: dict[str, Backend] = {}


def register_backend(key: str, factory: Callable[[], Backend]) -> None:
    """Make ``factory`` serve models whose string starts with ``<key>/``, or the backend kind ``key``
    (``hosted``, ``ollama``, ``local``)."""
    _FACTORIES[key] = factory
    _INSTANCES.pop(key, None)


def register_default(key: str, factory: Callable[[], Backend]) -> None:
    """Register ``factory`` for ``key`` unless something already serves it."""
    _FACTORIES.setdefault(key, factory)


def unregister_backend(key: str) -> None:
    _FACTORIES.pop(key, None)
    _INSTANCES.pop(key, None)


def instance(key: str) -> Backend | None:
    """The backend already made for ``key`` (a provider kind or a registered prefix), or None: asks nothing
    of a backend that was never used."""
    return _INSTANCES.get(key)


def backend_for(model: ModelConfig) -> Backend:
    """The backend that serves ``model``: a registered provider prefix first, then its backend kind."""
    key = model.provider if model.provider in _FACTORIES else model.kind
    if key not in _INSTANCES:
        if key not in _FACTORIES:
            from . import builtin  # noqa: F401  registers the built-in backends on first use

        _INSTANCES[key] = _FACTORIES[key]()
    return _INSTANCES[key]


async def close_backends() -> None:
    for backend in list(_INSTANCES.values()):
        await backend.aclose()
    _INSTANCES.clear()
