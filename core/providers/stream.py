"""``stream()``: the single entry point for calling a model.

It picks the backend, applies the per-call timeout, retries retryable failures with exponential backoff and
jitter (only while no text has been shown yet), turns exceptions into ``Error`` events and guarantees the
stream ends with exactly one ``Done`` or ``Error``. Cancelling the consuming task closes the backend's stream,
which stops the request (HTTP) or the engine (embedded) for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from ..config.models import ModelConfig
from ..events import Done, Error, Event, Perf, ProviderError, Queued, Started, TextDelta, ThinkingDelta
from ..storage.redact import redact
from .base import Backend, Message, Params, backend_for


def backoff_delay(attempt: int, base: float, rng: random.Random | None = None, cap: float = 30.0) -> float:
    """Delay before retry number ``attempt`` (0-based): ``base * 2**attempt``, jittered to 50–150 %."""
    r = (rng or random).uniform(0.5, 1.5)
    return min(cap, base * (2**attempt)) * r


async def _attempt(
    backend: Backend, model: ModelConfig, messages: list[Message], params: Params
) -> AsyncIterator[Event]:
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


async def stream(
    model: ModelConfig, messages: list[Message], params: Params | None = None, *, rng: random.Random | None = None
) -> AsyncIterator[Event]:
    """Call ``model`` and yield its events; the last one is always ``Done`` or ``Error``.

    Retryable errors (429, 5xx, connection refused) are retried up to ``params.retries`` times, but only
    before any text has been yielded, since text already shown cannot be taken back.
    """
    params = (params or Params()).resolve(model)
    try:
        backend = backend_for(model)
    except Exception as e:
        yield Error("unavailable", f"no backend for {model.model}: {e}")
        return
    started = time.monotonic()
    attempt = 0
    while True:
        produced = False
        final: Event | None = None
        ttft: float | None = None
        async for event in _attempt(backend, model, messages, params):
            if isinstance(event, Started):
                started = time.monotonic()  # the time to first token counts from here, as the limit does
            if isinstance(event, Done | Error):
                final = event
                break
            if isinstance(event, TextDelta | ThinkingDelta) and event.text:
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
