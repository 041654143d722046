"""``stream()``: the single entry point for calling a model.

It picks the backend, applies the per-call timeout, retries retryable failures with exponential backoff and
jitter (only while no text has been shown yet), turns exceptions into ``Error`` events and guarantees the
stream ends with exactly one ``Done`` or ``Error``. Cancelling the consuming task closes the backend's stream,
which stops the request (HTTP) or the engine (embedded) for real.

Every reply is capped in tokens and in bytes (:func:`reply_caps`), since a server may ignore ``max_tokens``
and stream without end. A reply that reaches its cap is cut there: the backend's stream is closed (the server
is no longer read) and the call ends with an ``Error`` saying what was passed, e.g. ``the reply passed
524,288 bytes: cut``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, replace

from ..config.models import ModelConfig
from ..events import Done, Error, Event, Perf, ProviderError, Queued, Started, TextDelta, ThinkingDelta, Usage
from ..storage.redact import redact
from .base import Backend, Message, Params, backend_for

#: A reply may run to this many times its ``max_tokens`` before it is cut, unless its role says otherwise.
REPLY_CAP_FACTOR = 4
#: Per role (``Params.role``, a call's phase): the factor for replies that are short by nature.
REPLY_CAP_FACTORS: dict[str, int] = {"rank": 2, "review": 2, "decompose": 3, "distill": 2}
#: No cap is set below this many tokens, however small ``max_tokens`` is.
MIN_REPLY_TOKENS = 256
#: Bytes a token may take, generously (code averages about 4; a run of spaces or a CJK token takes more).
BYTES_PER_TOKEN = 32


@dataclass(frozen=True, slots=True)
class ReplyCaps:
    """How much of a reply is read: tokens (thinking included) and UTF-8 bytes."""

    tokens: int
    bytes: int


def reply_caps(params: Params) -> ReplyCaps:
    """The caps of a call with resolved ``params``: the explicit ones, else derived from ``max_tokens`` and
    the role's factor."""
    factor = REPLY_CAP_FACTORS.get(params.role or "", REPLY_CAP_FACTOR)
    tokens = params.max_reply_tokens or max(MIN_REPLY_TOKENS, factor * (params.max_tokens or 4096))
    return ReplyCaps(tokens, params.max_reply_bytes or tokens * BYTES_PER_TOKEN)


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def backoff_delay(attempt: int, base: float, rng: random.Random | None = None, cap: float = 30.0) -> float:
    """Delay before retry number ``attempt`` (0-based): ``base * 2**attempt``, jittered to 50–150 %."""
    r = (rng or random).uniform(0.5, 1.5)
    return min(cap, base * (2**attempt)) * r


async def _attempt(
    backend: Backend, model: ModelConfig, messages: list[Message], params: Params
) -> AsyncGenerator[Event, None]:
    """One try: the backend's events with a deadline, exceptions turned into an ``Error``.

    The deadline counts from the request, or, when the backend says the call is queued, from its ``Started``:
    a call waiting for its engine has not begun, so its time limit has not either."""
    limit = float(params.timeout_s or 300.0)
    deadline: float | None = time.monotonic() + limit
    agen = backend.stream(model, messages, params).__aiter__()
    try:
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            try:
                # in this task, not a new one per event: cheaper, and a cancellation arriving just as an
                # event is ready cannot be lost
                async with asyncio.timeout(remaining):
                    event = await agen.__anext__()
            except StopAsyncIteration:
                return
            if isinstance(event, Queued):
                deadline = None  # the call ahead has a limit of its own, so the queue moves
            elif deadline is None:
                deadline = time.monotonic() + limit  # Started, or the first event of a backend that skipped it
            yield event
    except TimeoutError:
        yield Error("timeout", f"no answer within {params.timeout_s:g} s", retryable=False)
    except ProviderError as e:
        yield e.to_event()
    except asyncio.CancelledError:
        raise
    except Exception as e:  # a backend bug must not take down the other proposers
        yield Error("internal", redact(f"{type(e).__name__}: {e}")[:300])
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):  # closing after an error: nothing more to report
                await aclose()


def _cut(event: TextDelta | ThinkingDelta, caps: ReplyCaps, tokens: int, read_bytes: int,
         size: int) -> tuple[TextDelta | ThinkingDelta | None, Error] | None:
    """None while ``event`` fits the caps; else what of it still fits (or None) and the error that ends the
    call. ``tokens`` counts this event; ``read_bytes`` does not."""
    if tokens > caps.tokens:
        return None, Error("server", f"the reply passed {caps.tokens:,} tokens: cut")
    if read_bytes + size <= caps.bytes:
        return None
    room = caps.bytes - read_bytes
    text = event.text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
    return (replace(event, text=text) if text else None), Error("server", f"the reply passed {caps.bytes:,} bytes: cut")


async def stream(
    model: ModelConfig, messages: list[Message], params: Params | None = None, *, rng: random.Random | None = None
) -> AsyncIterator[Event]:
    """Call ``model`` and yield its events; the last one is always ``Done`` or ``Error``.

    Retryable errors (429, 5xx, connection refused) are retried up to ``params.retries`` times, but only
    before any text has been yielded, since text already shown cannot be taken back. A reply passing its cap
    (:func:`reply_caps`) is cut: what was read so far, a ``Usage`` counting it, and an ``Error``.
    """
    params = (params or Params()).resolve(model)
    try:
        backend = backend_for(model)
    except Exception as e:
        yield Error("unavailable", f"no backend for {model.model}: {e}")
        return
    caps = reply_caps(params)
    started = time.monotonic()
    attempt = 0
    while True:
        produced = False
        final: Event | None = None
        ttft: float | None = None
        read_tokens = read_bytes = 0
        async with contextlib.aclosing(_attempt(backend, model, messages, params)) as events:
            async for event in events:
                if isinstance(event, Started):
                    started = time.monotonic()  # the time to first token counts from here, as the limit does
                if isinstance(event, Done | Error):
                    final = event
                    break
                if isinstance(event, TextDelta | ThinkingDelta) and event.text:
                    size, tokens = _utf8_len(event.text), getattr(event, "tokens", 1)
                    cut = _cut(event, caps, read_tokens + tokens, read_bytes, size)
                    if cut is not None:  # leaving the block closes the backend's stream: the server is not read on
                        piece, final = cut
                        if piece is not None:
                            yield piece
                        if read_tokens:
                            yield Usage(completion_tokens=read_tokens)
                        break
                    read_tokens, read_bytes = read_tokens + tokens, read_bytes + size
                    if not produced:
                        ttft = time.monotonic() - started
                    produced = True
                if isinstance(event, Perf) and event.ttft_s == 0.0 and ttft is not None:
                    event = replace(event, ttft_s=ttft)
                yield event
        if final is None:
            final = Done("stop")
        if isinstance(final, Error) and final.retryable and not produced and attempt < (params.retries or 0):
            await asyncio.sleep(backoff_delay(attempt, params.backoff_s, rng))
            attempt += 1
            started = time.monotonic()
            continue
        if isinstance(final, Error) and attempt:
            final = replace(final, message=f"{final.message} (after {attempt + 1} attempts)")
        yield final
        return
