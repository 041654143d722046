"""What each model of a discussion is sent. The instructions are Markdown files beside this module
(``prompts/*.md``); the transcript is rendered here, every message labelled with its speaker."""

from __future__ import annotations

from functools import cache
from importlib import resources

from moot.core.providers.base import Message

from .model import USER, Discussion, Kind, Round


@cache
def template(name: str) -> str:
    return resources.files(__package__).joinpath("prompts", f"{name}.md").read_text(encoding="utf-8").strip()


def _names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names) or "nobody else"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def render_round(r: Round, *, upto: int | None = None) -> str:
    """A round as the participants read it: its number and kind, then each message heard, by speaker.
    ``upto``: only the first ``upto`` messages (the speakers before the current one, in a sequential round)."""
    asked = [m.speaker for m in r.messages if m.speaker != USER]
    title = {Kind.OPEN: f"Round {r.n}: first answers",
             Kind.ROUND: f"Round {r.n}",
             Kind.MENTION: f"Round {r.n}: the user asked {_names(asked)}",
             Kind.CONCLUSION: f"Round {r.n}: conclusion"}[r.kind]
    lines = [f"## {title}"]
    shown = r.messages if upto is None else r.messages[:upto]
    for m in shown:
        if m.speaker == USER:
            lines.append(f"[{USER}, to {_names(asked)}]: {m.text.strip()}")
        elif m.heard:
            lines.append(f"[{m.speaker}]: {m.text.strip()}")
    return "\n\n".join(lines)


def _earlier(d: Discussion, current: Round | None) -> list[str]:
    parts = [f"Question: {d.topic.strip()}"]
    if d.digest:
        parts.append(f"## Digest of rounds 1-{d.digest.upto}\n\n{d.digest.text.strip()}")
    parts += [render_round(r) for r in d.transcript_rounds() if r is not current]
    return parts


def participant_messages(d: Discussion, speaker: str, current: Round, *, words: int) -> list[Message]:
    """What ``speaker`` is sent in ``current``: who they are and who else takes part, the question (with the
    repository context in the discussion's first round), the transcript so far, and their turn."""
    others = [p for p in d.participants if p != speaker]
    variant = speaker.partition(":")[2]
    perspective = f" You speak as {_a(variant.replace('-', ' '))}: bring that view." if variant else ""
    system = template("participant").format(name=speaker, others=_names(others), words=words,
                                            perspective=perspective)
    parts = _earlier(d, current)
    if current.n == 1 and d.context:
        parts.insert(1, f"## Repository context\n\n{d.context.strip()}")
    if current.kind == Kind.MENTION:
        parts.append(render_round(current, upto=1))  # the user's own message comes first
        turn = f"The user wrote to you, {speaker}: answer them."
    else:
        if d.sequential:
            mine = next((i for i, m in enumerate(current.messages) if m.speaker == speaker), 0)
            if any(m.heard for m in current.messages[:mine]):
                parts.append(render_round(current, upto=mine) + "\n\n(this round so far)")
        if current.kind == Kind.OPEN:
            turn = f"Round {current.n}: give your first answer to the question, {speaker}."
        else:
            turn = f"Round {current.n}: your turn, {speaker}. Answer what the others said."
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join([*parts, turn])}]


def conclusion_messages(d: Discussion, *, words: int) -> list[Message]:
    system = template("conclude").format(participants=_names(d.participants), words=words)
    return [{"role": "system", "content": system},
            {"role": "user", "content": "\n\n".join(_earlier(d, None)) + "\n\nWrite the outcome."}]


def digest_messages(rounds: list[Round], previous: str | None, *, words: int) -> list[Message]:
    parts = [f"## Digest of the rounds before\n\n{previous.strip()}"] if previous else []
    parts += [render_round(r) for r in rounds]
    return [{"role": "system", "content": template("digest").format(words=words)},
            {"role": "user", "content": "\n\n".join(parts)}]
