"""Structured answers: which engines decode under a JSON schema, and reading a JSON answer that was cut short.

A task list, a reviewer's verdict, a peer ranking and the judge's sections are asked for with their JSON schema
(``Params.schema``). The local engines decode under it (Ollama's ``format``, the embedded engine's grammar), so
their answer is JSON of that shape, except that it may stop early when it reaches the call's token cap:
``complete_json`` reads such a prefix by closing what is open. Hosted models get ``response_format`` when their
provider supports it; callers keep the prompt's own format for them and read either.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from .config.models import ModelConfig


def decodes_schema(model: ModelConfig) -> bool:
    """Whether a call to ``model`` with ``Params.schema`` is sure to be decoded under it (a local engine).

    Hosted models may be too (``response_format``), but only their backend knows, so their prompts keep
    describing the format in words."""
    return model.provider_kind.decodes_schema


def decodes_grammar(model: ModelConfig) -> bool:
    """Whether ``Params.grammar`` (GBNF) holds a call to ``model``: the embedded engine's. Ollama and hosted
    servers take a JSON schema at most."""
    return model.provider_kind.decodes_grammar


class IncompleteJson(ValueError):
    """Not even a prefix of a JSON value."""


_DECODER = json.JSONDecoder(strict=False)
"""Control characters inside strings are taken as they are: a small model writes a raw tab or line break
where JSON wants an escape, and the meaning is plain."""
_LITERAL = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")


def complete_json(text: str) -> Any:
    """The JSON value in ``text``, which may be cut off anywhere: an open string, array or object is closed; a
    key without its value, a dangling comma and an unfinished number are dropped. Raises ``IncompleteJson``
    when ``text`` does not start with an object or an array.

    >>> complete_json('{"tasks": [{"title": "Add gr')
    {'tasks': [{'title': 'Add gr'}]}
    """
    s = text.strip()
    if not s or s[0] not in "{[":
        raise IncompleteJson("the answer is not a JSON object or array")
    with contextlib.suppress(json.JSONDecodeError):
        return _DECODER.raw_decode(s)[0]  # whole (anything after the value is ignored)
    stack: list[list[str]] = []  # [bracket, what comes next: key, colon, value or comma]
    cut = ""  # the longest prefix that closes into valid JSON, closed

    def closed(prefix: str) -> str:
        return prefix + "".join("}" if b == "{" else "]" for b, _ in reversed(stack))

    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if ch.isspace():
            i += 1
            continue
        top = stack[-1] if stack else None
        if ch in "{[":
            stack.append([ch, "key" if ch == "{" else "value"])
            i += 1
            cut = closed(s[:i])
        elif ch in "}]" and top is not None:
            stack.pop()
            i += 1
            if stack:
                stack[-1][1] = "comma"
            cut = closed(s[:i])
        elif ch == "," and top is not None:
            top[1] = "key" if top[0] == "{" else "value"
            i += 1
        elif ch == ":" and top is not None:
            top[1] = "value"
            i += 1
        elif ch == '"' and top is not None:
            j, escaped = i + 1, False
            while j < n and (escaped or s[j] != '"'):
                escaped = not escaped and s[j] == "\\"
                j += 1
            if j >= n:  # cut inside the string: a value is kept as far as it went, a key is dropped
                if top[1] == "value":
                    body = s[:n - 1] if escaped else s
                    with contextlib.suppress(json.JSONDecodeError):
                        return _DECODER.decode(closed(body + '"'))
                break
            i = j + 1
            if top[1] == "key":
                top[1] = "colon"
            else:
                top[1] = "comma"
                cut = closed(s[:i])
        elif (m := _LITERAL.match(s, i)) and m.end() < n and top is not None:
            i = m.end()
            top[1] = "comma"
            cut = closed(s[:i])
        else:
            break  # an unfinished literal at the end, or something that is not JSON
    try:
        return _DECODER.decode(cut)
    except json.JSONDecodeError as e:
        raise IncompleteJson(f"the answer is not JSON: {e}") from None
