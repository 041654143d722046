"""The judge's synthesis: its sections parsed from Markdown, and their JSON form for local engines.

A hosted judge writes Markdown under headings. A local judge is asked for JSON under ``judge_schema`` (its engine
decodes under the schema, so even a small model's answer has every section); ``JsonToMarkdown`` turns that JSON
into the same Markdown while it streams, so the user reads Markdown either way and ``parse_synthesis`` reads both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SECTIONS = {
    "plan": ("plan", "synthesised plan", "synthesized plan", "synthesis", "final plan"),
    "models": ("models consulted",),
    "consensus": ("consensus",),
    "divergence": ("divergent approaches", "divergence", "divergences", "disagreements"),
    "resolution": ("resolution rationale", "resolution", "rationale"),
    "insights": ("unique insights", "insights"),
}
_HEADING = re.compile(r"^\s{0,3}(?:#{1,6}\s*|\*\*)(?:\d+[.)]\s*)?(.+?)(?:\*\*)?\s*:?\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+(.*)$")


@dataclass
class Synthesis:
    """The judge's answer, split into the fields of ``moot plan --json``."""

    text: str
    plan: str = ""
    consensus: list[str] = field(default_factory=list)
    divergence: list[str] = field(default_factory=list)
    resolution: str = ""
    unique_insights: list[str] = field(default_factory=list)


def _section_of(title: str) -> str | None:
    t = re.sub(r"[^a-z ]", "", title.lower()).strip()
    for key, names in SECTIONS.items():
        if any(t == n or t.startswith(n) for n in names):
            return key
    return None


def _bullets(body: str) -> list[str]:
    items: list[str] = []
    for line in body.splitlines():
        if m := _BULLET.match(line):
            items.append(m.group(1).strip())
        elif line.strip() and items and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()  # a wrapped bullet
    if not items and body.strip():
        items = [p.strip() for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    return [i for i in items if i.lower().strip(". ") not in ("none", "n/a", "")]


def parse_synthesis(text: str) -> Synthesis:
    """Split ``text`` at its headings. Text before any known heading, or all of it when there is none,
    counts as the plan."""
    parts: dict[str, list[str]] = {}
    current = "plan"
    for line in text.splitlines():
        m = _HEADING.match(line)
        key = _section_of(m.group(1)) if m else None
        if key:
            current = key
            continue
        parts.setdefault(current, []).append(line)
    body = {k: "\n".join(v).strip() for k, v in parts.items()}
    return Synthesis(
        text=text,
        plan=body.get("plan", "") or text.strip(),
        consensus=_bullets(body.get("consensus", "")),
        divergence=_bullets(body.get("divergence", "")),
        resolution=body.get("resolution", ""),
        unique_insights=_bullets(body.get("insights", "")),
    )


# ------------------------------------------------------------------------------------------- the JSON form

HEADINGS = {
    "plan": "Plan",
    "consensus": "Consensus",
    "divergence": "Divergent approaches",
    "resolution": "Resolution rationale",
    "insights": "Unique insights",
}
"""Section -> the heading the Markdown judge writes (``prompts.JUDGE_SECTIONS``)."""
JSON_KEYS = {heading.lower().replace(" ", "_"): section for section, heading in HEADINGS.items()}
"""The properties of the judge's JSON answer (``divergent_approaches``…) -> their section."""

STRING_LIMIT = 1000
"""The largest ``maxLength`` the schema sets. llama-cpp-python turns ``maxLength`` into one nested grammar group
per character, and llama.cpp refuses a string nested deeper than about a thousand (a refusal that takes the
process down), so longer bounds are lowered to this."""


def judge_schema(
    plan_chars: int | None = None, item_chars: int = 300, items: int = 6, rationale_chars: int = 800
) -> dict[str, Any]:
    """The JSON schema of the judge's sections: ``plan`` and ``resolution_rationale`` are Markdown text,
    ``consensus``, ``divergent_approaches`` and ``unique_insights`` lists of short points.

    Args:
        plan_chars: the plan's length bound; None leaves it to the call's token cap, as for a Markdown judge.
        item_chars: the length bound of each point in a list.
        items: the most points in each list.
        rationale_chars: the resolution rationale's length bound.

    Every bound is at most ``STRING_LIMIT`` characters (see there)."""

    def text(chars: int | None, least: int = 0) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if least:
            schema["minLength"] = least
        if chars is not None:
            schema["maxLength"] = max(least, min(chars, STRING_LIMIT))
        return schema

    points = {"type": "array", "items": text(item_chars), "maxItems": max(0, items)}
    by_section = {"plan": text(plan_chars, least=1), "consensus": points, "divergence": points,
                  "resolution": text(rationale_chars), "insights": points}
    properties = {key: by_section[section] for key, section in JSON_KEYS.items()}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class JsonToMarkdown:
    """Turns the judge's JSON answer, as it streams, into the Markdown a Markdown judge writes.

    ``feed`` takes the next piece of the answer and returns the Markdown for it; ``finish`` returns what the end
    of the answer adds (the end of a string it cut off). Concatenated, the output does not depend on how the
    answer was split into pieces: the answer is read one character at a time, and whitespace at the edges of a
    string (which the output drops) is held until what follows shows whether it is inside.

    Each known property becomes its section's heading (``## Consensus``), in whatever order they come; a string
    value is its text, and each string inside an array (or deeper) is a bullet point. Unknown properties,
    numbers and nested keys are skipped, JSON escapes are decoded (also when split across pieces), and an
    answer cut off anywhere gives the sections written so far.

    >>> md = JsonToMarkdown()
    >>> md.feed('{"plan": "1. Add it.\\n2. Test it.", "consensus": ["Both')
    '## Plan\\n\\n1. Add it.\\n2. Test it.\\n\\n## Consensus\\n\\n- Both'
    >>> md.feed(' use argparse."]}') + md.finish()
    ' use argparse.\\n'
    """

    def __init__(self) -> None:
        self._out: list[str] = []
        self._stack: list[str] = []  # the open containers, "{" or "["
        self._expect_key = False  # in the innermost object, the next string is a key
        self._section: str | None = None  # the heading the current top-level property writes under
        self._in_string = False
        self._is_key = False
        self._key: list[str] = []
        self._prefix: str | None = None  # None: this string is not written; else what precedes its text
        self._started = False  # this string's text has begun (its leading whitespace is behind)
        self._space = ""  # whitespace held until the string goes on (or ends, and it is dropped)
        self._escape: str | None = None  # after a backslash: "" or the "u…" read so far
        self._high: str | None = None  # a high surrogate waiting for its low half
        self._finished = False

    @property
    def text(self) -> str:
        """All the Markdown written so far."""
        return "".join(self._out)

    def feed(self, chunk: str) -> str:
        out: list[str] = []
        for ch in chunk:
            if self._in_string:
                self._string_char(ch, out)
            else:
                self._structure(ch, out)
        text = "".join(out)
        self._out.append(text)
        return text

    def finish(self) -> str:
        """The Markdown that the end of the answer adds; "" once called."""
        if self._finished:
            return ""
        self._finished = True
        out: list[str] = []
        if self._in_string and not self._is_key:  # a value cut off ends there; a key cut off is dropped
            self._end_string(out)
        text = "".join(out)
        self._out.append(text)
        return text

    # -- outside strings

    def _structure(self, ch: str, out: list[str]) -> None:
        if ch == '"':
            self._start_string(out)
        elif ch in "{[":
            self._stack.append(ch)
            self._expect_key = ch == "{"
        elif ch in "}]":
            if self._stack:
                self._stack.pop()
            self._expect_key = False
            if not self._stack:
                self._section = None
        elif ch == ",":
            self._expect_key = self._stack[-1:] == ["{"]
        elif ch == ":":
            self._expect_key = False
        # whitespace and the characters of numbers, true, false and null are skipped

    def _start_string(self, out: list[str]) -> None:
        self._in_string, self._started, self._space = True, False, ""
        self._is_key = self._stack[-1:] == ["{"] and self._expect_key
        self._key = []
        if self._is_key or self._section is None:
            self._prefix = None
        else:
            self._prefix = "" if len(self._stack) == 1 else "- "

    def _end_string(self, out: list[str]) -> None:
        if self._high is not None:  # a lone high surrogate
            self._char("\ufffd", out)
            self._high = None
        self._in_string, self._escape = False, None
        if self._is_key:
            self._expect_key = False
            if len(self._stack) == 1:
                self._open_section("".join(self._key), out)
        elif self._prefix is not None and self._started:
            out.append("\n")

    def _open_section(self, key: str, out: list[str]) -> None:
        section = JSON_KEYS.get(key) or _section_of(key.replace("_", " ").replace("-", " "))
        heading = HEADINGS.get(section or "")
        self._section = heading
        if heading is not None:
            out.append(("\n" if any(self._out) or any(out) else "") + f"## {heading}\n\n")

    # -- inside strings

    def _string_char(self, ch: str, out: list[str]) -> None:
        if self._escape is None:
            if ch == "\\":
                self._escape = ""
            elif ch == '"':
                self._end_string(out)
            else:
                self._decoded(ch, out)
            return
        if self._escape == "":
            if ch == "u":
                self._escape = "u"
                return
            self._escape = None
            self._decoded(_ESCAPES.get(ch, ch), out)
            return
        if ch not in "0123456789abcdefABCDEF":  # a broken \\u escape: keep what it said
            kept, self._escape = "\\" + self._escape, None
            for c in kept:
                self._decoded(c, out)
            self._string_char(ch, out)
            return
        self._escape += ch
        if len(self._escape) == 5:
            code, self._escape = int(self._escape[1:], 16), None
            self._decoded(chr(code), out)

    def _decoded(self, c: str, out: list[str]) -> None:
        """One decoded character of the string's text; surrogate pairs (``\\ud83d\\ude00``) are joined."""
        if "\ud800" <= c <= "\udbff":
            if self._high is not None:
                self._char("\ufffd", out)
            self._high = c
            return
        if self._high is not None:
            high, self._high = self._high, None
            if "\udc00" <= c <= "\udfff":
                c = chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(c) - 0xDC00))
            else:
                self._char("\ufffd", out)
        elif "\udc00" <= c <= "\udfff":
            c = "\ufffd"
        self._char(c, out)

    def _char(self, c: str, out: list[str]) -> None:
        if self._is_key:
            self._key.append(c)
            return
        if self._prefix is None or c == "\r":
            return
        if c in " \t\n":
            if self._started:
                self._space += c
            return
        if not self._started:
            out.append(self._prefix)
            self._started = True
        elif self._space:
            # a bullet's later lines are indented, so they stay in its item
            out.append(self._space.replace("\n", "\n  ") if self._prefix else self._space)
            self._space = ""
        out.append(c)
