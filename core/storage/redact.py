"""Removing API keys from anything moot writes down (database, logs, exported files).

A secret is the value of any environment variable whose name says it holds one (``*_API_KEY``, ``*_TOKEN``,
``*_SECRET``…, plus every ``api_key_env`` the config names), and anything shaped like a bearer token or an
``sk-…`` key.
"""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"(API_KEY|APIKEY|_TOKEN|_SECRET|PASSWORD|_KEY)$", re.IGNORECASE)
_SHAPES = [
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._\-]{16,}"),
]
_EXTRA_NAMES: set[str] = set()
MASK = "[redacted]"


def register_secret_env(name: str) -> None:
    """Treat the variable ``name`` as a secret even if its name does not say so."""
    _EXTRA_NAMES.add(name)


def is_secret_name(name: str) -> bool:
    """Whether the environment variable ``name`` holds a secret: its name says so, or it was registered."""
    return bool(_SECRET_NAME.search(name)) or name in _EXTRA_NAMES


def secret_values() -> list[str]:
    values = {v for k, v in os.environ.items() if v and len(v) >= 8 and is_secret_name(k)}
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every secret replaced by ``[redacted]``."""
    if not text:
        return text
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    text = _SHAPES[0].sub(MASK, text)
    return _SHAPES[1].sub(lambda m: m.group(1) + MASK, text)
