"""Backends that run in the model worker process (``worker.py``) instead of the caller's own.

The workbench turns this on at start-up with ``use_worker_process()``: from then on the built-in backends
(hosted, Ollama, embedded) are served by ``ProcessBackend`` proxies, which forward each call to one shared child
process and turn its reply lines back into events. The child does the per-chunk work and the decoding on the
other core; the workbench's loop only reads a few lines a second per stream. Retries, deadlines and logging stay
in the caller, around the proxy, exactly as for an in-process backend.

If the worker dies, the calls in flight fail with a ``connection`` error that names its last words, and the next
call starts a new worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import os
import sys
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..events import Done, Error, Event, Perf, ProviderError, Queued, Started, TextDelta, ThinkingDelta, Usage
from .base import Availability, Backend, Message, Params, register_backend
from .kinds import BY_NAME

if TYPE_CHECKING:
    from ..config.models import ModelConfig

KINDS = tuple(BY_NAME)


class _Worker:
    """The child process and the calls waiting on it, bound to the event loop that started it."""

    def __init__(self, proc: asyncio.subprocess.Process, loop: asyncio.AbstractEventLoop) -> None:
        self.proc = proc
        self.loop = loop
        self.queues: dict[int, asyncio.Queue[dict[str, Any] | None]] = {}
        """The calls in flight (how busy this worker is), by id."""
        self.control: dict[int, asyncio.Future[None]] = {}
        """Requests that are not calls (warming up), by id."""
        self.stderr: deque[str] = deque(maxlen=20)
        self.reader = loop.create_task(self._read())
        self.errors = loop.create_task(self._read_stderr())

    @classmethod
    async def start(cls) -> _Worker:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "moot.core.providers.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, limit=1 << 26,
        )
        return cls(proc, asyncio.get_running_loop())

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and not self.reader.done()

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                reply = json.loads(line)
                if (queue := self.queues.get(reply.get("id"))) is not None:
                    queue.put_nowait(reply)
                elif (done := self.control.pop(reply.get("id"), None)) is not None and not done.done():
                    done.set_result(None)
        finally:
            for queue in self.queues.values():
                queue.put_nowait(None)  # the worker has gone: every waiting call fails
            for done in self.control.values():
                if not done.done():
                    done.set_result(None)

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.stderr.append(line.decode(errors="replace").rstrip())

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj).encode() + b"\n")

    def last_words(self) -> str:
        lines = [line for line in self.stderr if line.strip()]
        return lines[-1][:200] if lines else f"exit code {self.proc.returncode}"

    async def stop(self) -> None:
        """End the process: its stdin is closed, which it answers by leaving at once; if it has not gone within
        ``STOP_GRACE_S`` it is terminated, and killed if even that does not end it."""
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            if not await self._ended_within(STOP_GRACE_S):
                with contextlib.suppress(ProcessLookupError):  # it may have ended just now
                    self.proc.terminate()
                if not await self._ended_within(STOP_WAIT_S):
                    with contextlib.suppress(ProcessLookupError):
                        self.proc.kill()
                    await self.proc.wait()
        for task in (self.reader, self.errors):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _ended_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), seconds)
        return self.proc.returncode is not None


STOP_GRACE_S = 0.05
"""How long a worker has to leave on its own once its stdin is closed (it needs a few milliseconds, unless it is
still starting up)."""
STOP_WAIT_S = 2.0
"""How long a terminated worker is waited for before it is killed."""

POOL_SIZE = max(1, min(4, os.cpu_count() or 1))
"""Worker processes at most: hosted and Ollama calls go to the least busy one (streaming costs CPU per chunk);
embedded calls always go to the first, so a model file is loaded into one process only."""

_pool: list[_Worker | None] = []
_pool_loop: asyncio.AbstractEventLoop | None = None
_starting: asyncio.Lock | None = None
_ids = itertools.count(1)


def _bind_pool() -> asyncio.Lock:
    global _pool, _pool_loop, _starting
    loop = asyncio.get_running_loop()
    if _pool_loop is not loop or _starting is None:  # workers of an earlier loop cannot be awaited from this one
        _pool, _pool_loop, _starting = [None] * POOL_SIZE, loop, asyncio.Lock()
    return _starting


async def _ensure(slot: int) -> _Worker:
    """The worker in ``slot``, started if it is not running. Call with the pool's lock held."""
    worker = _pool[slot]
    if worker is None or not worker.alive:
        if worker is not None:
            await worker.stop()
        worker = _pool[slot] = await _Worker.start()
    return worker


async def _get_worker(kind: str) -> _Worker:
    async with _bind_pool():
        live = [(i, w) for i, w in enumerate(_pool) if w is not None and w.alive]
        idle = [i for i, w in live if not w.queues]
        free = [i for i, w in enumerate(_pool) if w is None or not w.alive]
        if BY_NAME[kind].in_process:  # one engine, one call at a time: always the first worker
            slot = 0
        elif idle:
            slot = idle[0]
        elif free:
            slot = free[0]  # every live worker is busy: start another
        else:
            slot = min(live, key=lambda iw: len(iw[1].queues))[0]
        return await _ensure(slot)


async def warm(kinds: Iterable[str]) -> None:
    """Start the worker processes ahead of the first call and have them import what ``kinds`` need (the
    hosted client takes seconds to import). With hosted models every worker is started, since a run's calls
    spread over all of them; otherwise the first only. Returns when they are ready."""
    wanted = sorted(set(kinds) & set(KINDS))
    if not wanted:
        return
    async with _bind_pool():
        workers = [await _ensure(slot) for slot in range(POOL_SIZE if "hosted" in wanted else 1)]
    waits = []
    for worker in workers:
        call_id = next(_ids)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        worker.control[call_id] = done
        worker.send({"op": "warm", "id": call_id, "kinds": wanted})
        waits.append(done)
    await asyncio.gather(*waits)


async def stop_worker() -> None:
    """Stop the worker processes, all at once (the next call starts new ones). Calls in flight fail."""
    global _pool
    stopping, _pool = [w for w in _pool if w is not None], [None] * POOL_SIZE
    if _pool_loop is asyncio.get_running_loop():
        await asyncio.gather(*(worker.stop() for worker in stopping))
    else:  # started on an event loop that is gone, which alone could wait for them: end them outright
        for worker in stopping:
            with contextlib.suppress(Exception):
                worker.proc.kill()


def workers() -> list[_Worker]:
    """The live worker processes (for tests and the perf panel)."""
    return [w for w in _pool if w is not None and w.alive]


def _event(reply: dict[str, Any]) -> Event | None:
    ev = reply["ev"]
    if ev == "text":
        return TextDelta(reply["text"], reply.get("n", 1))
    if ev == "thinking":
        return ThinkingDelta(reply["text"])
    if ev == "usage":
        return Usage(reply["prompt_tokens"], reply["completion_tokens"], reply.get("cost_usd"))
    if ev == "perf":
        return Perf(**reply["perf"])
    if ev == "queued":
        return Queued(reply["ahead"])
    if ev == "started":
        return Started()
    if ev == "done":
        return Done(reply["finish_reason"])
    if ev == "error":
        return Error(reply["kind"], reply["message"], reply.get("retryable", False), reply.get("status"),
                     reply.get("detail") or "")
    return None


class ProcessBackend(Backend):
    """A built-in backend kind (``hosted``, ``ollama``, ``local``) served by the worker process."""

    name = "process"

    def __init__(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"not a built-in backend kind: {kind!r}")
        self.kind = kind
        self.provider_kind = BY_NAME[kind]
        self._inner: Backend | None = None

    @property
    def inner(self) -> Backend:
        """The in-process backend of the same kind, for what needs no model call (availability)."""
        if self._inner is None:
            from . import builtin

            self._inner = builtin.FACTORIES[self.kind]()
        return self._inner

    async def stream(self, model: ModelConfig, messages: list[Message], params: Params) -> AsyncIterator[Event]:
        worker = await _get_worker(self.kind)
        call_id = next(_ids)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        worker.queues[call_id] = queue
        finished = False
        try:
            worker.send({"op": "stream", "id": call_id, "model": model.model_dump(mode="json"),
                         "messages": messages, "params": asdict(params)})
            while True:
                reply = await queue.get()
                if reply is None:
                    raise ProviderError("connection", f"the model worker process stopped ({worker.last_words()})",
                                        retryable=True)
                if reply["ev"] == "end":
                    finished = True
                    return
                if (event := _event(reply)) is not None:
                    yield event
        finally:
            worker.queues.pop(call_id, None)
            if not finished and worker.alive:
                with contextlib.suppress(Exception):
                    worker.send({"op": "cancel", "id": call_id})

    async def availability(self, model: ModelConfig) -> Availability:
        return await self.inner.availability(model)

    def cost(self, model: ModelConfig, usage: Usage) -> float:
        """The worker priced the call; a usage it did not price costs what the in-process backend says."""
        return usage.cost_usd if usage.cost_usd is not None else self.inner.cost(model, usage)

    async def aclose(self) -> None:
        await stop_worker()
        if self._inner is not None:
            await self._inner.aclose()


def use_worker_process() -> None:
    """Serve the built-in backends from the worker process from now on (the workbench calls this)."""
    for kind in KINDS:
        register_backend(kind, functools.partial(ProcessBackend, kind))


def use_in_process() -> None:
    """Serve the built-in backends in this process again (call after ``close_backends``)."""
    from . import builtin

    for kind, factory in builtin.FACTORIES.items():
        register_backend(kind, factory)
