"""Parsing the judge's synthesis into its sections."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
