"""A source file's text from its bytes: its byte-order mark, else its coding declaration, else UTF-8.

A Latin-1 file that says ``# -*- coding: latin-1 -*-`` reads as Latin-1 (not as replacement characters), a
UTF-16 or UTF-32 file with its mark reads as text (its NUL bytes do not make it binary). Bytes that still do not
decode are replaced, never an error.
"""

from __future__ import annotations

import codecs
import re

BOMS = (  # longest first: UTF-32's little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_DECLARED = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.MULTILINE)


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``data`` names, or None."""
    for bom, name in BOMS:
        if data.startswith(bom):
            return name
    return None


def declared_encoding(data: bytes) -> str | None:
    """The encoding a coding declaration in the first two lines names (``# -*- coding: latin-1 -*-``), when
    Python knows it; else None."""
    head = b"\n".join(data.split(b"\n", 2)[:2])
    m = _DECLARED.search(head)
    if m is None:
        return None
    try:
        return codecs.lookup(m.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None


def decode_source(data: bytes) -> str:
    """``data`` as text: by its mark, else its declaration, else UTF-8; what does not decode is replaced."""
    encoding = bom_encoding(data) or declared_encoding(data) or "utf-8"
    return data.decode(encoding, "replace")


def as_utf8(data: bytes) -> bytes:
    """``data`` re-encoded as UTF-8 when it is not already (what the parsers read), else ``data`` itself."""
    encoding = bom_encoding(data) or declared_encoding(data)
    if encoding in (None, "utf-8") or (encoding == "utf-8-sig"):
        return data
    return data.decode(encoding, "replace").encode("utf-8")
