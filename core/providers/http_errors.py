"""What a failed HTTP call to a model server says, in one line a user can read, and in full for the call log.

A client library wraps the server's answer in layers of its own exceptions, whose text names their classes,
suggests how to catch them and prints object reprs. ``describe`` walks the chain of exceptions (``__cause__`` /
``__context__``) down to what really happened: the HTTP response (status, the server's own message from its
JSON, HTML or plain-text body) or the transport failure (refused, unresolvable host, TLS, reset, timeout), and
says it as ``HTTP 500 from api.example.com: the server's message`` or ``cannot connect to 127.0.0.1:9:
connection refused``. The line is printable text: control characters are written as visible escapes.
"""

from __future__ import annotations

import html
import json
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

#: The longest server message kept in the one-line summary (the whole text goes to the call log).
MAX_MESSAGE = 200
#: The most of a response body the call log keeps.
MAX_DETAIL = 16_000

_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")
_LIBRARY_NOISE = re.compile(
    r"^(?:litellm\.\w+:\s*|(?:\w+(?:Error|Exception)|Timeout Error)\s*(?:-|:)\s*|Error code: \d{3}\s*-\s*)+"
)
_HANDLE_WITH = re.compile(r"\.?\s*Handle with `[^`]*`\.?")
_SSL_NOISE = re.compile(r"^\[SSL(?:: [A-Z_]+)?\]\s*|\s*\(_ssl\.c:\d+\)")
_HTML = re.compile(r"^\s*(?:<!doctype html|<html|<head|<body|<\?xml)", re.IGNORECASE)
_TITLE = re.compile(r"<(title|h1)[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>|<!--.*?-->", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Described:
    """One failed call, described."""

    kind: str
    """``http`` (the server answered with an error status), ``connect`` (no connection was made), ``broken``
    (the connection failed after it was made), ``timeout``, or ``other``."""
    line: str
    """The one-line summary, printable."""
    detail: str
    """Everything known, for the call log: the response's status, URL and body, and each exception's text."""
    status: int | None = None
    """The HTTP status of the server's response (only for ``http``)."""


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first."""
    links: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in links and len(links) < 16:
        links.append(link)
        link = link.__cause__ or link.__context__
    return links


def printable(text: str) -> str:
    """``text`` with every character that is not printable written as a visible escape (``\\x1b``, ``\\u202e``)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """The first line of ``text`` (with the next ones while a line ends in a colon), printable, whitespace
    collapsed, cut at a word near ``limit`` characters with an ellipsis."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    for more in lines[1:]:
        if not line.endswith(":") or len(line) > limit:
            break
        line = f"{line} {more}"
    line = printable(" ".join(line.split()))
    if len(line) <= limit:
        return line
    cut = line[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.6 else cut).rstrip(" ,;:.-") + "…"


def _multiline(text: str) -> str:
    """``text`` printable but for its newlines and tabs (for the call log)."""
    return "\n".join(printable(ln.replace("\t", "    ")) for ln in text.splitlines())


def _where(url: Any) -> str:
    """``host:port`` of a URL (``host`` alone for a default port)."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return ""
    return parts.netloc.rsplit("@", 1)[-1] if parts.netloc else ""


def _message_in(data: Any, depth: int = 0) -> str:
    """The human message in a parsed JSON error body, whatever the server's shape (OpenAI's ``error.message``,
    ``detail``, ``msg``, a bare string); "" if there is none."""
    if depth > 4:
        return ""
    if isinstance(data, str):
        return data
    if isinstance(data, list):
        parts = [_message_in(x, depth + 1) for x in data[:5]]
        return "; ".join(p for p in parts if p)
    if not isinstance(data, dict):
        return ""
    for key in ("message", "error", "detail", "msg", "error_message", "title", "description"):
        found = _message_in(data.get(key), depth + 1)
        if found:
            return found
    for key in ("code", "type"):  # a body with no words: its code at least
        value = data.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return str(value)
    return ""


def _html_text(page: str) -> str:
    """What an HTML error page says: its title or first heading, else its text."""
    match = _TITLE.search(page)
    text = match.group(2) if match else _TAG.sub(" ", page)
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def body_message(body: Any) -> str:
    """The server's message in a response body: parsed JSON, raw JSON text, an HTML page, plain text."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, dict | list):
        return _message_in(body) or json.dumps(body, ensure_ascii=False)[:MAX_MESSAGE * 2]
    if not isinstance(body, str):
        return ""
    text = body.strip()
    if text[:1] in "{[\"":
        try:
            parsed = json.loads(text)
        except ValueError:
            return text  # broken JSON: shown as it came
        return body_message(parsed) if not isinstance(parsed, str) else parsed
    if _HTML.match(text):
        return _html_text(text)
    return text


def _clean_library_text(text: str) -> str:
    """A library's exception text without its class-name prefixes, handling hints and object reprs."""
    text = _REPR.sub("", text)
    text = _HANDLE_WITH.sub("", text)
    lines = [_LIBRARY_NOISE.sub("", ln.strip()) for ln in text.splitlines()]
    return "\n".join(ln for ln in lines if ln)


def _response_of(link: BaseException) -> httpx.Response | None:
    response = getattr(link, "response", None)
    return response if isinstance(response, httpx.Response) else None


def _request_url(links: list[BaseException]) -> str:
    """The URL of the request, from the first exception in the chain that knows it for real."""
    for link in links:
        mod = type(link).__module__
        if not (mod.startswith("openai") or mod.startswith("httpx")):
            continue  # litellm's own exceptions carry placeholder requests
        try:
            request = getattr(link, "request", None)
        except RuntimeError:  # httpx: "The .request property has not been set."
            request = None
        if isinstance(request, httpx.Request):
            return str(request.url)
    return ""


def _transport_types() -> tuple[type[BaseException], ...]:
    """Exception types that mean the HTTP exchange itself failed (no response, or a response cut off)."""
    types: list[type[BaseException]] = [httpx.TransportError, ConnectionError, TimeoutError]
    try:
        import openai

        types.append(openai.APIConnectionError)  # APITimeoutError (and litellm's Timeout) derive from it
    except ImportError:  # pragma: no cover - installed with litellm
        pass
    try:
        import aiohttp

        types.append(aiohttp.ClientConnectionError)
        types.append(aiohttp.ClientPayloadError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


_CONNECTING = frozenset({
    "ConnectError", "ConnectTimeout", "ClientConnectorError", "ClientConnectorDNSError", "ClientConnectorSSLError",
    "ClientConnectorCertificateError",
})


def _transport_reason(links: list[BaseException]) -> tuple[str, bool, bool] | None:
    """(reason, while connecting, timed out) of a failure below HTTP, or None when there was none."""
    transport = [x for x in links if isinstance(x, _transport_types())]
    if not transport:
        return None
    connecting = any(type(x).__name__ in _CONNECTING for x in links)
    timed_out = any(isinstance(x, TimeoutError | httpx.TimeoutException) or "Timeout" in type(x).__name__
                    for x in links)
    for link in reversed(links):  # innermost first: the operating system's own words
        if isinstance(link, ConnectionRefusedError):
            return "connection refused", True, timed_out
        if isinstance(link, socket.gaierror):
            return "the host name does not resolve", True, timed_out
        if isinstance(link, ssl.SSLCertVerificationError):
            reason = getattr(link, "verify_message", "") or _SSL_NOISE.sub("", str(link.strerror or link))
            return f"the TLS certificate is not accepted: {reason}", True, timed_out
        if isinstance(link, ssl.SSLError):
            return f"TLS failed: {_SSL_NOISE.sub('', str(link.strerror or link.reason or link))}", True, timed_out
        if isinstance(link, ConnectionResetError):
            return "the connection was reset", connecting, timed_out
        if isinstance(link, TimeoutError | httpx.TimeoutException):
            return "timed out", connecting, True
        if isinstance(link, OSError) and link.strerror:
            return link.strerror[:1].lower() + link.strerror[1:], connecting, timed_out
    if timed_out:
        return "timed out", connecting, True
    text = one_line(_clean_library_text(str(transport[-1])), 120)
    return (text if text not in ("Connection error.", "") else "the connection failed"), connecting, False


def _real_response(links: list[BaseException]) -> tuple[int, Any, httpx.Response] | None:
    """(status, body, response) of the server's error response as the HTTP client saw it, if there is one."""
    for link in links:
        status = getattr(link, "status_code", None)
        response = _response_of(link)
        if type(link).__module__.startswith("openai") and isinstance(status, int) and response is not None:
            body = getattr(link, "body", None)
            if not isinstance(body, dict | list):
                body = _text_of(response)
            return status, body, response
        if isinstance(link, httpx.HTTPStatusError):
            return link.response.status_code, _text_of(link.response), link.response
    return None


def _text_of(response: httpx.Response) -> str | None:
    try:
        return response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError, RuntimeError):
        return None


def _provider_response(links: list[BaseException]) -> tuple[int, Any] | None:
    """(status, body) from the exception of a provider handler litellm runs itself (not the OpenAI client),
    which carries the server's status and body text; a status it made up does not count."""
    for link in links:
        status = getattr(link, "status_code", None)
        if (
            type(link).__module__.startswith("litellm.llms")
            and isinstance(status, int) and status >= 400
            and not getattr(link, "status_code_is_synthesized", False)
        ):
            return status, getattr(link, "body", None) or getattr(link, "message", None)
    return None


def describe(exc: BaseException, *, where: str = "", secret: str | None = None) -> Described:
    """Describe a failed call. ``where`` names the server when the exceptions do not (``host:port`` of the
    configured ``api_base``, or the provider's name); ``secret`` (the key sent) is masked everywhere."""

    def masked(text: str) -> str:
        return text.replace(secret, "***") if secret and len(secret) >= 4 else text

    links = chain(exc)
    url = _request_url(links)
    host = _where(url) or where or "the server"
    library = "\n".join(
        f"{type(x).__module__}.{type(x).__qualname__}: {x}" for x in links
    )
    real = _real_response(links)
    transport = _transport_reason(links) if real is None else None
    response = (real[0], real[1]) if real is not None else (_provider_response(links) if transport is None else None)
    if response is not None:
        status, body = response
        reason = real[2].reason_phrase if real is not None else ""
        message = one_line(masked(_clean_library_text(body_message(body)))) or reason or "no message"
        raw = body if isinstance(body, str) else (json.dumps(body, ensure_ascii=False) if body is not None else "")
        detail = f"HTTP {status} {reason}".rstrip() + f" from {url or host}\n{raw[:MAX_DETAIL]}\n{library}"
        return Described("http", f"HTTP {status} from {host}: {message}", _multiline(masked(detail)), status)
    if transport is not None:
        reason, connecting, timed_out = transport
        reason = masked(reason)
        if timed_out and not connecting:
            line = f"no answer from {host} in time"
        elif connecting:
            line = f"cannot connect to {host}: {reason}"
        else:
            line = f"the connection to {host} broke: {reason}"
        kind = "timeout" if timed_out else ("connect" if connecting else "broken")
        return Described(kind, one_line(line, MAX_MESSAGE + 80), _multiline(masked(f"{url or host}\n{library}")))
    text = one_line(masked(_clean_library_text(str(getattr(exc, "message", None) or exc))))
    return Described("other", text, _multiline(masked(library)))
