"""Hosted models through litellm: OpenAI, Anthropic, Gemini, OpenRouter and any OpenAI-compatible ``api_base``.

litellm is imported on first use only (the import takes seconds), offline (its bundled price table) and quiet.
Retrying is moot's job (``stream.stream``), so litellm and the OpenAI SDK under it are told not to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from ..config.models import ModelConfig
from ..events import (
    Done,
    Event,
    ProviderError,
    Queued,
    Started,
    TextDelta,
    ThinkingDelta,
    Usage,
    error_for_status,
)
from .base import Availability, Backend, Message, Params
from .http_errors import describe
from .kinds import HOSTED

_litellm: Any = None
_NO_KEY = "no-key"
"""Sent to a self-hosted ``api_base`` that needs no key, so that the SDK never falls back to OPENAI_API_KEY."""


def _lite() -> Any:
    """The litellm module, imported on first use: offline price table, no telemetry, no debug output."""
    global _litellm
    if _litellm is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_TELEMETRY", "False")
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        if "LITELLM_LOG" not in os.environ:  # moot reports errors itself; keep litellm off the terminal
            for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        _litellm = litellm
    return _litellm


def _api_key(model: ModelConfig) -> str | None:
    """The key to send. Raises ``ProviderError("auth")`` when the model needs a key that is not set."""
    secret = model.api_key()
    if secret is not None:
        return secret.get_secret_value()
    if model.key_env:
        raise ProviderError("auth", f"unavailable (set {model.key_env})")
    return _NO_KEY if model.api_base else None


def _where(model: ModelConfig | None) -> str:
    """How a model's server is named in an error when its exceptions do not say: ``host:port`` of its
    ``api_base``, else its provider (``anthropic``)."""
    if model is None:
        return ""
    if model.api_base:
        netloc = urlsplit(model.api_base if "://" in model.api_base else f"//{model.api_base}").netloc
        if netloc:
            return netloc.rsplit("@", 1)[-1]
    return model.model.split("/", 1)[0] if "/" in model.model else ""


def map_error(exc: BaseException, secret: str | None = None, model: ModelConfig | None = None) -> ProviderError:
    """Classify a litellm / OpenAI SDK / httpx exception as a ``ProviderError`` (kind, retryable, status).

    The message is one printable line with the server's status and its own words (``HTTP 500 from
    127.0.0.1:8080: the server's message``) or what broke the connection; never the library's class names,
    handling hints or object reprs. The whole story goes in ``detail``, for the call log. The HTTP status of
    the provider's response decides the kind when there is one, because litellm's exception class sometimes
    guesses from the message text (a 403 can arrive as ``BadRequestError``, a refused connection as
    ``InternalServerError``). ``secret`` is masked in both.
    """
    lt = _lite()
    what = describe(exc, where=_where(model), secret=secret if secret != _NO_KEY else None)
    if what.kind == "http" and what.status is not None and what.status >= 400:
        error = error_for_status(what.status, what.line)
        error.detail = what.detail
        if what.status == 429 and "quota" in what.line.lower():  # out of credit: waiting will not help
            error.retryable = False
        return error
    if what.kind == "timeout":
        return ProviderError("timeout", what.line, retryable=True, detail=what.detail)
    if what.kind in ("connect", "broken"):
        return ProviderError("connection", what.line, retryable=True, detail=what.detail)
    code = getattr(exc, "status_code", None)
    code = code if isinstance(code, int) else None
    message = what.line or "the provider gave no reason"
    if isinstance(exc, lt.Timeout):
        return ProviderError("timeout", message, retryable=True, detail=what.detail)
    if isinstance(exc, lt.RateLimitError):
        return ProviderError("rate_limit", message, retryable=True, status=code, detail=what.detail)
    if isinstance(exc, lt.AuthenticationError | lt.PermissionDeniedError):
        return ProviderError("auth", message, status=code, detail=what.detail)
    if isinstance(exc, lt.NotFoundError):
        return ProviderError("not_found", message, status=code, detail=what.detail)
    if isinstance(exc, lt.BadRequestError | lt.UnprocessableEntityError):  # incl. ContextWindowExceededError
        return ProviderError("bad_request", message, status=code, detail=what.detail)
    if isinstance(exc, lt.InternalServerError | lt.ServiceUnavailableError | lt.BadGatewayError):
        return ProviderError("server", message, retryable=True, status=code, detail=what.detail)
    if isinstance(exc, lt.APIError) and code is not None and code >= 400:
        error = error_for_status(code, message)
        error.detail = what.detail
        return error
    return ProviderError("internal", message, detail=what.detail)


def _response_format(lt: Any, model: ModelConfig, params: Params) -> dict[str, Any]:
    """``response_format`` with the call's JSON schema, for models litellm says can decode under one."""
    if not params.schema:
        return {}
    try:
        supported = lt.supports_response_schema(model=model.model)
    except Exception:  # a model litellm does not know
        supported = False
    if not supported:
        return {}
    return {"response_format": {"type": "json_schema",
                                "json_schema": {"name": "answer", "schema": params.schema, "strict": False}}}


def supports_effort(model: ModelConfig) -> bool:
    """Whether the hosted client says ``model`` takes a reasoning effort."""
    lt = _lite()
    try:
        return bool(lt.supports_reasoning(model=model.model))
    except Exception:  # a model the client does not know
        return False


def _effort(model: ModelConfig, params: Params) -> dict[str, Any]:
    return {"reasoning_effort": params.effort} if params.effort and supports_effort(model) else {}


_STOP_GRACE_S = 5.0
"""How long a cancelled call may wait for litellm's worker thread to hand its request back (it takes
milliseconds; a hung thread is left behind after this)."""


def _preparing(lt: Any, task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` (running ``acompletion``) waits for litellm's worker thread. That thread prepares the
    request and hands it back as a coroutine, which ``acompletion`` then awaits: a cancellation delivered in
    between drops the coroutine unawaited ("coroutine ... was never awaited")."""
    code = inspect.unwrap(lt.acompletion).__code__
    coro: Any = task.get_coro()
    while inspect.iscoroutine(inner := getattr(coro, "cr_await", None)):
        coro = inner
    return getattr(coro, "cr_code", None) is code


async def _open(lt: Any, call: Any) -> Any:
    """Await litellm's ``acompletion`` so that cancelling it (moot's deadline, the user) closes it cleanly.

    The call runs in a task of its own. When the caller is cancelled, that task is cancelled too, but never
    while litellm's worker thread is preparing the request (see ``_preparing``): it is given the moment it
    needs, then cancelled, and waited for, so the request is closed before the caller goes on. A response that
    arrived meanwhile is closed; an error that ended the call meanwhile is collected (no "never retrieved")."""
    task = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await _stop(lt, task)
        raise


async def _stop(lt: Any, task: asyncio.Task[Any]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _STOP_GRACE_S
    try:
        while not task.done() and _preparing(lt, task) and loop.time() < deadline:
            await asyncio.wait({task}, timeout=0.005)
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    except asyncio.CancelledError:  # cancelled again while waiting: what the task ends with is dealt with then
        task.add_done_callback(_settled)
        raise
    if not task.cancelled() and task.exception() is None:
        aclose = getattr(task.result(), "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


def _settled(task: asyncio.Task[Any]) -> None:
    """An abandoned ``acompletion`` ended: collect its error, close a response it still got."""
    if task.cancelled() or task.exception() is not None:
        return
    aclose = getattr(task.result(), "aclose", None)
    if aclose is not None:
        closing = asyncio.ensure_future(aclose())
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)
        closing.add_done_callback(lambda t: t.cancelled() or t.exception())


_closing: set[asyncio.Future[Any]] = set()
"""Responses being closed after their call was abandoned (held so they are not collected half-way)."""


class HostedBackend(Backend):
    """Every hosted provider litellm knows, and any OpenAI-compatible server (``api_base``)."""

    name = "hosted"
    provider_kind = HOSTED

    async def stream(
        self, model: ModelConfig, messages: list[Message], params: Params
    ) -> AsyncIterator[Event]:
        """Stream the answer: ``TextDelta`` / ``ThinkingDelta``, then ``Usage`` and ``Done``.

        Raises ``ProviderError`` for a missing key (before any request) and for every provider failure.
        Closing the generator (``aclose``, or cancelling the task that awaits it) closes the HTTP response.
        """
        key = _api_key(model)
        if _litellm is None:  # the client's first import takes seconds: the call has not begun, so neither has its limit
            yield Queued(ahead=0)
            lt = await asyncio.to_thread(_lite)
            yield Started()
        else:
            lt = _litellm
        response: Any = None
        finish: str | None = None
        usage: Usage | None = None
        try:
            response = await _open(lt, lt.acompletion(
                model=model.model,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                api_base=model.api_base,
                api_key=key,
                # moot's own per-call deadline (in stream()) governs; litellm's is only a backstop
                timeout=(params.timeout_s or 300.0) + 5.0,
                num_retries=0,  # litellm's own retry wrapper
                max_retries=0,  # the OpenAI SDK client underneath (it retries twice by default)
                drop_params=True,  # e.g. temperature for models that only accept the default
                **_response_format(lt, model, params),
                **_effort(model, params),
                **({"seed": params.seed} if params.seed is not None else {}),
            ))
            async for chunk in response:
                for choice in getattr(chunk, "choices", None) or ():
                    delta = getattr(choice, "delta", None)
                    thinking = getattr(delta, "reasoning_content", None)
                    if thinking:
                        yield ThinkingDelta(thinking)
                    text = getattr(delta, "content", None)
                    if text:
                        yield TextDelta(text)
                    if getattr(choice, "finish_reason", None):
                        finish = choice.finish_reason
                chunk_usage = getattr(chunk, "usage", None)
                if chunk_usage is not None:
                    usage = Usage(
                        int(getattr(chunk_usage, "prompt_tokens", 0) or 0),
                        int(getattr(chunk_usage, "completion_tokens", 0) or 0),
                    )
        except ProviderError:
            raise
        except Exception as e:  # CancelledError and GeneratorExit are BaseException: they pass through
            raise map_error(e, key, model) from e
        finally:
            if response is not None and hasattr(response, "aclose"):
                await response.aclose()  # closes the HTTP response, so the server sees the disconnect
        if usage is not None:
            yield usage
        yield Done(finish or "stop")

    async def availability(self, model: ModelConfig) -> Availability:
        """Usable unless the model's key variable is unset. No network."""
        env = model.key_env
        if env and model.api_key() is None:
            return Availability(False, f"unavailable (set {env})", fix=f"export {env}=...")
        return Availability(True)

    def cost(self, model: ModelConfig, usage: Usage) -> float:
        """US dollars for ``usage`` from litellm's price table; 0.0 for a model not in it."""
        return estimate_cost(model, usage.prompt_tokens, usage.completion_tokens) or 0.0

    async def aclose(self) -> None:
        """Close litellm's cached HTTP clients and forget them (only if litellm was ever imported)."""
        if _litellm is None:
            return
        try:
            from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

            await close_litellm_async_clients()
            _litellm.in_memory_llm_clients_cache.flush_cache()  # a closed client must never be handed out again
        except Exception:  # best effort at shutdown
            pass


def estimate_cost(model: ModelConfig, prompt_tokens: int, completion_tokens: int) -> float | None:
    """US dollars for a call of this size from litellm's price table, or None when the price is unknown."""
    lt = _lite()
    try:
        prompt_usd, completion_usd = lt.cost_per_token(
            model=model.model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # not in the table
        return None
    return float(prompt_usd) + float(completion_usd)
