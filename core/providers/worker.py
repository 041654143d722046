"""The model worker: a child process that runs the built-in backends for the workbench.

Streaming from a hosted provider costs the client real CPU per chunk, and the embedded engine decodes on the
CPU; in the workbench's own process both would compete with drawing the screen. So the workbench hands its calls
to this process (see ``process.py``) over a pipe, one JSON object per line.

Requests on stdin::

    {"op": "stream", "id": 7, "model": {...ModelConfig...}, "messages": [...], "params": {...Params...}}
    {"op": "cancel", "id": 7}
    {"op": "warm", "id": 8, "kinds": ["hosted"]}    import ahead of the first call; answered with ``end``

Replies on stdout, per request: events, then ``end``::

    {"id": 7, "ev": "queued", "ahead": 2}      waiting for the engine (embedded calls run one at a time)
    {"id": 7, "ev": "started"}                 on the engine now: the call's time limit starts
    {"id": 7, "ev": "text", "text": "Hel", "n": 2}   text arriving fast is joined into one line every FLUSH_S;
                                               n: how many tokens it holds
    {"id": 7, "ev": "thinking", "text": "..."}
    {"id": 7, "ev": "usage", "prompt_tokens": 9, "completion_tokens": 40, "cost_usd": 0.0001}
    {"id": 7, "ev": "perf", "perf": {...Perf fields...}}
    {"id": 7, "ev": "done", "finish_reason": "stop"}
    {"id": 7, "ev": "error", "kind": "rate_limit", "message": "...", "retryable": true, "status": 429}
    {"id": 7, "ev": "end"}

The worker exits when its stdin closes (the workbench has gone, or is stopping it), at once: calls in flight end
unfinished.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sys
import traceback
from dataclasses import asdict
from typing import Any, NoReturn

from ..config.models import ModelConfig
from ..events import Done, Error, Perf, ProviderError, Queued, Started, TextDelta, ThinkingDelta, Usage
from ..storage.redact import redact
from .base import Params, backend_for

FLUSH_S = 0.02
"""Text is forwarded at most this long after it arrived; the first piece of an answer goes at once."""
NICE = 10
"""How much lower this process's CPU priority is than the workbench's: when the two want the same core (six fast
streams cost the hosted client most of two), drawing the screen and answering a key come first. The embedded
engine in a process at a lower priority decodes on one core fewer, so that the screen taking a core does not stall
it (see ``embedded.thread_counts``). ``MOOT_WORKER_NICE`` sets another value (0: the same priority, and every core
for decoding)."""


class _Out:
    """Writes reply lines to stdout."""

    def __init__(self) -> None:
        self.stream = sys.stdout.buffer

    def send(self, obj: dict[str, Any]) -> None:
        self.stream.write(json.dumps(obj, ensure_ascii=False).encode() + b"\n")
        self.stream.flush()


class _Call:
    """One stream being forwarded, with its text buffered between flushes."""

    def __init__(self, out: _Out, call_id: int) -> None:
        self.out = out
        self.id = call_id
        self.kind = ""
        self.pieces: list[str] = []
        self.tokens = 0
        """Tokens in ``pieces``."""
        self.sent_text = False
        self.timer: asyncio.TimerHandle | None = None

    def text(self, kind: str, text: str, tokens: int = 1) -> None:
        if self.pieces and kind != self.kind:
            self.flush()
        self.kind = kind
        self.pieces.append(text)
        self.tokens += tokens
        if not self.sent_text:
            self.sent_text = True
            self.flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.pieces:
            self.out.send({"id": self.id, "ev": self.kind, "text": "".join(self.pieces), "n": self.tokens})
            self.pieces = []
            self.tokens = 0

    def send(self, ev: str, **fields: Any) -> None:
        self.flush()
        self.out.send({"id": self.id, "ev": ev, **fields})


async def _run(out: _Out, request: dict[str, Any]) -> None:
    call = _Call(out, request["id"])
    try:
        model = ModelConfig.model_validate(request["model"])
        params = Params(**request["params"])
        backend = backend_for(model)
        async for event in backend.stream(model, request["messages"], params):
            if isinstance(event, TextDelta):
                call.text("text", event.text, event.tokens)
            elif isinstance(event, ThinkingDelta):
                call.text("thinking", event.text)
            elif isinstance(event, Usage):
                try:
                    cost = backend.cost(model, event)
                except Exception:
                    cost = 0.0
                call.send("usage", prompt_tokens=event.prompt_tokens, completion_tokens=event.completion_tokens,
                          cost_usd=cost)
            elif isinstance(event, Perf):
                call.send("perf", perf=asdict(event))
            elif isinstance(event, Queued):
                call.send("queued", ahead=event.ahead)
            elif isinstance(event, Started):
                call.send("started")
            elif isinstance(event, Done):
                call.send("done", finish_reason=event.finish_reason)
            elif isinstance(event, Error):
                call.send("error", **asdict(event))
    except ProviderError as e:
        call.send("error", **asdict(e.to_event()))
    except asyncio.CancelledError:
        call.flush()
    except Exception as e:  # a backend bug fails this call only
        call.send("error", kind="internal", message=redact(f"{type(e).__name__}: {e}")[:300], retryable=False,
                  status=None)
    finally:
        call.send("end")


def _import_for(kind: str) -> None:
    if kind == "hosted":
        from . import hosted

        hosted._lite()  # the hosted client's import: seconds, once
    elif kind == "ollama":
        from . import ollama  # noqa: F401


async def _warm(out: _Out, request: dict[str, Any]) -> None:
    """Import what the given backend kinds need, in a thread so calls can start meanwhile."""
    try:
        for kind in request.get("kinds", ()):
            await asyncio.to_thread(_import_for, kind)
    except Exception as e:  # a broken install shows up on the first call, with its own error
        print(f"warming up failed: {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        out.send({"id": request["id"], "ev": "end"})


def _forget(calls: dict[int, asyncio.Task[None]], call_id: int, _task: object) -> None:
    calls.pop(call_id, None)


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = _Out()
    calls: dict[int, asyncio.Task[None]] = {}
    warming: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        request = json.loads(line)
        if request.get("op") == "stream":
            call_id = request["id"]
            calls[call_id] = asyncio.create_task(_run(out, request))
            calls[call_id].add_done_callback(functools.partial(_forget, calls, call_id))
        elif request.get("op") == "cancel" and (running := calls.get(request["id"])) is not None:
            running.cancel()
        elif request.get("op") == "warm":
            warming.add(asyncio.create_task(_warm(out, request)))
    # stdin has closed: the calls in flight end unfinished with the process (see ``main``), which the workbench,
    # if it is still there, reports as the worker having stopped


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):  # no priorities here, or a bad value
        os.nice(int(os.environ.get("MOOT_WORKER_NICE", NICE)))


def main() -> None:
    _lower_priority()
    code = 0
    try:
        asyncio.new_event_loop().run_until_complete(serve())
    except (KeyboardInterrupt, BrokenPipeError):  # the workbench went away
        pass
    except Exception:
        traceback.print_exc()  # the workbench shows the last line as this process's last words
        code = 1
    _leave(code)


def _leave(code: int) -> NoReturn:
    """End this process now, without tidying up: the caller logs every call, so nothing here needs keeping, and
    open connections close with the process. A tidy exit would wait for the embedded engine to finish reading
    the prompt it is on (seconds, for a long one) before it could free the model, and for imports still running
    in threads."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
