"""One model call as a domain object: stream it, collect the answer, log it to the database.

``run_call`` is what the ensemble engine (and later the agents) use; consumers see the events as they arrive
through ``on_event`` and get a ``CallResult`` at the end. A cancelled call is logged as cancelled and the
cancellation propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from .config.models import ModelConfig
from .events import Done, Error, Event, Perf, Started, TextDelta, ThinkingDelta, Usage
from .perf import num_ctx as perf_num_ctx
from .perf.store import record_call
from .providers.base import Message, Params, backend_for
from .providers.stream import stream
from .storage import CallRecord, Store, redact
from .storage.redact import secret_values

EventSink = Callable[[Event], None]


@dataclass
class CallResult:
    """What one call produced."""

    model: ModelConfig
    text: str = ""
    thinking: str = ""
    usage: Usage = field(default_factory=Usage)
    perf: Perf | None = None
    finish_reason: str | None = None
    error: Error | None = None
    cancelled: bool = False
    latency_s: float = 0.0
    """From the start on the engine (after any wait in its queue) to the end."""
    ttft_s: float | None = None
    queued_s: float = 0.0
    """How long the call waited for its engine (calls to the embedded engine run one at a time)."""
    cost_usd: float = 0.0
    call_id: int | None = None
    """The call's row in the log, when it was logged."""
    host: str | None = None
    """For a model served by a pool of hosts: the host that answered (or the last one tried)."""
    hosts_tried: list[str] = field(default_factory=list)
    """For a pool: the hosts tried, in order, each with why it was chosen."""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled

    @property
    def status(self) -> str:
        return "cancelled" if self.cancelled else ("failed" if self.error else "done")


@dataclass(frozen=True)
class CallContext:
    """Where a call belongs, for the log."""

    store: Store | None = None
    run_id: str | None = None
    phase: str = "call"
    variant: str | None = None
    label: str | None = None


async def run_call(
    model: ModelConfig,
    messages: list[Message],
    params: Params | None = None,
    *,
    ctx: CallContext | None = None,
    on_event: EventSink | None = None,
) -> CallResult:
    """Call ``model``, forwarding each event to ``on_event``, and log the call when it ends.

    A local model gets moot's stable ``num_ctx``, and its figures go to the perf store (source ``bench`` when
    the phase is ``bench``).
    """
    ctx = ctx or CallContext()
    messages = [_redacted(m) for m in messages]  # a key in a repository file or a test's output is not sent
    on_event = _WordByWord(on_event) if on_event is not None else None
    if ctx.phase and not (params and params.role):  # the reply's size cap follows the call's role
        params = replace(params or Params(), role=ctx.phase)
    local = model.is_local
    if local:
        params = await perf_num_ctx.stable_params(model, params or Params(), ctx.store)
    result = CallResult(model=model)
    started_wall = time.time()
    t0 = time.monotonic()
    text: list[str] = []
    thinking: list[str] = []
    call_id: int | None = None
    events = cast(AsyncGenerator[Event, None], _pooled(model, messages, params, ctx, result)
                  if len(model.pool) > 1 else stream(model, messages, params))
    try:
        async for event in events:
            if isinstance(event, Started):
                result.queued_s = time.monotonic() - t0
                t0 = time.monotonic()  # latency and time to first token count from the start on the engine
            elif isinstance(event, TextDelta):
                if result.ttft_s is None:
                    result.ttft_s = time.monotonic() - t0
                text.append(event.text)
            elif isinstance(event, ThinkingDelta):
                thinking.append(event.text)
            elif isinstance(event, Usage):
                result.usage = event
            elif isinstance(event, Perf):
                result.perf = event
            elif isinstance(event, Done):
                result.finish_reason = event.finish_reason
            elif isinstance(event, Error):
                result.error = event
            if on_event is not None:
                on_event(event)
    except asyncio.CancelledError:
        result.cancelled = True
        raise
    finally:
        await events.aclose()  # a pool's try ends (its host's count of calls in flight with it) now, not later
        if on_event is not None:
            on_event.flush()
        result.text = redact("".join(text))
        result.thinking = "".join(thinking)
        result.latency_s = time.monotonic() - t0
        if result.usage.prompt_tokens or result.usage.completion_tokens:
            try:
                result.cost_usd = backend_for(model).cost(model, result.usage)
            except Exception:
                result.cost_usd = 0.0
        if ctx.store is not None:
            call_id = result.call_id = _log(ctx, model, messages, result, started_wall)
    if local and ctx.store is not None and result.perf is not None:
        if result.host is not None:  # the host of the pool that answered
            model = model.on_host(result.host)
        n = (params.num_ctx if params else None) or await perf_num_ctx.learn(model, ctx.store)
        record_call(
            ctx.store, model, result.perf, prompt_tokens=result.usage.prompt_tokens,
            output_tokens=result.usage.completion_tokens, call_id=call_id, num_ctx=n, latency_s=result.latency_s,
            source="bench" if ctx.phase == "bench" else "call",
        )
    return result


#: Failures that say something about the host rather than the request: the next host of a pool may answer.
HOST_FAULTS = frozenset({"connection", "server", "timeout", "rate_limit", "not_found"})


async def _pooled(model: ModelConfig, messages: list[Message], params: Params | None, ctx: CallContext,
                  result: CallResult) -> AsyncGenerator[Event, None]:
    """The call on the pool's hosts in order (``perf.pool.order``): a host that fails before any text was shown
    hands the call to the next one (each but the last tried once, without retries); after text, a failure is
    the call's. Each try is kept in ``host_calls``."""
    from .perf import pool

    asked = sum(len(str(m.get("content") or "")) for m in messages) // 4
    cap = (params.max_tokens if params else None) or model.max_tokens
    picks = await pool.order(model, ctx.store, prompt_tokens=asked,
                             output_tokens=min(cap, pool.expected_output(ctx.store, model) or cap))
    for n, pick in enumerate(picks):
        last = n == len(picks) - 1
        on_host = model.on_host(pick.host)
        tried = params if last else replace(params or Params(), retries=0)
        result.host = pick.host
        result.hosts_tried.append(pick.reason)
        shown, tokens, failed = False, 0, None
        t0 = time.monotonic()
        pool.LIVE.begin(pick.host)
        try:
            async with contextlib.aclosing(cast(AsyncGenerator[Event, None], stream(on_host, messages, tried))) as events:
                async for event in events:
                    if isinstance(event, TextDelta | ThinkingDelta):
                        shown = True
                        tokens += event.tokens if isinstance(event, TextDelta) else 0
                    elif isinstance(event, Usage):
                        tokens = event.completion_tokens or tokens
                    elif isinstance(event, Error):
                        failed = event
                        if not shown and not last and event.kind in HOST_FAULTS:
                            break  # the next host takes the call
                    yield event
        finally:
            pool.LIVE.end(pick.host)
            handed_on = failed is not None and not shown and not last and failed.kind in HOST_FAULTS
            if failed is None:
                pool.LIVE.answered(pick.host)
            elif failed.kind in HOST_FAULTS:
                pool.LIVE.failed(pick.host)
            pool.record(ctx.store, model, pick, ok=failed is None, failed_over=handed_on,
                        error=failed.message if failed else None, output_tokens=tokens,
                        latency_s=time.monotonic() - t0)
        if failed is None or not handed_on:
            return


def _redacted(message: Message) -> Message:
    content = message.get("content")
    return {**message, "content": redact(content)} if isinstance(content, str) else message


class _WordByWord:
    """Passes events on, the answer's text redacted as it streams. Text that could still grow into a secret (the
    start of a key's value, of an ``sk-`` key, or a word after "Bearer") waits for the next piece, the whitespace
    after it or the end; everything else goes on at once. A key, which has no whitespace, is then whole when it
    is redacted, however the engine cut it up."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self.held = ""
        self.tokens = 0
        self.secrets = secret_values()  # once per call: the environment does not change under a stream

    def _could_grow(self, tail: str) -> bool:
        """Whether ``tail`` (text with no whitespace, as far as it has come) could be the start of a secret."""
        return (any(v.startswith(tail) for v in self.secrets)
                or tail.startswith(KEY_PREFIX) or KEY_PREFIX.startswith(tail))

    def _redact(self, text: str) -> str:
        """``redact(text)``, skipped when nothing in ``text`` can be a secret: a stream's pieces come thousands a
        second, and the full pass reads the environment each time."""
        if any(v in text for v in self.secrets) or KEY_PREFIX in text or "bearer" in text.lower():
            return redact(text)
        return text

    def __call__(self, event: Event) -> None:
        if not isinstance(event, TextDelta):
            if isinstance(event, (Done, Error)):
                self.flush()
            self.sink(event)
            return
        text, self.tokens = self.held + event.text, self.tokens + event.tokens
        word = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t")) + 1
        tail = text[word:]
        keep = len(text)  # where the held text starts
        if (bearer := BEARER_TAIL.search(text)) is not None:  # "Bearer <token…": the pattern needs both words
            keep = bearer.start()
        else:
            for i in range(len(tail)):  # a value may start after punctuation too ("KEY=…", "'…")
                if (i == 0 or not tail[i - 1].isalnum()) and self._could_grow(tail[i:]):
                    keep = word + i
                    break
        self.held = text[keep:]
        if keep:
            self.sink(TextDelta(self._redact(text[:keep]), self.tokens))
            self.tokens = 0

    def flush(self) -> None:
        if self.held or self.tokens:
            held, self.held = self.held, ""
            self.sink(TextDelta(self._redact(held), self.tokens))
            self.tokens = 0


KEY_PREFIX = "sk-"
"""How the commonest API keys begin (see ``storage.redact``)."""
BEARER_TAIL = re.compile(r"(?i)\bb(?:e(?:a(?:r(?:e(?:r(?:\s+[A-Za-z0-9._\-]*)?)?)?)?)?)?$")
"""The end of a text that is, or could still become, "Bearer <token>" (see ``storage.redact``)."""


def _error_text(error: Error) -> str:
    """What the log keeps of an error: the line shown, then the whole error as the provider reported it."""
    return f"{error.message}\n{error.detail}" if error.detail else error.message


def _log(ctx: CallContext, model: ModelConfig, messages: list[Message], r: CallResult, started: float) -> int:
    assert ctx.store is not None
    perf: dict[str, Any] | None = None
    if r.perf is not None:
        perf = {**r.perf.to_dict(), **r.perf.summary()}
    return ctx.store.log_call(
        CallRecord(
            run_id=ctx.run_id,
            phase=ctx.phase,
            model_alias=model.name,
            model=model.model,
            messages=list(messages),
            reply=r.text,
            thinking=r.thinking,
            status=r.status,
            finish_reason=r.finish_reason,
            prompt_tokens=r.usage.prompt_tokens,
            completion_tokens=r.usage.completion_tokens,
            cost_usd=r.cost_usd,
            perf=perf,
            latency_s=r.latency_s,
            ttft_s=r.ttft_s,
            queued_s=r.queued_s or None,
            error_kind=r.error.kind if r.error else ("cancelled" if r.cancelled else None),
            error_message=_error_text(r.error) if r.error else None,
            variant=ctx.variant,
            label=ctx.label,
            started_at=started,
        )
    )
