"""Text in the workbench is drawn as text: no character in it acts on the terminal.

Textual drops a few control characters from the text it draws (BEL, backspace, vertical tab, form feed, carriage
return) but passes ESC through, so a model's answer, a server's error or a file name holding ``\\x1b]52;…`` would
reach the terminal as a clipboard write, ``\\x1b[2J`` as a screen clear. ``install`` widens the set Textual (and
Rich, for the renderables that still use it) strips from every piece of text: every other C0 control but newline
and tab, DEL, the C1 controls and the bidirectional overrides and isolates are shown as the same visible escape
the command line uses (``\\x1b``, ``\\u202e``, see ``moot.core.text``). It changes the tables in place, so it holds
for every widget whatever builds its text; markup is a separate matter (outside text goes in with
``markup=False``, ``Content(...)`` or ``Text(...)``).
"""

from __future__ import annotations

from moot.core.text import escape_char

_CODES = [
    *[c for c in range(0x20) if c not in (0x09, 0x0A)],  # C0 but tab and newline
    0x7F,
    *range(0x80, 0xA0),  # C1
    0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A),  # bidirectional marks and overrides
]


def install() -> None:
    """Have Textual and Rich show every character in ``_CODES`` as its escape (the ones they already drop stay
    dropped: a carriage return in a CRLF line ending is no news)."""
    from rich import control as rich_control
    from textual import content

    for table in (content._CONTROL_STRIP_TRANSLATE, rich_control._CONTROL_STRIP_TRANSLATE):
        for code in _CODES:
            table.setdefault(code, escape_char(chr(code)))
