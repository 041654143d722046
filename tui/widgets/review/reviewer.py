"""The reviewer's verdict on the run beside the diff: PASS, CONCERN or BLOCK, the summary, and the findings,
each of which leads to its file and line."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

VERDICT_CLASSES = {"PASS": "-pass", "CONCERN": "-concern", "BLOCK": "-block"}


class ReviewerPanel(Vertical):
    """Shows one review document (``moot.agents.review.Review.to_dict``, or the engine's failure record)."""

    class FindingChosen(Message):
        """The user picked a finding that names a file."""

        def __init__(self, file: str, line: int | None) -> None:
            super().__init__()
            self.file = file
            self.line = line

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.findings: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="reviewer-verdict", markup=False)
        yield Static("", id="reviewer-summary", markup=False)
        yield OptionList(id="reviewer-findings")

    def show(self, review: dict[str, Any] | None, configured: bool = True) -> None:
        verdict_line = self.query_one("#reviewer-verdict", Static)
        summary = self.query_one("#reviewer-summary", Static)
        options = self.query_one("#reviewer-findings", OptionList)
        options.clear_options()
        verdict_line.remove_class(*VERDICT_CLASSES.values(), "-none")
        self.findings = []
        if review is None:
            self.border_title = "Reviewer"
            verdict_line.update("no review")
            verdict_line.add_class("-none")
            summary.update("No reviewer looked at this run." if configured else
                           "No reviewer is configured ([roles] reviewer).")
            options.display = False
            return
        self.border_title = f"Reviewer · {review.get('model') or '?'}"
        verdict = review.get("verdict")
        if not verdict:
            verdict_line.update("review failed")
            verdict_line.add_class("-none")
            summary.update(str(review.get("error") or "The reviewer gave no verdict."))
            options.display = False
            return
        verdict_line.update(f" {verdict} ")
        verdict_line.add_class(VERDICT_CLASSES.get(str(verdict), "-none"))
        summary.update(str(review.get("summary") or ""))
        summary.display = bool(review.get("summary"))
        self.findings = list(review.get("findings") or [])
        options.display = True
        if not self.findings:
            options.add_option(Option(Content.styled("No findings.", "$foreground-muted"), disabled=True))
            return
        for i, f in enumerate(self.findings):
            where = f"{f.get('file')}:{f.get('line')}" if f.get("file") and f.get("line") else (f.get("file") or "")
            text = str(f.get("text") or "")
            prompt = Content.assemble((where, "bold $text-accent"), "\n", text) if where else Content(text)
            options.add_option(Option(prompt, id=str(i)))
        options.highlighted = 0

    @on(OptionList.OptionSelected, "#reviewer-findings")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is None:
            return
        finding = self.findings[int(event.option.id)]
        if finding.get("file"):
            line = finding.get("line")
            self.post_message(self.FindingChosen(str(finding["file"]), int(line) if line else None))
        else:
            self.notify("This finding names no file.", severity="information")
