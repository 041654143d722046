"""What a user reads when a hosted model fails: one printable line with the server's status and its own words,
never the client library's class names, handling hints or object reprs; the whole error in the call log."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from conftest import sql
from moot.core.calls import CallContext, run_call
from moot.core.config.models import ModelConfig
from moot.core.events import Error, Event
from moot.core.providers.base import Params
from moot.core.providers.hosted import HostedBackend, map_error
from moot.core.providers.http_errors import MAX_MESSAGE, one_line
from moot.core.providers.stream import stream
from moot.core.storage import Store
from standins.openai_server import OpenAIStandIn

KEY = "sk-moot-test-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "Plan a tiny change"}]
LIBRARY_WORDS = ("litellm", "Handle with", "Exception", "OpenAI", "object at 0x", "Error code", "httpx", "aiohttp")
NGINX_502 = (
    "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
    "<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx/1.25.3</center>\n</body>\n</html>\n"
)


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    await HostedBackend().aclose()


@pytest.fixture
def server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as s:
        yield s


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MOOT_TEST_KEY", KEY)
    return KEY


def gpt(api_base: str) -> ModelConfig:
    return ModelConfig(name="gpt", model="openai/gpt-4o-mini", api_base=api_base, api_key_env="MOOT_TEST_KEY")


def where(server: OpenAIStandIn) -> str:
    return server.url.removeprefix("http://").removesuffix("/v1")


async def failure(model: ModelConfig) -> Error:
    events: list[Event] = [e async for e in stream(model, MESSAGES, Params(retries=0, timeout_s=20))]
    last = events[-1]
    assert isinstance(last, Error), events
    assert_one_clean_line(last.message)
    assert KEY not in last.message and KEY not in last.detail
    return last


def assert_one_clean_line(line: str) -> None:
    assert line and line.isprintable(), repr(line)  # no newline, no ESC, no control character at all
    assert len(line) <= MAX_MESSAGE + 80, len(line)
    for word in LIBRARY_WORDS:
        assert word not in line, (word, line)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, "bad_request", False),
        (401, "auth", False),
        (403, "auth", False),
        (404, "not_found", False),
        (408, "timeout", True),
        (429, "rate_limit", True),
        (500, "server", True),
        (502, "server", True),
        (503, "server", True),
    ],
)
async def test_an_http_error_is_its_status_host_and_message(
    server: OpenAIStandIn, status: int, kind: str, retryable: bool
) -> None:
    server.fail(status, message="The upstream says no.\nTraceback (most recent call last):\n  File x.py")
    error = await failure(gpt(server.url))
    assert error.message == f"HTTP {status} from {where(server)}: The upstream says no."
    assert (error.kind, error.retryable, error.status) == (kind, retryable, status)
    assert "Traceback (most recent call last)" in error.detail and f"HTTP {status}" in error.detail


async def test_an_html_error_page_is_its_title(server: OpenAIStandIn) -> None:
    server.fail(502, body=NGINX_502, content_type="text/html")
    error = await failure(gpt(server.url))
    assert error.message == f"HTTP 502 from {where(server)}: 502 Bad Gateway"
    assert "nginx/1.25.3" in error.detail  # the page itself is in the call log


@pytest.mark.parametrize("body", ['{"error": {"message": "half a body', "plain words, no JSON"])
async def test_a_malformed_body_is_shown_as_it_came(server: OpenAIStandIn, body: str) -> None:
    server.fail(500, body=body)
    error = await failure(gpt(server.url))
    assert error.message == f"HTTP 500 from {where(server)}: {body}"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('{"detail": "Model is loading"}', "Model is loading"),
        ('{"error": "overloaded"}', "overloaded"),
        ('{"detail": [{"loc": ["body", "model"], "msg": "field required"}]}', "field required"),
        ("", "Service Unavailable"),  # no body: the status's reason
    ],
)
async def test_other_servers_error_shapes(server: OpenAIStandIn, body: str, said: str) -> None:
    server.fail(503, body=body)
    error = await failure(gpt(server.url))
    assert error.message == f"HTTP 503 from {where(server)}: {said}"


async def test_a_very_long_message_is_cut_to_one_line(server: OpenAIStandIn) -> None:
    long = "The request was rejected because " + " ".join(f"reason{i}" for i in range(600)) + " END"
    server.fail(400, message=long)
    error = await failure(gpt(server.url))
    assert error.message.startswith(f"HTTP 400 from {where(server)}: The request was rejected because reason0")
    assert error.message.endswith("…") and "END" not in error.message
    assert long in error.detail


async def test_escape_sequences_and_newlines_become_one_printable_line(server: OpenAIStandIn) -> None:
    server.fail(500, message="bad \x1b]0;PWNED\x07 \x1b[2J\x9b1m thing\r\nsecond line\x00")
    error = await failure(gpt(server.url))
    assert error.message == f"HTTP 500 from {where(server)}: bad \\x1b]0;PWNED\\x07 \\x1b[2J\\x9b1m thing"
    assert "second line" in error.detail
    assert not any(ch in error.detail for ch in "\x1b\x07\x9b\x00")


async def test_an_echoed_key_is_masked_in_the_line_and_the_log(server: OpenAIStandIn) -> None:
    server.fail(401, message="Incorrect API key provided: {api_key}.")
    error = await failure(gpt(server.url))
    assert error.message == f"HTTP 401 from {where(server)}: Incorrect API key provided: ***."


async def test_connection_refused() -> None:
    port = free_port()
    error = await failure(gpt(f"http://127.0.0.1:{port}/v1"))
    assert error.message == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert (error.kind, error.retryable) == ("connection", True)
    assert "ConnectionRefusedError" in error.detail  # the library's story is kept for the log


async def test_tls_to_a_plain_http_server(server: OpenAIStandIn) -> None:
    error = await failure(gpt(server.url.replace("http://", "https://")))
    assert error.message.startswith(f"cannot connect to {where(server)}: TLS failed")
    assert error.kind == "connection"


async def test_a_host_that_does_not_resolve() -> None:
    error = await failure(gpt("http://no-such-host.invalid/v1"))
    assert error.message == "cannot connect to no-such-host.invalid: the host name does not resolve"


async def test_the_client_libraries_own_timeout(server: OpenAIStandIn) -> None:
    """litellm's timeout (a backstop behind moot's own deadline) reads as a timeout of that server."""
    from moot.core.providers.hosted import _lite

    server.stall(5)
    model = gpt(server.url)
    with pytest.raises(Exception) as caught:
        response = await _lite().acompletion(
            model=model.model, messages=MESSAGES, stream=True, api_base=model.api_base, api_key=KEY,
            timeout=0.3, num_retries=0, max_retries=0,
        )
        async for _ in response:
            pass
    error = map_error(caught.value, KEY, model)
    assert error.message == f"no answer from {where(server)} in time"
    assert (error.kind, error.retryable) == ("timeout", True)
    assert_one_clean_line(error.message)


async def test_moots_deadline(server: OpenAIStandIn) -> None:
    server.stall(5)
    events = [e async for e in stream(gpt(server.url), MESSAGES, Params(retries=0, timeout_s=0.3))]
    assert events[-1] == Error("timeout", "no answer within 0.3 s")


def test_another_providers_handler_error_without_its_hints() -> None:
    """litellm's own handlers (Anthropic, Gemini…) wrap the body in text naming classes and how to catch them."""
    import litellm
    from litellm.llms.anthropic.common_utils import AnthropicError

    body = '{"type":"error","error":{"type":"api_error","message":"Internal server error"}}'
    try:
        try:
            raise AnthropicError(status_code=500, message=body)
        except AnthropicError as inner:
            raise litellm.InternalServerError(
                message=f"AnthropicException - {body}. Handle with `litellm.InternalServerError`.",
                llm_provider="anthropic", model="claude-sonnet-4",
            ) from inner
    except litellm.InternalServerError as exc:
        error = map_error(exc, None, ModelConfig(name="claude", model="anthropic/claude-sonnet-4"))
    assert error.message == "HTTP 500 from anthropic: Internal server error"
    assert (error.kind, error.status, error.retryable) == ("server", 500, True)
    assert "Handle with" in error.detail


def test_one_line() -> None:
    assert one_line("first\nsecond") == "first"
    assert one_line("Invalid request:\n  field x is required\nmore") == "Invalid request: field x is required"
    assert one_line("a\tb   c") == "a b c"
    assert one_line("x" * 500, 50) == "x" * 50 + "…"
    assert one_line("\u202eevil") == "\\u202eevil"


async def test_the_call_log_keeps_the_whole_error(server: OpenAIStandIn) -> None:
    server.fail(500, message="The upstream says no.\nline two of the story\nline three", times=1)
    store = Store()
    try:
        result = await run_call(gpt(server.url), MESSAGES, Params(retries=0),
                                ctx=CallContext(store=store, phase="propose"))
        assert result.error is not None
        assert result.error.message == f"HTTP 500 from {where(server)}: The upstream says no."
        (row,) = sql(store, "SELECT error_kind, error_message FROM calls")
    finally:
        store.close()
    assert row["error_kind"] == "server"
    logged = row["error_message"]
    assert logged.splitlines()[0] == result.error.message  # the line shown, first
    assert "line two of the story" in logged and "line three" in logged
