"""A stand-in Ollama server: real HTTP on 127.0.0.1 speaking Ollama's documented REST API.

Scriptable per model tag (reply pieces, thinking pieces, delay per piece, the exact figures of the final line,
failure modes that can happen N times and then stop), with a record of every request and of streams the
client abandoned. Example::

    with OllamaStandIn() as server:
        server.add_model("qwen2.5-coder:7b", pieces=["Hello", " world"], delay_s=0.01)
        ...  # talk to server.url
        server.stop()   # host down
        server.start()  # back up, same port

Endpoints: ``POST /api/chat``, ``POST /api/generate`` (NDJSON streaming, or one object with
``"stream": false``), ``GET /api/tags``, ``GET /api/ps``, ``POST /api/show``, ``GET /api/version``, ``GET /``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import select
import socket
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

FailMode = Literal["not_found", "bad_request", "unavailable", "error_mid_stream"]
FIGURE_KEYS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


def full_tag(tag: str) -> str:
    """Ollama's canonical name: ``llama3`` is ``llama3:latest``."""
    return tag if ":" in tag.rsplit("/", 1)[-1] else tag + ":latest"


def _now(offset_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat().replace("+00:00", "Z")


@dataclass
class ModelScript:
    """How the stand-in answers for one pulled model."""

    pieces: list[str] = field(default_factory=lambda: ["Hello", ",", " world", "!"])
    """The reply, one NDJSON line per piece."""
    thinking: list[str] = field(default_factory=list)
    """Thinking pieces, sent before the reply (unless the request says ``"think": false``)."""
    delay_s: float = 0.0
    """Pause before each piece."""
    figures: dict[str, int] | None = None
    """Exact values for the final line (see ``FIGURE_KEYS``); zero ones are omitted as Ollama does. When None,
    figures are derived from the request: 1 ms per prompt word, 10 ms per piece, no load time."""
    next_figures: list[dict[str, int]] = field(default_factory=list)
    """Figures for the next requests, one each, before ``figures`` applies again (e.g. a reload's load time)."""
    load_ns: int | None = None
    """When set, loading is simulated: a request finding the model not in ``/api/ps``, or loaded with another
    ``num_ctx`` (4096 when the request names none), (re)loads it there and reports this ``load_duration``."""
    fail: FailMode | None = None
    fail_times: int | None = None
    """How many requests fail before the model answers normally; None means every one."""
    fail_after: int = 1
    """For ``error_mid_stream``: normal pieces sent before the error line."""
    error: str | None = None
    """The error text; each mode has a realistic default."""
    endless: str | None = None
    """A hostile server: after the pieces, stream this piece again and again, whatever ``num_predict`` says,
    until the client goes away; ``{n}`` in it counts the repeats (0, 1, …)."""
    size: int = 4_683_087_332
    family: str = "qwen2"
    parameter_size: str = "7.6B"
    quantization_level: str = "Q4_K_M"
    context_length: int = 32768
    digest: str = "dae161e27b0e" + "0" * 52

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }


@dataclass
class Recorded:
    """One request the stand-in received."""

    method: str
    path: str
    body: Any = None


@dataclass
class StreamRecord:
    """One streamed answer: what was sent, and how it ended."""

    path: str
    model: str
    pieces_sent: int = 0
    finished: bool = False
    aborted: bool = False
    """The client closed the connection before the final line."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], standin: OllamaStandIn) -> None:
        self.standin = standin
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        self.stopping = False
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conns_lock:
            self.conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up an idle keep-alive connection is normal, not worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        self.stopping = True
        with self.conns_lock:
            conns = list(self.conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _ClientGone(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing -------------------------------------------------------------------------------------------
    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send(self, status: int, payload: Any, content_type: str = "application/json; charset=utf-8") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": message})

    def _chunk(self, obj: dict[str, Any]) -> None:
        data = (json.dumps(obj) + "\n").encode()
        try:
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except OSError as e:
            raise _ClientGone from e

    def _pause(self, seconds: float) -> None:
        """Wait, watching the socket: raise ``_ClientGone`` as soon as the client closes the connection."""
        end = time.monotonic() + seconds
        while True:
            if self.server.stopping:
                raise _ClientGone
            remaining = end - time.monotonic()
            readable, _, _ = select.select([self.connection], [], [], max(0.0, min(remaining, 0.02)))
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        raise _ClientGone
                except OSError as e:
                    raise _ClientGone from e
                time.sleep(max(0.0, remaining))  # data, not EOF: nothing more to watch for
                return
            if remaining <= 0:
                return

    # -- routes ---------------------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        st = self.server.standin
        st._record("GET", self.path, None)
        if self.path == "/":
            self._send(200, b"Ollama is running", "text/plain; charset=utf-8")
        elif self.path == "/api/version":
            self._send(200, {"version": st.version})
        elif self.path == "/api/tags":
            self._send(200, {"models": [st.tag_entry(tag) for tag in list(st.models)]})
        elif self.path == "/api/ps":
            self._send(200, {"models": list(st.running)})
        else:
            self._send(404, b"404 page not found", "text/plain")

    def do_POST(self) -> None:
        st = self.server.standin
        body = self._body()
        st._record("POST", self.path, body)
        if self.path not in ("/api/chat", "/api/generate", "/api/show"):
            self._send(404, b"404 page not found", "text/plain")
            return
        if not isinstance(body, dict):
            self._error(400, "invalid request body")
            return
        tag = str(body.get("model") or body.get("name") or "")
        if not tag:
            self._error(400, "model is required")
            return
        script = st.models.get(full_tag(tag))
        if script is None:
            self._error(404, f'model "{tag}" not found, try pulling it first')
            return
        if self.path == "/api/show":
            self._send(200, st.show_entry(full_tag(tag)))
            return
        fail = st._take_failure(script)
        if fail == "not_found":
            self._error(404, script.error or f'model "{tag}" not found, try pulling it first')
        elif fail == "bad_request":
            self._error(400, script.error or "invalid options: num_ctx must be positive")
        elif fail == "unavailable":
            self._error(503, script.error or "server busy")
        elif st.turns is None:
            self._answer(tag, script, body, mid_stream_error=fail == "error_mid_stream")
        else:
            with st.turns:
                self._answer(tag, script, body, mid_stream_error=fail == "error_mid_stream")

    def _answer(self, tag: str, script: ModelScript, body: dict[str, Any], *, mid_stream_error: bool) -> None:
        chat = self.path == "/api/chat"
        options = body.get("options") or {}
        limit = options.get("num_predict")
        pieces = list(script.pieces)
        reason = "stop"
        if isinstance(limit, int) and limit >= 0 and len(pieces) > limit and script.endless is None:
            pieces, reason = pieces[:limit], "length"
        thinking = [] if body.get("think") is False else list(script.thinking)
        figures = self._figures(script, body, len(pieces) + len(thinking))
        if script.load_ns is not None and self.server.standin._ensure_loaded(tag, options.get("num_ctx") or 4096):
            figures["load_duration"] = script.load_ns

        def line(text: str = "", think: str = "", done: bool = False) -> dict[str, Any]:
            obj: dict[str, Any] = {"model": tag, "created_at": _now()}
            if chat:
                obj["message"] = {"role": "assistant", "content": text}
                if think:
                    obj["message"]["thinking"] = think
            else:
                obj["response"] = text
                if think:
                    obj["thinking"] = think
            obj["done"] = done
            if done:
                obj["done_reason"] = reason
                obj.update({k: v for k, v in figures.items() if v})
            return obj

        if body.get("stream") is False:
            if mid_stream_error:
                self._error(
                    500, script.error or "an error was encountered while running the model: unexpected EOF"
                )
                return
            final = line("".join(pieces), "".join(thinking), done=True)
            time.sleep(script.delay_s * (len(pieces) + len(thinking)))
            self._send(200, final)
            return

        record = StreamRecord(self.path, tag)
        self.server.standin.streams.append(record)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            steps: Iterable[tuple[str, str]] = [("", t) for t in thinking] + [(p, "") for p in pieces]
            if script.endless is not None:  # until the client goes away (_ClientGone ends the request)
                endless = script.endless
                steps = itertools.chain(steps, ((endless.replace("{n}", str(n)), "") for n in itertools.count()))
            for i, (text, think) in enumerate(steps):
                if mid_stream_error and i == script.fail_after:
                    break
                self._pause(script.delay_s)
                self._chunk(line(text, think))
                record.pieces_sent += 1
            if mid_stream_error:
                self._chunk(
                    {
                        "error": script.error
                        or "an error was encountered while running the model: unexpected EOF"
                    }
                )
            else:
                self._pause(0.0)
                self._chunk(line(done=True))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            record.finished = True
        except (_ClientGone, OSError):
            if not self.server.stopping:
                record.aborted = True
                self.server.standin.aborted.set()
            self.close_connection = True

    @staticmethod
    def _figures(script: ModelScript, body: dict[str, Any], generated: int) -> dict[str, int]:
        if script.next_figures:
            nxt = script.next_figures.pop(0)
            return {k: int(nxt.get(k, 0)) for k in FIGURE_KEYS}
        if script.figures is not None:
            return {k: int(script.figures.get(k, 0)) for k in FIGURE_KEYS}
        if "messages" in body:
            words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        else:
            words = len(str(body.get("prompt", "")).split())
        f = {
            "prompt_eval_count": words,
            "prompt_eval_duration": words * 1_000_000,
            "eval_count": generated,
            "eval_duration": generated * 10_000_000,
            "load_duration": 0,
        }
        f["total_duration"] = f["prompt_eval_duration"] + f["eval_duration"] + 1_000_000
        return f


class OllamaStandIn:
    """A scriptable Ollama server on ``127.0.0.1`` (port 0 picks a free one), served from a background
    thread."""

    def __init__(self, port: int = 0, version: str = "0.9.0", parallel: int | None = None) -> None:
        self.version = version
        self.turns = threading.BoundedSemaphore(parallel) if parallel else None
        """With ``parallel``: how many answers are generated at once; the others wait their turn, as with
        ``OLLAMA_NUM_PARALLEL``."""
        self.models: dict[str, ModelScript] = {}
        """Pulled models by full tag (``name:tag``); ``/api/tags`` lists them."""
        self.running: list[dict[str, Any]] = []
        """What ``/api/ps`` returns; tests may edit it freely (or use ``load``)."""
        self.requests: list[Recorded] = []
        self.streams: list[StreamRecord] = []
        self.aborted = threading.Event()
        """Set when a client abandons a stream before its final line."""
        self._port = port
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> OllamaStandIn:
        """Start serving (again, on the same port after ``stop``)."""
        if self._httpd is None:
            self._httpd = _Server(("127.0.0.1", self._port), self)
            self._port = self._httpd.server_address[1]
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="ollama-standin",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections, so the host is really down."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.drop_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OllamaStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # -- scripting ------------------------------------------------------------------------------------------
    def add_model(self, tag: str, **script: Any) -> ModelScript:
        """Pull ``tag`` (``llama3`` means ``llama3:latest``) with the given ``ModelScript`` fields."""
        s = ModelScript(**script)
        self.models[full_tag(tag)] = s
        return s

    def load(
        self,
        tag: str,
        *,
        size_vram: int | None = None,
        context_length: int = 4096,
        expires_in_s: float = 300.0,
        expires_at: str | None = None,
    ) -> dict[str, Any]:
        """Add a pulled model to ``/api/ps`` as Ollama reports a loaded one, and return the entry.
        ``expires_at`` (ISO 8601) overrides ``expires_in_s``."""
        name = full_tag(tag)
        s = self.models[name]
        entry = {
            "name": name,
            "model": name,
            "size": s.size,
            "digest": s.digest,
            "details": s.details(),
            "expires_at": expires_at or _now(expires_in_s),
            "size_vram": s.size if size_vram is None else size_vram,
            "context_length": context_length,
        }
        self.running.append(entry)
        return entry

    def unload(self, tag: str) -> None:
        """Take a model out of ``/api/ps``."""
        name = full_tag(tag)
        self.running[:] = [m for m in self.running if m.get("model") != name]

    def _ensure_loaded(self, tag: str, num_ctx: int) -> bool:
        """Simulated loading: True when the model had to be (re)loaded for this ``num_ctx``."""
        name = full_tag(tag)
        with self._lock:
            entry = next((m for m in self.running if m.get("model") == name), None)
            if entry is not None and entry.get("context_length") == num_ctx:
                return False
        self.unload(name)
        self.load(name, context_length=num_ctx)
        return True

    def tag_entry(self, name: str) -> dict[str, Any]:
        s = self.models[name]
        return {
            "name": name,
            "model": name,
            "modified_at": "2025-01-15T10:00:00.000000000Z",
            "size": s.size,
            "digest": s.digest,
            "details": s.details(),
        }

    def show_entry(self, name: str) -> dict[str, Any]:
        s = self.models[name]
        caps = ["completion"] + (["thinking"] if s.thinking else [])
        return {
            "modelfile": f'# Modelfile generated by "ollama show"\nFROM {name}\n',
            "parameters": 'stop                           "<|im_end|>"',
            "template": "{{ .Prompt }}",
            "details": s.details(),
            "model_info": {"general.architecture": s.family, f"{s.family}.context_length": s.context_length},
            "capabilities": caps,
            "modified_at": "2025-01-15T10:00:00.000000000Z",
        }

    # -- records --------------------------------------------------------------------------------------------
    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def wait_aborted(self, timeout: float = 2.0) -> bool:
        """Block until a client abandons a stream; False when none did within ``timeout``."""
        return self.aborted.wait(timeout)

    def _record(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self.requests.append(Recorded(method, path, body))

    def _take_failure(self, script: ModelScript) -> FailMode | None:
        with self._lock:
            if script.fail is None:
                return None
            if script.fail_times is None:
                return script.fail
            if script.fail_times > 0:
                script.fail_times -= 1
                return script.fail
            return None
