"""A stand-in OpenAI-compatible server: real HTTP on 127.0.0.1, in a background thread.

It speaks the parts of the OpenAI API that moot uses, byte for byte the way OpenAI sends them:

* ``POST /v1/chat/completions``: with ``"stream": true``, Server-Sent Events (one ``chat.completion.chunk``
  per token, a chunk carrying ``finish_reason``, a usage chunk with ``"choices": []`` when
  ``stream_options.include_usage`` is set, then ``data: [DONE]``); otherwise one ``chat.completion`` object.
* ``GET /v1/models``: the scripted models.

Everything is scriptable from the test, and every request is recorded::

    with OpenAIStandIn(tokens_per_s=500) as server:
        server.script("gpt-4o-mini", reply="Hello there")   # the answer for one model
        server.fail(429, times=1)                            # the next request gets a 429, then all is well
        ... ModelConfig(..., api_base=server.url) ...
        assert server.requests[-1].headers["authorization"] == "Bearer sk-test"
        assert server.wait_for(lambda: server.disconnects > 0)

The model name seen by the server is litellm's model string without its provider prefix (``openai/gpt-4o-mini``
arrives as ``gpt-4o-mini``).
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_TOKEN = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into stand-in tokens: each word with the whitespace before it, so ``"".join`` restores it."""
    return _TOKEN.findall(text)


@dataclass
class Script:
    """What the server answers for one model."""

    tokens: list[str]
    """The answer, token by token."""
    reasoning: list[str] = field(default_factory=list)
    """Tokens streamed as ``delta.reasoning_content`` before the answer (reasoning models)."""
    token_delay_s: float | None = None
    """Seconds between tokens; None means the server's default."""
    prompt_tokens: int | None = None
    """The reported prompt token count; None means a count of the words in the messages."""
    endless: str | None = None
    """A hostile server: after the tokens, stream this piece again and again, whatever ``max_tokens`` says,
    until the client goes away; ``{n}`` in it counts the repeats (0, 1, …), so no two pieces are alike."""


@dataclass
class Failure:
    """A one-shot failure served instead of an answer."""

    status: int = 500
    """HTTP status; 0 means no error response (only the stall)."""
    message: str = ""
    """The error message; ``{api_key}`` is replaced by the bearer token the client sent."""
    retry_after: float | None = None
    """Value of the ``retry-after`` header."""
    stall_s: float = 0.0
    """Seconds to wait before answering at all (longer than the client's timeout to provoke one)."""
    model: str | None = None
    """Only for requests to this model; None means any model."""
    body: str | None = None
    """A raw response body sent instead of OpenAI's JSON error object (an HTML page, broken JSON…)."""
    content_type: str = "application/json"
    """The ``Content-Type`` of a raw ``body``."""


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    """The parsed JSON body, or None."""
    status: int = 0
    """The status the server answered with (0 while not yet answered)."""
    completed: bool = False
    """The whole response was written."""
    aborted: bool = False
    """The client went away before the response was complete."""

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None


_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


class _Disconnected(Exception):
    """The client closed the connection."""


class OpenAIStandIn:
    """A scriptable OpenAI-compatible HTTP server on 127.0.0.1. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        *,
        default_reply: str = "Hello from the stand-in server.",
        token_delay_s: float = 0.0,
        tokens_per_s: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.default = Script(split_tokens(default_reply))
        self.token_delay_s = 1.0 / tokens_per_s if tokens_per_s else token_delay_s
        self._scripts: dict[str, Script] = {}
        self._failures: list[Failure] = []
        self._requests: list[RecordedRequest] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._host = host
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The ``api_base``: ``http://127.0.0.1:<port>/v1``."""
        return f"http://{self._host}:{self._server.server_port}/v1"

    def start(self) -> OpenAIStandIn:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="openai-standin",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end streams in progress and close every connection."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        with self._cond:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------------------------------

    def script(
        self,
        model: str,
        reply: str | None = None,
        *,
        tokens: list[str] | None = None,
        reasoning: str | list[str] | None = None,
        token_delay_s: float | None = None,
        tokens_per_s: float | None = None,
        prompt_tokens: int | None = None,
        endless: str | None = None,
    ) -> None:
        """Set the answer for ``model``: a ``reply`` text (split into word tokens) or explicit ``tokens``;
        ``endless``: then that piece for ever, ignoring ``max_tokens`` (a hostile server)."""
        if tokens is None:
            tokens = split_tokens(reply if reply is not None else "".join(self.default.tokens))
        if isinstance(reasoning, str):
            reasoning = split_tokens(reasoning)
        delay = 1.0 / tokens_per_s if tokens_per_s else token_delay_s
        with self._cond:
            self._scripts[model] = Script(list(tokens), list(reasoning or []), delay, prompt_tokens, endless)

    def fail(
        self,
        status: int = 500,
        *,
        times: int = 1,
        message: str | None = None,
        retry_after: float | None = None,
        model: str | None = None,
        body: str | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Queue ``times`` one-shot HTTP errors (e.g. ``fail(429)``: 429 once, then success). ``body``: send
        this text as it is instead of OpenAI's JSON error object (a proxy's HTML page, a broken JSON body)."""
        if message is None:
            message = {
                429: "Rate limit reached for requests. Please try again in 1s.",
                401: "Incorrect API key provided.",
                404: "The model does not exist or you do not have access to it.",
            }.get(status, "The server had an error while processing your request. Sorry about that!")
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._cond:
            self._failures.extend(
                Failure(status, message, retry_after, 0.0, model, body, content_type) for _ in range(times)
            )

    def stall(self, seconds: float, *, times: int = 1, model: str | None = None) -> None:
        """Queue ``times`` requests that get no response for ``seconds`` (then a normal one, if anyone listens)."""
        with self._cond:
            self._failures.extend(Failure(0, "", None, seconds, model) for _ in range(times))

    def reset(self) -> None:
        """Forget scripts, queued failures and recorded requests."""
        with self._cond:
            self._scripts.clear()
            self._failures.clear()
            self._requests.clear()

    # -- inspection --------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, oldest first (a copy)."""
        with self._cond:
            return list(self._requests)

    @property
    def completions(self) -> list[RecordedRequest]:
        """The chat-completion requests so far."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def disconnects(self) -> int:
        """How many responses the client abandoned before they were complete."""
        return sum(r.aborted for r in self.requests)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate()`` holds (re-checked on every server event); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    # -- internals used by the handler -------------------------------------------------------------------------

    def _record(self, req: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(req)
            self._cond.notify_all()

    def _update(self, req: RecordedRequest, **changes: Any) -> None:
        with self._cond:
            for key, value in changes.items():
                setattr(req, key, value)
            self._cond.notify_all()

    def _next_failure(self, model: str | None) -> Failure | None:
        with self._cond:
            for i, failure in enumerate(self._failures):
                if failure.model is None or failure.model == model:
                    return self._failures.pop(i)
        return None

    def _script_for(self, model: str | None) -> Script:
        with self._cond:
            return self._scripts.get(model or "", self.default)

    def _model_ids(self) -> list[str]:
        with self._cond:
            return list(self._scripts)


def _handler_for(server: OpenAIStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        standin = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, chunked streams, like the real API
    standin: OpenAIStandIn

    def setup(self) -> None:
        super().setup()
        with self.standin._cond:
            self.standin._sockets.add(self.connection)

    def finish(self) -> None:
        with self.standin._cond:
            self.standin._sockets.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- routing -----------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        req = self._begin(None)
        if self.path.rstrip("/") == "/v1/models":
            created = int(time.time())
            data = [
                {"id": m, "object": "model", "created": created, "owned_by": "moot-standin"}
                for m in self.standin._model_ids()
            ]
            self._json(req, 200, {"object": "list", "data": data})
        else:
            self._error(req, 404, f"Unknown path {self.path}", None)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        req = self._begin(body)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(req, 404, f"Unknown path {self.path}", None)
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._error(req, 400, "'messages' is a required property", None)
            return
        try:
            failure = self.standin._next_failure(req.model)
            if failure is not None:
                if failure.stall_s:
                    self._wait(failure.stall_s)
                if failure.status and failure.body is not None:
                    headers = {"retry-after": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
                    self._raw(req, failure.status, failure.body.encode(), failure.content_type, headers)
                    return
                if failure.status:
                    self._error(req, failure.status, failure.message, failure.retry_after)
                    return
            self._complete(req, body)
        except (_Disconnected, BrokenPipeError, ConnectionResetError):
            self.standin._update(req, aborted=True)
            self.close_connection = True

    # -- answering ---------------------------------------------------------------------------------------------

    def _begin(self, body: Any) -> RecordedRequest:
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = RecordedRequest(self.command, self.path, headers, body)
        self.standin._record(req)
        return req

    def _complete(self, req: RecordedRequest, body: dict[str, Any]) -> None:
        script = self.standin._script_for(req.model)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        tokens, finish = script.tokens, "stop"
        if isinstance(limit, int) and 0 < limit < len(tokens) and script.endless is None:
            tokens, finish = tokens[:limit], "length"
        prompt = script.prompt_tokens
        if prompt is None:
            prompt = sum(
                len(str(m.get("content") or "").split()) + 4 for m in body["messages"] if isinstance(m, dict)
            )
        completion = len(script.reasoning) + len(tokens)  # like OpenAI, reasoning tokens count as completion
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        ident = f"chatcmpl-standin{len(self.standin._requests)}"
        created = int(time.time())
        model = req.model or "unknown"
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(tokens), "refusal": None}
            if script.reasoning:
                message["reasoning_content"] = "".join(script.reasoning)
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            self._json(
                req,
                200,
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [choice],
                    "usage": usage,
                    "system_fingerprint": None,
                },
            )
            return

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
            return {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": choices,
                **extra,
            }

        def delta(d: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return chunk([{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish_reason}])

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.standin._update(req, status=200)
        delay = script.token_delay_s if script.token_delay_s is not None else self.standin.token_delay_s
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        start = time.monotonic()
        pieces = [("reasoning_content", t) for t in script.reasoning] + [("content", t) for t in tokens]
        for i, (key, text) in enumerate(pieces):
            if delay > 0:
                self._wait(start + i * delay - time.monotonic())  # absolute schedule: no drift
            d: dict[str, Any] = {"content": text} if key == "content" else {"content": None, key: text}
            if i == 0:
                d = {"role": "assistant", **d}
            self._event(delta(d))
        n = 0
        while script.endless is not None:  # until the client goes away (_Disconnected ends the request)
            if delay > 0:
                self._wait(delay)
            self._event(delta({"content": script.endless.replace("{n}", str(n))}))
            n += 1
        if not pieces:
            self._event(delta({"role": "assistant", "content": ""}))
        self._event(delta({}, finish))
        if include_usage:
            self._event(chunk([], usage=usage))
        self._send_chunk(b"data: [DONE]\n\n")
        self._send_chunk(b"")  # the last chunk of the chunked encoding
        self.standin._update(req, completed=True)

    def _event(self, payload: dict[str, Any]) -> None:
        self._check_client()
        self._send_chunk(b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n")

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _wait(self, seconds: float) -> None:
        """Sleep, but notice at once when the client disconnects or the server stops."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self.standin._stopping.is_set():
                raise _Disconnected
            readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.1))
            if readable:
                self._check_client()
                time.sleep(min(remaining, 0.01))  # readable but still connected: do not spin

    def _check_client(self) -> None:
        """Raise ``_Disconnected`` if the client has closed its end (EOF or reset on the socket)."""
        if self.standin._stopping.is_set():
            raise _Disconnected
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return
        try:
            data = self.connection.recv(1, socket.MSG_PEEK)
        except (ConnectionResetError, BrokenPipeError, OSError) as e:
            raise _Disconnected from e
        if not data:
            raise _Disconnected

    def _json(
        self, req: RecordedRequest, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        self._raw(req, status, json.dumps(payload).encode(), "application/json", headers)

    def _raw(
        self, req: RecordedRequest, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.standin._update(req, status=status, completed=True)

    def _error(self, req: RecordedRequest, status: int, message: str, retry_after: float | None) -> None:
        auth = req.headers.get("authorization", "")
        key = auth.removeprefix("Bearer ").strip()
        kind, code = _ERROR_TYPES.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        payload = {
            "error": {"message": message.replace("{api_key}", key), "type": kind, "param": None, "code": code}
        }
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        self._json(req, status, payload, headers)
