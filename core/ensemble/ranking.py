"""Peer ranking: each proposer orders the others' anonymised plans; Borda count aggregates, no self-votes.

A ballot is asked for with its JSON schema (``ranking_schema``): a local engine decodes under it, so even a small
model's ballot names every plan exactly once. ``parse_ranking`` reads that JSON form and the text form
(``RANKING: B > A > C``) alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import permutations
from typing import Any

from ..structured import IncompleteJson, complete_json

_RANKING_LINE = re.compile(r"(?im)^\W*ranking\W*:?\s*(.+)$")
_LABEL = re.compile(r"\b(?:plan\s+)?([A-Z])\b")
_FENCE = re.compile(r"^```[a-z]*\s*|\s*```\s*$")

PERMUTED_UP_TO = 5
"""Ballots over at most this many plans list every ordering as an enum (120 for five): any answer the schema
allows is a whole, valid ranking. Above it, the ranking is an array of labels."""
COMMENT_CHARS = 200


def ranking_schema(labels: Sequence[str], comment_chars: int = COMMENT_CHARS) -> dict[str, Any]:
    """The JSON schema of a ballot over ``labels``: ``{"ranking": "B > A > C", "comments": {"A": "…", …}}``.

    The ranking comes first, so an answer cut short by the token cap still holds it; the comments (one short
    sentence per plan, at most ``comment_chars`` characters) follow."""
    labels = list(labels)
    ranking: dict[str, Any]
    if len(labels) <= PERMUTED_UP_TO:
        ranking = {"type": "string", "enum": [" > ".join(order) for order in permutations(labels)]}
    else:  # too many orderings to list: each place is one of the labels (repeats are dropped when read)
        ranking = {"type": "array", "items": {"type": "string", "enum": labels},
                   "minItems": len(labels), "maxItems": len(labels)}
    comments = {
        "type": "object",
        "properties": {label: {"type": "string", "maxLength": comment_chars} for label in labels},
        "required": labels,
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"ranking": ranking, "comments": comments},
        "required": ["ranking", "comments"],
        "additionalProperties": False,
    }


def _json_ranking(text: str) -> str | None:
    """The ``ranking`` of a JSON ballot (whole or cut short) as text; "" for JSON without one; None when
    ``text`` is not JSON."""
    s = _FENCE.sub("", text.strip())
    if not s.startswith("{"):
        return None
    try:
        doc = complete_json(s)
    except IncompleteJson:
        return None
    if not isinstance(doc, dict):
        return None
    value = doc.get("ranking")
    if isinstance(value, list):
        return " > ".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def parse_ranking(text: str, allowed: Iterable[str]) -> list[str] | None:
    """The order a ranker gave, best first, restricted to ``allowed`` labels.

    Reads the ``ranking`` of a JSON ballot (``ranking_schema``; one cut short counts as far as it goes), else a
    ``RANKING: B > A > C`` line when there is one, else the order in which ``Plan X`` first appears.
    Returns None when the reply names fewer than two of the allowed plans.
    """
    allowed_set = set(allowed)
    source = _json_ranking(text)
    listed = source is not None
    if source is None and (m := _RANKING_LINE.search(text)):
        source, listed = m.group(1), True
    if source is None:
        source = " ".join(re.findall(r"(?i)\bplan\s+([A-Z])\b", text))
    order: list[str] = []
    for label in _LABEL.findall(source.upper() if listed else source):
        if label in allowed_set and label not in order:
            order.append(label)
    if len(order) < min(2, len(allowed_set)):
        return None
    # plans the ranker left out share the last place: append them in label order
    order += sorted(allowed_set - set(order))
    return order


@dataclass
class Ranking:
    """The aggregated peer ranking."""

    ballots: dict[str, list[str]] = field(default_factory=dict)
    """Voter label -> the order it gave (its own plan never included)."""
    scores: dict[str, int] = field(default_factory=dict)
    """Borda points per label."""
    order: list[str] = field(default_factory=list)
    """Labels, best first (ties broken by label)."""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"ballots": self.ballots, "scores": self.scores, "order": self.order, "notes": self.notes}


def borda(ballots: Mapping[str, Sequence[str]], candidates: Sequence[str]) -> Ranking:
    """Borda count: on a ballot of n plans the first gets n-1 points, the last 0. Self-votes are dropped."""
    scores = dict.fromkeys(candidates, 0)
    kept: dict[str, list[str]] = {}
    notes: list[str] = []
    for voter, order in ballots.items():
        clean = [c for c in order if c != voter and c in scores]
        if len(clean) != len(order):
            notes.append(f"ballot of plan {voter}: its own plan or unknown labels were ignored")
        n = len(clean)
        for position, label in enumerate(clean):
            scores[label] += n - 1 - position
        kept[voter] = clean
    order_ = sorted(candidates, key=lambda c: (-scores[c], c))
    return Ranking(ballots=kept, scores=scores, order=order_, notes=notes)
