"""The queue a planning run's messages wait in on their way to the main screen."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.widget import Widget

from ..messages import JudgeState, JudgeText, ProposalState, ProposalText, RunFinished


class StreamRelay(Widget):
    """Where a run's messages queue, in the order they were sent, on their way to the screen's handlers.

    The screen repaints when its own message queue runs empty; with six streams' text queued there, a typed
    key waited behind them before it was shown. Here they have a queue of their own, and each batch of text
    gives the loop a turn after it, so a key, the screen's update and its frame go between two batches instead
    of after all of them (a message pump handles its whole queue without yielding otherwise). A batch only
    hands its text to its view, which renders it a slice at a time (see ``StreamedMarkdown``). Once the
    workbench is quitting, what a cancelled run still sends is dropped: nothing more is shown."""

    DEFAULT_CSS = "StreamRelay { display: none; }"

    @property
    def main(self) -> Any:
        """The main screen it sits on (which handles the messages)."""
        return self.screen

    @property
    def showing(self) -> bool:
        """False once the workbench is quitting."""
        return not self.app.leaving  # type: ignore[attr-defined]

    async def on_proposal_text(self, message: ProposalText) -> None:
        if self.showing:
            await self.main.on_proposal_text(message)
            await asyncio.sleep(0)

    async def on_proposal_state(self, message: ProposalState) -> None:
        if self.showing:
            await self.main.on_proposal_state(message)

    async def on_judge_text(self, message: JudgeText) -> None:
        if self.showing:
            await self.main.on_judge_text(message)
            await asyncio.sleep(0)

    def on_judge_state(self, message: JudgeState) -> None:
        if self.showing:
            self.main.on_judge_state(message)

    async def on_run_finished(self, message: RunFinished) -> None:
        if self.showing:
            await self.main.on_run_finished(message)
