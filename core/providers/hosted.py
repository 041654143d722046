"""Hosted models through litellm: OpenAI, Anthropic, Gemini, OpenRouter and any OpenAI-compatible ``api_base``.

litellm is imported on first use only (the import takes seconds), offline (its bundled price table) and quiet.
Retrying is moot's job (``stream.stream``), so litellm and the OpenAI SDK under it are told not to retry.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from typing import Any

from ..config.models import ModelConfig
from ..events import Done, Event, ProviderError, TextDelta, ThinkingDelta, Usage, error_for_status
from .base import Availability, Backend, Message, Params

_litellm: Any = None
_NO_KEY = "no-key"
"""Sent to a self-hosted ``api_base`` that needs no key, so that the SDK never falls back to OPENAI_API_KEY."""
_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*|(?:\w+(?:Error|Exception)|Timeout Error)\s*(?:-|:)\s*)+")


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


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first."""
    links: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in links and len(links) < 12:
        links.append(link)
        link = link.__cause__ or link.__context__
    return links


def _http_status(links: list[BaseException]) -> tuple[int | None, str | None]:
    """The status and message of a real HTTP error response in the chain (litellm's own codes are guesses)."""
    import httpx
    import openai

    for link in links:
        if isinstance(link, openai.APIStatusError) and type(link).__module__.startswith("openai"):
            body = link.body
            message = body.get("message") if isinstance(body, dict) else None
            return link.status_code, message if isinstance(message, str) else None
        if isinstance(link, httpx.HTTPStatusError):
            return link.response.status_code, None
    return None, None


def _short(text: str, secret: str | None) -> str:
    """First line of a provider message, without litellm's prefixes, the key redacted."""
    if secret and secret != _NO_KEY:
        text = text.replace(secret, "***")
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line).split(" Error_str:", 1)[0].strip()
    return line if len(line) <= 300 else line[:297] + "..."


def map_error(exc: BaseException, secret: str | None = None) -> ProviderError:
    """Classify a litellm / OpenAI SDK / httpx exception as a ``ProviderError`` (kind, retryable, status).

    The HTTP status of the provider's response decides when there is one, because litellm's exception class
    sometimes guesses from the message text (a 403 can arrive as ``BadRequestError``, a refused connection as
    ``InternalServerError``). ``secret`` is redacted from the message.
    """
    import httpx
    import openai

    lt = _lite()
    links = _chain(exc)
    status, provider_message = _http_status(links)
    text = provider_message or str(getattr(exc, "message", None) or exc)
    message = _short(text, secret) or type(exc).__name__
    if status is not None and status >= 400:
        error = error_for_status(status, message)
        if status == 429 and "quota" in message.lower():  # out of credit: waiting will not help
            error.retryable = False
        return error
    if any(isinstance(x, openai.APITimeoutError | httpx.TimeoutException | TimeoutError) for x in links):
        return ProviderError("timeout", message, retryable=True)
    if any(isinstance(x, openai.APIConnectionError | httpx.TransportError | ConnectionError) for x in links):
        return ProviderError("connection", message, retryable=True)
    code = getattr(exc, "status_code", None)
    code = code if isinstance(code, int) else None
    if isinstance(exc, lt.RateLimitError):
        return ProviderError("rate_limit", message, retryable=True, status=code)
    if isinstance(exc, lt.AuthenticationError | lt.PermissionDeniedError):
        return ProviderError("auth", message, status=code)
    if isinstance(exc, lt.NotFoundError):
        return ProviderError("not_found", message, status=code)
    if isinstance(exc, lt.BadRequestError | lt.UnprocessableEntityError):  # incl. ContextWindowExceededError
        return ProviderError("bad_request", message, status=code)
    if isinstance(exc, lt.InternalServerError | lt.ServiceUnavailableError | lt.BadGatewayError):
        return ProviderError("server", message, retryable=True, status=code)
    if isinstance(exc, lt.APIError) and code is not None and code >= 400:
        return error_for_status(code, message)
    return ProviderError("internal", f"{type(exc).__name__}: {message}")


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


class HostedBackend(Backend):
    """Every hosted provider litellm knows, and any OpenAI-compatible server (``api_base``)."""

    name = "hosted"
    local = False

    async def stream(
        self, model: ModelConfig, messages: list[Message], params: Params
    ) -> AsyncIterator[Event]:
        """Stream the answer: ``TextDelta`` / ``ThinkingDelta``, then ``Usage`` and ``Done``.

        Raises ``ProviderError`` for a missing key (before any request) and for every provider failure.
        Closing the generator (``aclose``, or cancelling the task that awaits it) closes the HTTP response.
        """
        key = _api_key(model)
        lt = _lite()
        response: Any = None
        finish: str | None = None
        usage: Usage | None = None
        try:
            response = await lt.acompletion(
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
            )
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
            raise map_error(e, key) from e
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
