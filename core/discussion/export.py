"""A discussion as a document: JSON (``moot discuss --json``, ``moot show --json``) and Markdown (the transcript
``moot discuss`` and ``moot show`` print)."""

from __future__ import annotations

from typing import Any

from .model import USER, Discussion, Kind, Round, Said

TITLES = {Kind.OPEN: "first answers", Kind.ROUND: "discussion", Kind.MENTION: "asked by name",
          Kind.CONCLUSION: "conclusion"}


def said_json(m: Said) -> dict[str, Any]:
    return {"speaker": m.speaker, "model": m.model, "text": m.text, "status": str(m.status), "error": m.error,
            "usage": {"prompt_tokens": m.prompt_tokens, "completion_tokens": m.completion_tokens},
            "cost_usd": m.cost_usd, "latency_s": m.latency_s}


def to_json(d: Discussion) -> dict[str, Any]:
    return {
        "discussion_id": d.id,
        "topic": d.topic,
        "models": list(d.participants),
        "sequential": d.sequential,
        "rounds": [{"n": r.n, "kind": str(r.kind), "messages": [said_json(m) for m in r.messages]}
                   for r in d.rounds if r.kind != Kind.CONCLUSION],
        "digest": ({"upto": d.digest.upto, "text": d.digest.text, "source_tokens": d.digest.source_tokens,
                    "tokens": d.digest.tokens, "model": d.digest.model} if d.digest else None),
        "conclusion": said_json(d.conclusion) if d.conclusion else None,
    }


def figures(m: Said) -> str:
    """'done · 120 tok · 31 tok/s · 3.9 s · $0.0012' (what is known of it)."""
    parts = [str(m.status)]
    if m.completion_tokens:
        parts.append(f"{m.completion_tokens} tok")
    if m.tokens_per_s:
        parts.append(f"{m.tokens_per_s:.0f} tok/s")
    if m.latency_s is not None:
        parts.append(f"{m.latency_s:.1f} s")
    if m.cost_usd:
        parts.append(f"${m.cost_usd:.4f}")
    return " · ".join(parts)


def round_markdown(r: Round) -> str:
    out = [f"## Round {r.n} · {TITLES[r.kind]}"]
    for m in r.messages:
        if m.speaker == USER:
            out.append(f"**{USER}:** {m.text.strip()}")
            continue
        out.append(f"### {m.speaker} ({m.model}) · {figures(m)}")
        if m.text.strip():
            out.append(m.text.strip())
        if m.error:
            out.append(f"*{m.status}: {m.error}*")
        elif m.status != "done" and not m.text.strip():
            out.append(f"*{m.status}*")
    return "\n\n".join(out)


def to_markdown(d: Discussion) -> str:
    out = [f"# Discussion {d.id}", f"**Question:** {d.topic.strip()}",
           f"Participants: {', '.join(d.participants)}" + (" (sequential)" if d.sequential else "")]
    if d.digest:
        out.append(f"*Rounds 1-{d.digest.upto} are handed over as a digest by {d.digest.model} "
                   f"({d.digest.tokens} tokens for {d.digest.source_tokens}).*")
    out += [round_markdown(r) for r in d.rounds]
    return "\n\n".join(out) + "\n"
