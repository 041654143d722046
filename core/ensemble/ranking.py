"""Peer ranking: each proposer orders the others' anonymised plans; Borda count aggregates, no self-votes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_RANKING_LINE = re.compile(r"(?im)^\W*ranking\W*:?\s*(.+)$")
_LABEL = re.compile(r"\b(?:plan\s+)?([A-Z])\b")


def parse_ranking(text: str, allowed: Iterable[str]) -> list[str] | None:
    """The order a ranker gave, best first, restricted to ``allowed`` labels.

    Reads a ``RANKING: B > A > C`` line when there is one, else the order in which ``Plan X`` first appears.
    Returns None when the reply names fewer than two of the allowed plans.
    """
    allowed_set = set(allowed)
    m = _RANKING_LINE.search(text)
    source = m.group(1) if m else " ".join(re.findall(r"(?i)\bplan\s+([A-Z])\b", text))
    order: list[str] = []
    for label in _LABEL.findall(source.upper() if m else source):
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
