"""One past run, read-only: its header figures, the proposals side by side (tabs when the terminal is narrow), and
the judge's synthesis."""

from __future__ import annotations

import json
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.widgets import Footer, Markdown, Static, Tab, Tabs
from textual.worker import get_current_worker

from ..widgets.proposals import ProposalPane
from ..widgets.proposals.area import NARROW
from ..widgets.synthesis import synthesis_from_json
from .base import MootScreen


def run_figures(run: dict[str, Any], doc: dict[str, Any] | None) -> str:
    """The header's second line: strategy, status and, when the run finished, cost, tokens and wall time."""
    parts = [str(run.get("strategy") or "?"), str(run.get("status") or "?")]
    if doc is not None:
        t = doc.get("totals") or {}
        prompt, completion = int(t.get("prompt_tokens") or 0), int(t.get("completion_tokens") or 0)
        parts += [f"${float(t.get('cost_usd') or 0):.4f}",
                  f"{prompt + completion} tok ({prompt} in, {completion} out)",
                  f"{float(t.get('wall_s') or 0):.1f} s"]
    return " · ".join(parts)


class PastProposalPane(ProposalPane):
    """A ``ProposalPane`` for a finished run: only maximising makes sense, so the other keys are disabled
    (and so absent from the footer and the help)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action == "maximise" or action not in ("choose", "cancel", "retry", "compare")


class RunViewScreen(MootScreen[None]):
    """A past run as it finished. Nothing here changes it; ``u`` takes its task back to the prompt."""

    CSS_PATH = "run_view.tcss"
    FAILURE_TITLE = "Could not read the run"
    BINDINGS = [
        Binding("escape", "back", "Back", id="run-view.back", tooltip="Back to the list of runs"),
        Binding("u", "reuse", "Reuse task", id="run-view.reuse", tooltip="Put this run's task in the prompt"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.row: dict[str, Any] | None = None
        """The run's database row, once loaded."""
        self.doc: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="run-task", markup=False)
        yield Static("loading…", id="run-figures", markup=False)
        yield Tabs(id="run-tabs")
        yield Horizontal(id="run-proposals")
        with VerticalScroll(id="run-synthesis"):
            yield Markdown("", id="run-synthesis-markdown")
        yield Static("", id="run-empty", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#run-empty").display = False
        self._layout()
        self.load()

    def on_resize(self, event: Resize) -> None:
        self._layout()

    @property
    def narrow(self) -> bool:
        """Below ``NARROW`` columns the proposals are tabs, one shown at a time (as on the main screen)."""
        return self.size.width < NARROW

    def _layout(self) -> None:
        tabs = self.query_one("#run-tabs", Tabs)
        panes = list(self.query(PastProposalPane))
        tabs.display = self.narrow and bool(panes) and self.query_one("#run-proposals").display
        for pane in panes:
            pane.display = not self.narrow or tabs.active == f"run-tab-{pane.index}"

    @on(Tabs.TabActivated, "#run-tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        event.stop()
        self._layout()

    @work(exclusive=True, group="run-view", exit_on_error=False, thread=True)
    def load(self) -> None:
        """Read the run from the database (blocking sqlite, hence a thread)."""
        run = self.moot.store.run(self.run_id)
        doc = json.loads(run["result_json"]) if run and run.get("result_json") else None
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, run, doc)  # type: ignore[arg-type]  # mypy: async -> None

    async def show(self, run: dict[str, Any] | None, doc: dict[str, Any] | None) -> None:
        """Fill the screen from a run row and its JSON document (None for an interrupted run)."""
        self.row, self.doc = run, doc
        if run is None:
            self.query_one("#run-task", Static).update(f"No run {self.run_id}")
            self.query_one("#run-figures", Static).update("")
            await self._empty("This run is not in the database.")
            return
        self.query_one("#run-task", Static).update(str(run.get("task") or "").strip())
        self.query_one("#run-figures", Static).update(f"{run['id']} · {run_figures(run, doc)}")
        if doc is None:
            await self._empty(f"This run is {run.get('status')}: it has no proposals or synthesis to show.")
            return
        panes = [PastProposalPane(i, str(p.get("model", "?")), str(p.get("variant", "?")),
                                  id=f"run-proposal-{i}")
                 for i, p in enumerate(doc.get("proposals") or [])]
        await self.query_one("#run-proposals", Horizontal).mount_all(panes)
        tabs = self.query_one("#run-tabs", Tabs)
        for pane, p in zip(panes, doc.get("proposals") or [], strict=True):
            await self._fill(pane, p)
            await tabs.add_tab(Tab(f"{pane.index + 1} {p.get('model', '?')}·{p.get('variant', '?')}",
                                   id=f"run-tab-{pane.index}"))
        self._layout()
        judge = (doc.get("judge") or {}).get("model")
        self.query_one("#run-synthesis").border_title = f"Synthesis · {judge}" if judge else "Synthesis"
        await self.query_one("#run-synthesis-markdown", Markdown).update(synthesis_from_json(doc))
        if panes:
            panes[0].focus()

    async def _fill(self, pane: ProposalPane, p: dict[str, Any]) -> None:
        await pane.show_text(str(p.get("text") or ""))
        pane.tokens = int((p.get("usage") or {}).get("completion_tokens") or pane.tokens)
        pane.cost_usd = float(p.get("cost_usd") or 0.0)
        status = str(p.get("status") or "done")
        if status in ("failed", "cancelled"):
            await pane.set_state(status, p.get("error") or status)
        else:
            pane.state = status
            pane.label = str(p.get("label") or "")  # the letter the synthesis speaks of
        pane.refresh_title()

    async def _empty(self, text: str) -> None:
        self.query_one("#run-proposals").display = False
        self.query_one("#run-tabs").display = False
        self.query_one("#run-synthesis").display = False
        empty = self.query_one("#run-empty", Static)
        empty.update(text)
        empty.display = True

    @on(ProposalPane.Action)
    def _pane_action(self, event: ProposalPane.Action) -> None:
        event.stop()
        if event.action == "prompts":
            self.show_prompts(event.index)
            return
        if event.action != "maximise":
            return
        if self.maximized is not None:
            self.minimize()
        else:
            self.maximize(self.query_one(f"#run-proposal-{event.index}", ProposalPane), container=False)

    def show_prompts(self, index: int) -> None:
        """The exact messages proposal ``index`` of this run was sent, from the call log."""
        proposals = (self.doc or {}).get("proposals") or []
        if index >= len(proposals):
            return
        p = proposals[index]
        calls = self.app.store.calls(self.run_id)  # type: ignore[attr-defined]
        found = [c for c in calls if p.get("call_id") is not None and c["id"] == p["call_id"]] or [
            c for c in calls if c["phase"] == "propose" and c["model_alias"] == p.get("model")
            and (c["variant"] or "default") == p.get("variant")]  # a run logged before calls were numbered
        who = f"{p.get('model', '?')} · {p.get('variant', '?')}"
        self.open("prompts", f"What {who} was sent", found[0]["messages"] if found else [])

    def action_back(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            self.dismiss()

    def action_reuse(self) -> None:
        if self.row is None:
            return
        if not self.moot.reuse_task(str(self.row.get("task") or "")):
            self.notify("There is no prompt to put the task in.", severity="warning")
