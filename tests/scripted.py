"""A scripted backend for logic tests: models ``scripted/<name>`` answer what the test enqueued.

    backend = ScriptedBackend.install()
    backend.enqueue("gpt", "1. do this\\n2. do that", delay=0.01)
    backend.enqueue("gpt", error=("rate_limit", True))     # fails once, retryably
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from moot.core.config.models import ModelConfig
from moot.core.events import Done, Event, Perf, ProviderError, TextDelta, Usage
from moot.core.providers.base import Backend, Message, Params, register_backend, unregister_backend


@dataclass
class Script:
    text: str = ""
    delay: float = 0.0
    """Seconds between tokens."""
    error: tuple[str, bool] | None = None
    """(kind, retryable) to fail with, before any text."""
    error_after: int | None = None
    """Fail after this many tokens instead."""
    hang: bool = False
    """Never answer (for timeouts and cancellation)."""
    hang_after: int | None = None
    """Stall for good after this many tokens (a deterministic mid-stream state)."""
    perf: Perf | None = None
    finish: str = "stop"
    """The finish reason (``length``: cut by the token cap)."""
    reported: int | None = None
    """The completion tokens the provider reports at the end, when not one per piece sent (a real engine's
    pieces are not its tokens)."""


@dataclass
class ScriptedBackend(Backend):
    name = "scripted"
    scripts: dict[str, deque[Script]] = field(default_factory=lambda: defaultdict(deque))
    default: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, list[Message], Params]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    price_per_token: float = 0.0
    cost_per_call: float = 0.0

    @classmethod
    def install(cls) -> ScriptedBackend:
        backend = cls()
        register_backend("scripted", lambda: backend)
        return backend

    @staticmethod
    def uninstall() -> None:
        unregister_backend("scripted")

    def enqueue(self, name: str, text: str = "", **kw: object) -> None:
        self.scripts[name].append(Script(text=text, **kw))  # type: ignore[arg-type]

    def cost(self, model: ModelConfig, usage: Usage) -> float:
        return self.cost_per_call + self.price_per_token * (usage.prompt_tokens + usage.completion_tokens)

    async def stream(self, model: ModelConfig, messages: list[Message], params: Params) -> AsyncIterator[Event]:
        name = model.model.split("/", 1)[1]
        self.calls.append((name, messages, params))
        queue = self.scripts[name]
        script = queue.popleft() if queue else Script(text=self.default.get(name, f"plan from {name}"))
        if script.hang:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.cancelled.append(name)
                raise
        if script.error and script.error_after is None:
            kind, retryable = script.error
            raise ProviderError(kind, f"scripted {kind}", retryable=retryable)  # type: ignore[arg-type]
        words = script.text.split(" ")
        sent = 0
        try:
            for i, word in enumerate(words):
                if script.error_after is not None and i == script.error_after:
                    kind, retryable = script.error or ("server", True)
                    raise ProviderError(kind, f"scripted {kind} mid-stream", retryable=retryable)  # type: ignore[arg-type]
                if script.hang_after is not None and i == script.hang_after:
                    await asyncio.sleep(3600)
                if script.delay:
                    await asyncio.sleep(script.delay)
                yield TextDelta(word if i == 0 else " " + word)
                sent += 1
        except asyncio.CancelledError:
            self.cancelled.append(name)
            raise
        prompt = sum(len(str(m["content"]).split()) for m in messages)
        yield Usage(prompt_tokens=prompt, completion_tokens=sent if script.reported is None else script.reported)
        if script.perf:
            yield script.perf
        yield Done(script.finish)
