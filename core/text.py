"""Text from outside made safe to show: on a terminal, in a file, in the workbench.

Text from outside is anything moot did not write itself: the task, model answers, provider error messages (a
remote server writes them), test output, file names and contents of the repository. Before any of it reaches a
terminal it goes through ``terminal_safe``: every character that could act on the terminal instead of being
shown is written as a visible escape in Python's notation, ``\\x1b`` for ESC, ``\\x07`` for BEL, ``\\x9b`` for the
8-bit CSI, ``\\u202e`` for a right-to-left override. That covers

* C0 control characters except newline and tab (so ESC, and with it every CSI, OSC, DCS, APC sequence: titles,
  OSC 52 clipboard writes, hyperlinks, cursor moves, colours, screen clears), a carriage return that does not
  end a line (it would let a line overwrite what came before it), backspace and DEL;
* C1 control characters U+0080 to U+009F (some terminals read them as ESC sequences);
* format characters: bidirectional overrides and isolates, zero-width characters, the byte order mark;
* line and paragraph separators, private-use, surrogate (an undecodable byte) and unassigned code points.

The escape is shown rather than dropped so the reader sees that something was there. Newlines and tabs stay.

``clean`` is ``terminal_safe`` after ``redact``: what every command prints and every export holds (a JSON
document's strings too, with ``clean_data``).
``guarded_output`` routes the process's stdout and stderr through ``clean`` for the length of a command, so a
print anywhere is covered; moot's own cursor movements go through ``control``.
"""

from __future__ import annotations

import contextlib
import re
import sys
import unicodedata
from collections.abc import Iterator
from typing import Any, TextIO

from .storage.redact import redact

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SUSPECT = re.compile(r"\r\n|[^\t\n\x20-\x7e]")
"""A CRLF, or any character that is not printable ASCII, newline or tab: the only ones worth a closer look."""


def escape_char(ch: str) -> str:
    """``ch`` as a visible escape: ``\\x1b``, ``\\u202e``, ``\\U0001f600``."""
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _one(m: re.Match[str]) -> str:
    ch = m.group()
    if ch == "\r\n":
        return "\n"
    return escape_char(ch) if unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch


def terminal_safe(text: str) -> str:
    """``text`` with every character that could act on a terminal written as a visible escape (see the module);
    ``\\r\\n`` becomes ``\\n``. Printable text, newlines and tabs are unchanged."""
    if not text:
        return text
    return _SUSPECT.sub(_one, text)


def clean(text: str) -> str:
    """``text`` redacted (no key in it), then made safe for a terminal."""
    return terminal_safe(redact(text))


def one_line(text: str) -> str:
    """``clean`` text on one line: its runs of whitespace, newlines included, become one space."""
    return " ".join(clean(text).split())


def clean_data(value: Any) -> Any:
    """A copy of a JSON-like ``value`` whose every string (keys too) is ``clean``: a JSON document moot prints or
    writes holds no key, and none of its strings can act on a terminal when a script prints it raw."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean_data(k): clean_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(v) for v in value]
    return value


class SafeStream:
    """A text stream whose ``write`` passes everything through ``clean``; ``write_control`` writes as it is (only
    for moot's own cursor movements). Everything else is the wrapped stream's."""

    def __init__(self, stream: TextIO):
        self.wrapped = stream

    def write(self, text: str) -> int:
        self.wrapped.write(clean(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def write_control(self, sequence: str) -> None:
        self.wrapped.write(sequence)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def control(stream: Any, sequence: str) -> None:
    """Write moot's own terminal control ``sequence`` (a cursor movement, a line erase) to ``stream`` unescaped."""
    getattr(stream, "write_control", stream.write)(sequence)


@contextlib.contextmanager
def guarded_output() -> Iterator[None]:
    """For the body, ``sys.stdout`` and ``sys.stderr`` redact and escape everything written to them."""
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, SafeStream):
        sys.stdout = SafeStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, SafeStream):
        sys.stderr = SafeStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
