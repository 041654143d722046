"""The Ollama backend: ``ollama/<tag>`` models through the official ``ollama`` AsyncClient.

Ollama's final stream line carries token counts and nanosecond timings, which this backend turns into
``Usage`` and ``Perf``. The module also offers small async helpers (``list_models``, ``running_models``,
``server_version``, ``show_model``) for model discovery and the perf panel.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
from ollama import AsyncClient, ResponseError

from ..config.models import ModelConfig
from ..events import Done, Event, Perf, ProviderError, TextDelta, ThinkingDelta, Usage, error_for_status
from . import context_sizes
from .base import Availability, Backend, Message, Params
from .http_errors import describe, one_line
from .kinds import OLLAMA

DEFAULT_HOST = "http://127.0.0.1:11434"
_CONNECT_TIMEOUT_S = 10.0
"""Connecting may not take long; reading may (a model can take minutes to load), so only connect is capped."""
_HELPER_TIMEOUT_S = 10.0


def resolve_host(api_base: str | None) -> str:
    """The Ollama base URL: ``api_base``, else ``OLLAMA_HOST``, else ``http://127.0.0.1:11434``.

    A bare ``host:port`` becomes ``http://host:port``, a bare ``host`` gets port 11434, and a trailing
    slash is dropped.
    """
    raw = (api_base or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST).strip().rstrip("/")
    if "://" not in raw:
        hostport = raw.split("/", 1)[0]
        if hostport.startswith(":"):
            raw = "127.0.0.1" + raw
        elif not hostport.rsplit("]", 1)[-1].count(":"):  # no port (IPv6 literals are bracketed)
            raw = hostport + ":11434" + raw[len(hostport) :]
        raw = "http://" + raw
    return raw


def model_tag(model: str) -> str:
    """The Ollama tag of a model string: ``ollama/qwen2.5-coder:7b`` (or ``ollama_chat/…``) gives
    ``qwen2.5-coder:7b``."""
    return model.split("/", 1)[1] if "/" in model else model


def _same_tag(a: str, b: str) -> bool:
    """Whether two tags name the same model: ``llama3`` is ``llama3:latest``."""

    def full(tag: str) -> str:
        return tag if ":" in tag.rsplit("/", 1)[-1] else tag + ":latest"

    return full(a) == full(b)


def _unreachable(host: str) -> ProviderError:
    return ProviderError(
        "connection", f"Ollama is not reachable at {host} (start it with: ollama serve)", retryable=True
    )


def _translate(exc: BaseException, host: str, tag: str) -> ProviderError:
    """Turn an ollama/httpx exception into a ``ProviderError`` with a message a user can act on: one printable
    line (the server's text cut to one line, no class names); the whole text goes in ``detail``."""
    if isinstance(exc, ResponseError):
        status, full = exc.status_code, str(exc.error)
        text = one_line(full)
        detail = full if text != full else ""
        if status == 404 and tag:
            msg = f'model "{tag}" is not pulled on {host} (run: ollama pull {tag})'
            return ProviderError("not_found", msg, status=404, detail=detail)
        if status == -1:  # an {"error": ...} line after the stream began
            return ProviderError("server", f"Ollama failed while answering: {text}", retryable=True, detail=detail)
        if status == 400:
            return ProviderError(
                "bad_request", f'Ollama rejected the request for "{tag}": {text}', status=400, detail=detail
            )
        error = error_for_status(status, f"Ollama at {host} answered {status}: {text}")
        error.detail = detail
        return error
    if isinstance(exc, ConnectionError | httpx.ConnectError | httpx.ConnectTimeout):
        return _unreachable(host)
    if isinstance(exc, httpx.TransportError):
        what = describe(exc, where=host)
        reason = what.line.split(": ", 1)[-1] if what.kind != "timeout" else "timed out"
        return ProviderError(
            "connection", f"connection to Ollama at {host} broke: {reason}", retryable=True, detail=what.detail
        )
    return ProviderError("internal", one_line(f"{type(exc).__name__}: {exc}"), detail=str(exc))


_ERRORS = (ResponseError, ConnectionError, httpx.TransportError)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx builds a new SSL context (~70 ms) for every client unless given one; share a single one."""
    return httpx.create_ssl_context()


def _new_client(host: str) -> AsyncClient:
    return AsyncClient(
        host=host, timeout=httpx.Timeout(None, connect=_CONNECT_TIMEOUT_S), verify=_ssl_context()
    )


class OllamaBackend(Backend):
    """Streams chat answers from an Ollama server, one cached ``AsyncClient`` per host."""

    name = "ollama"
    provider_kind = OLLAMA

    def __init__(self) -> None:
        self._clients: dict[str, tuple[AsyncClient, asyncio.AbstractEventLoop]] = {}

    def client(self, host: str) -> AsyncClient:
        """The cached client for ``host``; a new one when the event loop changed (httpx pools are per
        loop: a pooled connection from a closed loop fails with "Event loop is closed")."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(host)
        if entry is None or entry[1] is not loop:
            entry = (_new_client(host), loop)
            self._clients[host] = entry
        return entry[0]

    async def stream(
        self, model: ModelConfig, messages: list[Message], params: Params
    ) -> AsyncIterator[Event]:
        """Yield the answer of ``model`` as events; raise ``ProviderError`` on failure."""
        host, tag = resolve_host(model.api_base), model_tag(model.model)
        options: dict[str, Any] = {"num_predict": params.max_tokens, "temperature": params.temperature,
                                   "seed": params.seed}
        # moot's stable context size: a different one than the model is loaded with makes the server reload it
        num_ctx = params.num_ctx or context_sizes.remembered(host, model.model)
        if num_ctx:
            options["num_ctx"] = num_ctx
        options = {k: v for k, v in options.items() if v is not None}
        parts: Any = None
        try:
            parts = await self.client(host).chat(
                model=tag, messages=messages, stream=True, options=options,
                format=params.schema,  # a JSON schema: the server decodes under it
            )
            async for part in parts:
                msg = part.message
                if msg.thinking:
                    yield ThinkingDelta(msg.thinking)
                if msg.content:
                    yield TextDelta(msg.content)
                if part.done:
                    yield Usage(part.prompt_eval_count or 0, part.eval_count or 0)
                    yield Perf(
                        prompt_eval_count=part.prompt_eval_count or 0,
                        prompt_eval_duration=part.prompt_eval_duration or 0,
                        eval_count=part.eval_count or 0,
                        eval_duration=part.eval_duration or 0,
                        load_duration=part.load_duration or 0,
                        total_duration=part.total_duration or 0,
                    )
                    yield Done(part.done_reason or "stop")
                    return
        except _ERRORS as e:
            raise _translate(e, host, tag) from e
        finally:
            if parts is not None:  # closes the HTTP response, so a cancelled call stops on the server too
                await parts.aclose()

    async def availability(self, model: ModelConfig) -> Availability:
        """Usable when the server answers and the model's tag is pulled there."""
        host, tag = resolve_host(model.api_base), model_tag(model.model)
        try:
            tags = await _pulled(self.client(host))
        except _ERRORS as e:
            err = _translate(e, host, tag)
            if err.kind == "connection":
                return Availability(
                    False,
                    f"Ollama not reachable at {host}",
                    fix="start Ollama (ollama serve) or set [ollama] host / OLLAMA_HOST",
                )
            return Availability(False, err.message)
        if any(_same_tag(tag, t) for t in tags):
            return Availability(True, f"pulled on {host}")
        return Availability(False, f"not pulled on {host}", fix=f"ollama pull {tag}")

    async def aclose(self) -> None:
        """Close the clients made on the running loop; forget those of loops that are gone."""
        clients, self._clients = self._clients, {}
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for client, client_loop in clients.values():
            if client_loop is loop:
                await client.close()


async def _pulled(client: AsyncClient) -> list[str]:
    return [m.model for m in (await client.list()).models if m.model]


async def _request_json(host: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One JSON request to Ollama's REST API, errors mapped as for ``stream``."""
    tag = str((body or {}).get("model", ""))
    try:
        async with httpx.AsyncClient(base_url=host, timeout=_HELPER_TIMEOUT_S, verify=_ssl_context()) as http:
            r = await http.request(method, path, json=body)
            if r.is_error:
                raise ResponseError(r.text, r.status_code)
            return r.json()
    except _ERRORS as e:
        raise _translate(e, host, tag) from e


async def list_models(host: str) -> list[str]:
    """The tags pulled on ``host`` (``GET /api/tags``)."""
    try:
        async with _new_client(host) as client:
            return await _pulled(client)
    except _ERRORS as e:
        raise _translate(e, host, "") from e


async def running_models(host: str) -> list[dict[str, Any]]:
    """The models loaded on ``host`` (``GET /api/ps``): ``model``, ``size``, ``size_vram``,
    ``context_length``, ``expires_at``, as the server returned them (missing ones are None)."""
    data = await _request_json(host, "GET", "/api/ps")
    keys = ("model", "size", "size_vram", "context_length", "expires_at")
    return [{k: m.get(k) for k in keys} for m in data.get("models") or []]


async def server_version(host: str) -> str:
    """The Ollama server's version (``GET /api/version``)."""
    return str((await _request_json(host, "GET", "/api/version")).get("version", ""))


async def show_model(host: str, tag: str) -> dict[str, Any]:
    """What Ollama says about a model (``POST /api/show``): modelfile, parameters, template, details,
    model_info, capabilities. Raises ``ProviderError("not_found")`` when it is not pulled."""
    return dict(await _request_json(host, "POST", "/api/show", {"model": tag}))
