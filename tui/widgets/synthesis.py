"""The judge's synthesis: streams in while the judge writes, then shows its sections and the peer ranking."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.containers import VerticalScroll
from textual.reactive import reactive

if TYPE_CHECKING:
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownStream

    from moot.core.ensemble import PlanResult


def synthesis_from_json(doc: dict[str, Any]) -> str:
    """The synthesis of a stored run as Markdown: notes, the plan, its sections and the Borda table.

    ``doc`` is the JSON document of ``PlanResult.to_json()``, fresh or read back from the database, so a live
    run and a past one are shown alike.
    """
    out: list[str] = [f"> {n}" for n in doc.get("notes") or []]
    out.append(str(doc.get("plan") or "").strip() or "_no plan_")
    judge = doc.get("judge") or {}
    for title, key in (("Consensus", "consensus"), ("Divergent approaches", "divergence"),
                       ("Unique insights", "unique_insights")):
        if judge.get(key):
            out += [f"### {title}", *[f"- {i}" for i in judge[key]]]
    if judge.get("resolution"):
        out += ["### Resolution rationale", str(judge["resolution"])]
    if judge.get("error"):
        out += [f"> The judge ({judge.get('model', '?')}) failed: {judge['error']}"]
    ranking = doc.get("ranking")
    if ranking:
        by_label = {p.get("label"): p for p in doc.get("proposals") or []}
        table = ["| plan | model | points |", "|---|---|---|"]
        for label in ranking.get("order") or []:
            p = by_label.get(label)
            who = f"{p['model']} · {p['variant']}" if p else "?"
            table.append(f"| {label} | {who} | {ranking.get('scores', {}).get(label, 0)} |")
        out += ["### Peer ranking (Borda count)", "\n".join(table)]  # one block: a table has no blank lines
    return "\n\n".join(out)


def synthesis_markdown(result: PlanResult) -> str:
    """The finished synthesis of a live run as Markdown."""
    return synthesis_from_json(result.to_json())


TASK_CHARS = 90
"""The longest task shown in full under the synthesis; a longer one is cut with an ellipsis."""


class SynthesisPane(VerticalScroll):
    """Where the judge's answer appears."""

    state: reactive[str] = reactive("idle")

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._stream: MarkdownStream | None = None
        self.tokens = 0
        self.ahead = 0
        self.judge = ""

    def on_mount(self) -> None:
        self.border_title = self._title()

    async def _markdown(self) -> Markdown:
        """The Markdown widget, mounted on first use: its parser and highlighter are slow to import, and the
        workbench should paint its first frame without them."""
        from textual.widgets import Markdown

        found = self.query(Markdown)
        if found:
            return found.first()
        widget = Markdown("", classes="synthesis-markdown")
        await self.mount(widget)
        return widget

    def _title(self) -> str:
        label = {"idle": "waiting for proposals", "waiting": "the judge is reading", "ranking": "peer ranking",
                 "streaming": "the judge is writing", "done": "done", "failed": "judge failed",
                 "queued": f"queued · {self.ahead} ahead"}.get(self.state, self.state)
        who = f" · {self.judge}" if self.judge else ""
        return f"Synthesis{who} · {label}" + (f" · {self.tokens} tok" if self.tokens else "")

    def watch_state(self, state: str) -> None:
        if self.is_mounted:
            self.border_title = self._title()

    def show_task(self, task: str) -> None:
        """The task this synthesis is for, in the lower border: the prompt is cleared once a task is sent."""
        from textual.content import Content

        line = " ".join(task.split())
        if len(line) > TASK_CHARS:
            line = line[: TASK_CHARS - 1] + "…"
        self.border_subtitle = Content(f"task: {line}") if line else ""  # as typed, never read as markup

    def queued(self, ahead: int) -> None:
        """The judge waits for its engine behind ``ahead`` calls; 0: it has started reading."""
        self.ahead = ahead
        self.state = "queued" if ahead else "waiting"
        self.border_title = self._title()

    async def reset(self, judge: str = "", task: str = "") -> None:
        self.tokens, self.judge, self._stream = 0, judge, None
        self.show_task(task)
        if self.query("Markdown"):
            await (await self._markdown()).update("")
        self.state = "idle"

    async def append(self, text: str, tokens: int) -> None:
        if self._stream is None:
            from textual.widgets import Markdown

            self._stream = Markdown.get_stream(await self._markdown())
        self.tokens += tokens
        following = self.scroll_y >= self.max_scroll_y - 1
        await self._stream.write(text)
        if following:
            self.call_after_refresh(self.scroll_end, animate=False)
        self.border_title = self._title()

    async def show_result(self, result: PlanResult) -> None:
        """Replace the streamed text with the parsed sections (and the ranking table)."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if result.judge is not None:
            self.judge = result.judge.model.name
            self.tokens = result.judge.usage.completion_tokens or self.tokens  # the provider's own count
        await (await self._markdown()).update(synthesis_markdown(result))
        self.call_after_refresh(self.scroll_home, animate=False)  # after any queued follow-scroll
        cancelled = any(p.status == "cancelled" for p in result.proposals) and result.synthesis is None
        self.state = "cancelled" if cancelled else "done" if result.plan else "failed"
        self.border_title = self._title()
