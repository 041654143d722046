"""The reviewer: a model reads the diff of a run against its plan and gives a verdict with findings.

The reviewer is asked for a ``VERDICT:`` line and one finding per line; the parser also reads the usual ways
models stray from that (other ``file:line`` spellings, Markdown, JSON). A reply without a verdict counts as a
concern, never as a pass. The verdict's JSON schema goes with the request: a local engine decodes under it
(and is asked for that JSON), so its verdict is always one of the three.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from moot.core.calls import CallContext, EventSink, run_call
from moot.core.config.models import ModelConfig
from moot.core.providers.base import Params
from moot.core.structured import IncompleteJson, complete_json, decodes_schema
from moot.core.tokens import count_tokens

from . import prompts
from .tasks import TaskListError, find_json

Verdict = Literal["PASS", "CONCERN", "BLOCK"]
VERDICTS: tuple[Verdict, ...] = ("PASS", "CONCERN", "BLOCK")
NO_VERDICT = "the reviewer gave no verdict"


class ReviewError(Exception):
    """The reviewer's call failed."""


@dataclass
class Finding:
    """One thing the reviewer points at; ``file`` and ``line`` when it named them."""

    file: str | None
    line: int | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "text": self.text}


@dataclass
class Review:
    """The reviewer's verdict on a diff."""

    verdict: Verdict
    findings: list[Finding]
    summary: str
    model: str
    """The reviewer's alias."""
    raw: str
    """The reply as the model gave it."""
    omitted_files: list[str] = field(default_factory=list)
    """Files of the diff left out to fit the review budget."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "verdict": self.verdict,
            "findings": [f.to_dict() for f in self.findings],
            "summary": self.summary,
        }


#: The verdict as JSON, bounded so that a small model's answer ends well within the token cap.
REVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"enum": list(VERDICTS)},
        "summary": {"type": "string", "maxLength": 400},
        "findings": {
            "type": "array",
            "maxItems": 8,
            "items": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "maxLength": 200},
                    "line": {"type": "integer"},
                    "text": {"type": "string", "maxLength": 300},
                },
                "required": ["file", "text"],
            },
        },
    },
    "required": ["verdict", "summary", "findings"],
}

# ---------------------------------------------------------------------------------------------- parsing

_VERDICT_LINE = re.compile(
    r"^[\s>#*_`'\"{-]*verdict[\s*_`'\"]*[:=\-–—]?[\s*_`'\"]*(PASS(?:ED)?|CONCERNS?|BLOCK(?:ED|ER|ING)?)\b", re.I
)
_SUMMARY_LINE = re.compile(r"^[\s>#*_`-]*summary[\s*_`]*:[\s*_`]*(.*)$", re.I)
_HEADING_ONLY = re.compile(r"^[\s>#*_`]*(findings|issues|problems|comments|notes)[\s*_`]*:?[\s*_`]*$", re.I)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+(.*)$")
_NOTHING = re.compile(r"^(none|n/?a|nothing( to report)?|no (findings|issues|problems|concerns))\.?$", re.I)

_PATH = r"(?P<file>[\w./\\~+@-]*[\w~+@-]\.[A-Za-z][A-Za-z0-9]{0,9}|[\w.~+@-]*/[\w./~+@-]+)"
_SEP = r"\s*(?::|-(?!\d)|–|—|,)?\s*"
_FINDING_FORMS = (
    # path/to/file.py:42: text   path:42:7 - text   path:42-50 text
    re.compile(r"^`?" + _PATH + r"`?:(?P<line>\d+)(?:[:-]\d+)?`?" + _SEP + r"(?P<text>.*)$"),
    # path (line 42): text   path, line 42 - text   path (lines 42-50) text   path at line 42
    re.compile(
        r"^`?" + _PATH + r"`?\s*(?:\(|,|at|on)?\s*lines?\s+(?P<line>\d+)(?:\s*[-–]\s*\d+)?\)?" + _SEP
        + r"(?P<text>.*)$",
        re.I,
    ),
    # path: text   `path` - text   (a file without a line)
    re.compile(r"^`?" + _PATH + r"`?(?:\s*:|\s+[-–—])\s*(?P<text>.*)$"),
)
# any other file-like token followed by :line (Makefile:12: text)
_NAME_LINE = re.compile(r"^`?(?P<file>[\w.~+@/-]+)`?:(?P<line>\d+)(?:[:-]\d+)?`?" + _SEP + r"(?P<text>.*)$")


def _plain(text: str) -> str:
    """``text`` without Markdown emphasis around it."""
    return re.sub(r"\*\*|__", "", text).strip()


def parse_finding(text: str) -> Finding | None:
    """One finding from a line (without its bullet); None for "none" and blank lines."""
    text = _plain(text)
    if not text or _NOTHING.match(text):
        return None
    for form in (*_FINDING_FORMS, _NAME_LINE):
        if m := form.match(text):
            groups = m.groupdict()
            body = groups["text"].strip() or text
            line = int(groups["line"]) if groups.get("line") else None
            return Finding(groups["file"].replace("\\", "/").strip("`"), line, body)
    return Finding(None, None, text)


def _verdict_of(word: str) -> Verdict:
    w = word.upper()
    return "PASS" if w.startswith("PASS") else "BLOCK" if w.startswith("BLOCK") else "CONCERN"


def _from_json(data: dict[str, Any], text: str, model: str) -> Review:
    word = str(data.get("verdict", "")).strip()
    summary = str(data.get("summary") or "").strip()
    findings: list[Finding] = []
    for item in data.get("findings") or []:
        if isinstance(item, dict):
            line = item.get("line")
            try:
                line = int(line) if line is not None and str(line).strip() else None
            except ValueError:
                line = None
            body = str(item.get("text") or item.get("message") or item.get("issue") or "").strip()
            file = item.get("file") or item.get("path")
            if body or file:
                findings.append(Finding(str(file) if file else None, line, body))
        elif isinstance(item, str) and (f := parse_finding(item)):
            findings.append(f)
    if re.fullmatch(r"(?i)pass(ed)?|concerns?|block(ed|er|ing)?", word):
        verdict = _verdict_of(word)
    else:
        verdict = "CONCERN"
        summary = f"{NO_VERDICT}{f' (it said {word!r})' if word else ''}" + (f"; {summary}" if summary else "")
    return Review(verdict, findings, summary, model, text)


def parse_review(text: str, model: str = "") -> Review:
    """The verdict, findings and summary in a reviewer's reply; CONCERN when it gave no verdict."""
    if "verdict" in text.lower() and "{" in text:
        try:
            data = find_json(text, want=("verdict",))
        except TaskListError:
            data = None
        if isinstance(data, dict) and "verdict" in data:
            return _from_json(data, text, model)
    verdict: Verdict | None = None
    summary: list[str] = []
    findings: list[Finding] = []
    in_fence = False
    last_was_finding = False
    for raw_line in text.splitlines():
        line = raw_line.rstrip()
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence or not line.strip():
            last_was_finding = False
            continue
        if m := _VERDICT_LINE.match(line):
            verdict = verdict or _verdict_of(m.group(1))
            rest = line[m.end():].lstrip(" .,;:-–—*_`'\"").rstrip(" *_`'\",}")
            if rest:
                summary.append(rest)
            last_was_finding = False
            continue
        if m := _SUMMARY_LINE.match(line):
            if m.group(1).strip():
                summary.insert(0, _plain(m.group(1)))
            last_was_finding = False
            continue
        if _HEADING_ONLY.match(line):
            last_was_finding = False
            continue
        bullet = _BULLET.match(line)
        if bullet:
            found = parse_finding(bullet.group(1))
            if found is not None:
                findings.append(found)
            last_was_finding = found is not None
            continue
        if last_was_finding and raw_line[:1] in (" ", "\t"):
            findings[-1].text += " " + _plain(line)  # a wrapped finding
            continue
        found = parse_finding(line)
        if found is not None and found.file is not None and found.line is not None:
            findings.append(found)  # a finding written without a bullet
            last_was_finding = True
            continue
        last_was_finding = False
        if not line.lstrip().startswith("#"):
            summary.append(_plain(line))
    text_summary = " ".join(s for s in summary if s)[:1000]
    if verdict is None:
        return Review("CONCERN", findings, NO_VERDICT + (f"; {text_summary}" if text_summary else ""), model, text)
    return Review(verdict, findings, text_summary, model, text)


# ---------------------------------------------------------------------------------------------- the call

_FILE_START = re.compile(r"^diff --git ", re.M)
_PLUS_FILE = re.compile(r"^\+\+\+ (?:b/)?(.+?)\s*$", re.M)
_MINUS_FILE = re.compile(r"^--- (?:a/)?(.+?)\s*$", re.M)
_GIT_NAMES = re.compile(r"^diff --git a/(.+?) b/(.+?)\s*$", re.M)


def split_diff(diff: str) -> list[tuple[str, str]]:
    """``diff`` as ``(path, section)`` pairs, one per file; one unnamed section when it has no file headers."""
    starts = [m.start() for m in _FILE_START.finditer(diff)]
    if not starts:
        starts = [m.start() for m in re.finditer(r"^--- ", diff, re.M)]
    if not starts:
        return [("", diff)] if diff.strip() else []
    sections = []
    if diff[: starts[0]].strip():
        sections.append(("", diff[: starts[0]]))
    for i, start in enumerate(starts):
        body = diff[start : starts[i + 1] if i + 1 < len(starts) else len(diff)]
        sections.append((_path_of(body), body))
    return sections


def _path_of(section: str) -> str:
    plus = _PLUS_FILE.search(section)
    if plus and plus.group(1) != "/dev/null":
        return plus.group(1)
    minus = _MINUS_FILE.search(section)
    if minus and minus.group(1) != "/dev/null":
        return minus.group(1)
    git = _GIT_NAMES.search(section)
    return git.group(2) if git else ""


def fit_diff(diff: str, max_tokens: int, model: str = "") -> tuple[str, list[str], str]:
    """Cut ``diff`` by files to fit ``max_tokens``: files are kept in order while they fit, the rest are left
    out. When not even the first file fits, its beginning is kept.

    Returns:
        The diff to show, the paths left out, and a note for the reviewer saying what was left out.
    """
    if count_tokens(diff, model) <= max_tokens:
        return diff, [], ""
    kept: list[str] = []
    left_out: list[tuple[str, int]] = []
    used = 0
    for path, section in split_diff(diff):
        n = count_tokens(section, model)
        if used + n <= max_tokens:
            kept.append(section)
            used += n
        else:
            left_out.append((path or "(preamble)", n))
    if not kept and left_out:  # one huge file: keep as many of its first lines as fit
        first = split_diff(diff)[0][1]
        lines, used = [], 0
        for line in first.splitlines(keepends=True):
            n = count_tokens(line, model)
            if used + n > max_tokens:
                break
            lines.append(line)
            used += n
        kept = ["".join(lines)]
        name, n = left_out[0]
        left_out[0] = (f"{name} (cut after {len(lines)} lines)", n)
    omitted = [name for name, _ in left_out]
    listing = ", ".join(f"{name} ({n} tokens)" for name, n in left_out)
    note = (
        f"Note: the diff was too long for the review budget of {max_tokens} tokens; left out: {listing}. "
        "Review what is shown and say in your summary that these parts were not reviewed."
    )
    return "".join(kept), omitted, note


async def review_diff(
    diff: str,
    plan: str,
    model: ModelConfig,
    *,
    ctx: CallContext | None = None,
    on_event: EventSink | None = None,
    max_diff_tokens: int = 12000,
    effort: str | None = None,
) -> Review:
    """Ask ``model`` for a verdict on ``diff`` as a way of carrying out ``plan``.

    Raises:
        ReviewError: the call failed.
    """
    shown, omitted, note = fit_diff(diff, max_diff_tokens, model.model)
    structured = decodes_schema(model)
    messages = prompts.review_messages(plan, shown, note, json_form=structured)
    call_ctx = dataclasses.replace(ctx or CallContext(), phase="review")
    result = await run_call(model, messages, Params(schema=REVIEW_SCHEMA, effort=effort), ctx=call_ctx,
                            on_event=on_event)
    if not result.ok:
        error = result.error
        assert error is not None
        raise ReviewError(f"the review by {model.name} failed: {error.kind}: {error.message}")
    review = parse_review(result.text, model.name)
    if structured:  # decoded under the schema: JSON, perhaps cut short by the token cap
        try:
            data = complete_json(result.text)
        except IncompleteJson:
            data = None
        if isinstance(data, dict) and data.get("verdict") in VERDICTS:
            review = _from_json(data, result.text, model.name)
    review.omitted_files = omitted
    if model.is_local and call_ctx.store is not None:  # a local reviewer's reply is an outcome: a verdict, or none
        from moot.core.perf.shapes import USUAL, Outcome, bucket_of, record_outcome
        from moot.core.perf.store import host_of

        named = any(v in result.text for v in VERDICTS)
        record_outcome(call_ctx.store, Outcome(model.model, host_of(model), "review", USUAL.key,
                                               bucket_of(1, len(diff) // 4), run_id=call_ctx.run_id, parsed=named,
                                               output_tokens=result.usage.completion_tokens))
    return review
