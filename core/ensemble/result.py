"""What a planning run produces, and its two renderings: the JSON document and the Markdown plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..calls import CallResult
from ..words import plural
from .judge import Synthesis
from .ranking import Ranking
from .shape import Shape
from .strategies import Proposer

STOPPED = "stopped before it finished"
"""What a cancelled call says of itself."""


@dataclass
class Proposal:
    """One proposer's slot in a run."""

    index: int
    proposer: Proposer
    label: str = ""
    status: str = "waiting"
    """waiting, running, done, failed or cancelled."""
    result: CallResult | None = None

    @property
    def text(self) -> str:
        return self.result.text if self.result else ""

    @property
    def error(self) -> str | None:
        if self.result is None:
            return None
        if self.result.cancelled or (self.result.error and self.result.error.kind == "cancelled"):
            return STOPPED
        if self.result.error:
            return f"{self.result.error.kind}: {self.result.error.message}"
        return None

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "label": self.label,
            "model": self.proposer.model.name,
            "variant": self.proposer.variant,
            "status": self.status,
            "text": self.text,
            "error": self.error,
            "usage": {
                "prompt_tokens": r.usage.prompt_tokens if r else 0,
                "completion_tokens": r.usage.completion_tokens if r else 0,
            },
            "cost_usd": round(r.cost_usd, 6) if r else 0.0,
            "latency_s": round(r.latency_s, 3) if r else 0.0,
            "ttft_s": round(r.ttft_s, 3) if r and r.ttft_s is not None else None,
            "perf": r.perf.summary() if r and r.perf else None,
            "call_id": r.call_id if r else None,
        }


@dataclass
class PlanResult:
    """A finished planning run."""

    run_id: str
    task: str
    strategy: str
    proposals: list[Proposal]
    ranking: Ranking | None = None
    judge: CallResult | None = None
    synthesis: Synthesis | None = None
    plan: str = ""
    """The plan to act on: the synthesis, or the only surviving proposal."""
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    shape: Shape | None = None
    """How the run was cut to fit the embedded engine, when it was."""

    @property
    def ok(self) -> bool:
        return any(p.status == "done" for p in self.proposals)

    def _calls(self) -> list[CallResult]:
        calls = [p.result for p in self.proposals if p.result]
        return calls + ([self.judge] if self.judge else [])

    def totals(self) -> dict[str, Any]:
        calls = self._calls()
        return {
            "cost_usd": round(sum(c.cost_usd for c in calls), 6),
            "prompt_tokens": sum(c.usage.prompt_tokens for c in calls),
            "completion_tokens": sum(c.usage.completion_tokens for c in calls),
            "wall_s": round(self.wall_s, 3),
        }

    def to_json(self) -> dict[str, Any]:
        judge = None
        if self.judge is not None:
            s = self.synthesis
            judge = {
                "model": self.judge.model.name,
                "text": s.text if s else self.judge.text,  # Markdown (a local judge's call logs its JSON)
                "error": f"{self.judge.error.kind}: {self.judge.error.message}" if self.judge.error else None,
                "consensus": s.consensus if s else [],
                "divergence": s.divergence if s else [],
                "resolution": s.resolution if s else "",
                "unique_insights": s.unique_insights if s else [],
            }
        return {
            "run_id": self.run_id,
            "task": self.task,
            "strategy": self.strategy,
            "proposals": [p.to_json() for p in self.proposals],
            "ranking": self.ranking.to_json() if self.ranking else None,
            "judge": judge,
            "plan": self.plan,
            "notes": self.notes,
            "shape": self.shape.to_json() if self.shape else None,
            "totals": self.totals(),
        }

    def to_markdown(self) -> str:
        return markdown_from_json(self.to_json())


def markdown_from_json(doc: dict[str, Any]) -> str:
    """The plan as Markdown, from a run's JSON document (fresh, or read back from the database)."""
    task = str(doc.get("task", "")).strip()
    out = [f"# Plan: {task.splitlines()[0] if task else 'untitled'}", ""]
    for note in doc.get("notes") or []:
        out += [f"> {note}", ""]
    out += [str(doc.get("plan", "")).strip(), ""]
    judge = doc.get("judge")
    if judge:
        for title, key in (("Consensus", "consensus"), ("Divergent approaches", "divergence")):
            if judge.get(key):
                out += [f"## {title}", *[f"- {i}" for i in judge[key]], ""]
        if judge.get("resolution"):
            out += ["## Resolution rationale", judge["resolution"], ""]
        if judge.get("unique_insights"):
            out += ["## Unique insights", *[f"- {i}" for i in judge["unique_insights"]], ""]
    if doc.get("proposals"):
        out.append("## Models consulted")  # an execution run's document has none
    for p in sorted(doc.get("proposals") or [], key=lambda p: p.get("label", "")):
        plan = f"Plan {p['label']}: " if p.get("label") else ""  # a run cancelled before the letters has none
        line = f"- {plan}{p['model']} ({p['variant']}) — {p['status']}"
        if p["status"] == "done":
            line += (f", {plural(p['usage']['completion_tokens'], 'token')}, {p['latency_s']:.1f} s,"
                     f" ${p['cost_usd']:.4f}")
        elif p.get("error"):
            line += f": {p['error']}"
        out.append(line)
    if judge:
        out.append(f"- Judge: {judge['model']} — {'failed: ' + judge['error'] if judge.get('error') else 'done'}")
    ranking = doc.get("ranking")
    if ranking:
        order = ", ".join(f"{lbl} ({ranking['scores'][lbl]})" for lbl in ranking["order"])
        out += ["", "## Peer ranking (Borda)", order]
    return "\n".join(out).rstrip() + "\n"
