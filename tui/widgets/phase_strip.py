"""A workflow's phases in a row, each with its state: waiting, running, done, failed, stopped or skipped (a parallel
phase lists the phases it runs at once)."""

from __future__ import annotations

from typing import Any

from textual.containers import Horizontal
from textual.widgets import Static

MARKS = {"waiting": "·", "running": "▶", "done": "✓", "failed": "✗", "stopped": "■", "skipped": "–"}
STATES = tuple(MARKS)


class PhaseChip(Static):
    """One phase: its number, name, type and state mark."""

    def __init__(self, n: int, phase: Any) -> None:
        super().__init__("", markup=False, classes="phase-chip -waiting")
        self.n, self.phase, self.state = n, phase, "waiting"
        self.set_state("waiting")

    def set_state(self, state: str) -> None:
        for s in STATES:
            self.set_class(s == state, f"-{s}")
        self.state = state
        subs = f" ({', '.join(p.name for p in self.phase.phases)})" if self.phase.type == "parallel" else ""
        self.update(f"{MARKS.get(state, '?')} {self.n} {self.phase.name}{subs} · {self.phase.type}")


class PhaseStrip(Horizontal):
    """Every phase of the workflow, in order."""

    DEFAULT_CSS = """
    PhaseStrip { height: auto; padding: 0 1; }
    PhaseChip { width: auto; height: 1; margin-right: 2; color: $text-muted; }
    PhaseChip.-running { color: $accent; text-style: bold; }
    PhaseChip.-done { color: $success; }
    PhaseChip.-failed { color: $error; text-style: bold; }
    PhaseChip.-stopped { color: $warning; text-style: bold; }
    """

    def __init__(self, phases: list[Any], **kw: Any) -> None:
        super().__init__(**kw)
        self.chips = {p.name: PhaseChip(n, p) for n, p in enumerate(phases, start=1)}

    def compose(self):  # type: ignore[no-untyped-def]
        yield from self.chips.values()

    def set_state(self, name: str, state: str) -> None:
        if (chip := self.chips.get(name)) is not None:
            chip.set_state(state)

    def state(self, name: str) -> str | None:
        chip = self.chips.get(name)
        return chip.state if chip is not None else None
