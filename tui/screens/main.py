"""The main screen: header, proposals side by side, the synthesis, and the task prompt."""

from __future__ import annotations

import asyncio
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Static
from textual.worker import Worker

from moot.core.words import plural, slug

from ..bridge import FLUSH_S, TICKS, Bridge
from ..discussion_commands import is_command
from ..messages import JudgeState, JudgeText, ProposalState, ProposalText, ReuseTask, RunFinished
from ..widgets.prompt import PromptInput
from ..widgets.proposals import ProposalPane, ProposalsArea
from ..widgets.relay import StreamRelay
from ..widgets.synthesis import SynthesisPane
from .base import MootScreen

if TYPE_CHECKING:
    from collections.abc import Iterable

    from moot.core.config import ModelConfig
    from moot.core.ensemble import Ensemble, PlanOptions, PlanResult
    from moot.core.ensemble.result import Proposal

    from ..widgets.perf import PerfPanel

PERF_PREF = "perf_panel"
"""The user pref that remembers whether the perf panel is shown."""


class MainScreen(MootScreen[None]):
    CSS_PATH = "main.tcss"
    BINDINGS = [
        Binding("f2", "strategy", "Strategy", id="run.strategy",
                tooltip="Choose the strategy, models, variants and judge for the next run"),
        Binding("f3", "history", "History", id="screen.history", tooltip="Past runs"),
        Binding("f4", "compare", "Compare", id="proposals.compare", tooltip="Compare two proposals as a diff"),
        Binding("f5", "accept", "Accept", id="plan.accept", tooltip="Take the judge's synthesis as the plan"),
        Binding("f6", "edit", "Edit", id="plan.edit", tooltip="Edit the chosen plan before accepting it"),
        Binding("f7", "export", "Export plan", id="plan.export", show=False,
                tooltip="Write the chosen plan to plans/<slug>.md"),
        Binding("f8", "link", "Link scrolling", id="proposals.link", show=False,
                tooltip="Scroll every proposal together"),
        Binding("f9", "perf", "Perf", id="perf.toggle",
                tooltip="Show or hide how fast the local models run, their hosts and the routing decisions"),
        Binding("f10", "run_plan", "Run", id="plan.run", tooltip="Carry out the chosen plan on a branch"),
        Binding("f11,ctrl+t", "context", "Context", id="context.inspect",
                tooltip="What the proposers would be handed for this task, with token counts; pin or drop files"),
        Binding("escape", "cancel_all", "Cancel", id="run.cancel-all", tooltip="Stop every running model"),
        Binding("ctrl+l", "focus_prompt", "Prompt", show=False, id="prompt.focus", tooltip="Back to the prompt"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ensemble: Ensemble | None = None
        self.result: PlanResult | None = None
        self.chosen: tuple[str, str] | None = None
        """(where from, text) of the plan the user chose or accepted."""
        self.running = False

    def compose(self) -> ComposeResult:
        yield Static(self.moot.header_text(), id="header", markup=False)
        self._perf_shown = bool(self.moot.store.get_pref("user", PERF_PREF, False))
        # The panel reads the config: with no config file, that is built after the first frame, and so is the
        # panel, unless it was left open last time
        self._perf_later = not (self._perf_shown or self.moot.loaded.built)
        with Horizontal(id="workspace"):
            yield ProposalsArea(id="proposals")
            if not self._perf_later:
                yield self.perf_panel
        yield SynthesisPane(id="synthesis")
        yield PromptInput(self.moot.task_history(), placeholder="Describe a task and press Enter", id="prompt")
        yield Footer(compact=True)
        self.relay = StreamRelay()
        yield self.relay

    def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        if not self._perf_later:
            self.perf_panel.shown = self._perf_shown

    @cached_property
    def perf_panel(self) -> PerfPanel:
        """The perf panel (F9); see ``compose`` and ``add_perf_panel`` for when it is put on the screen."""
        from ..widgets.perf import PerfPanel

        return PerfPanel(self.moot.loaded.config, self.moot.store, id="perf")

    @property
    def perf_panel_later(self) -> bool:
        """Whether the hidden perf panel was left out of the first frame, for ``add_perf_panel`` to put in."""
        return self._perf_later

    async def add_perf_panel(self) -> None:
        """Put the hidden perf panel beside the proposals. The app calls this after the first frame, once the
        config the panel reads is built and its modules imported (in the background): that frame needs neither."""
        if self._perf_later:
            self._perf_later = False
            await self.query_one("#workspace", Horizontal).mount(self.perf_panel)

    def refresh_header(self) -> None:
        if not (found := self.query("#header")):  # leaving: the screen's widgets are already gone
            return
        found.first(Static).update(self.moot.header_text(self.chosen[0] if self.chosen else None))

    # ------------------------------------------------------------------------------------------- running

    @on(PromptInput.Submitted)
    def _submit(self, event: PromptInput.Submitted) -> None:
        task = event.value.strip()
        if not task:
            return
        if self.running:
            self.notify("A run is in progress: Esc cancels it.", severity="warning")
            return
        prompt = self.query_one(PromptInput)
        prompt.remember(task)
        prompt.value = ""
        if is_command(task):  # /open, /discuss, @model …: the discussion's commands
            self.open("discussion", task, callback=lambda planned: planned and self.run_task(planned))
        elif workflow := self.moot.plan_prefs().get("workflow"):  # F2 chose a workflow: it takes the task
            self.open("workflow", workflow, task)
        else:
            self.run_task(task)

    @work(exclusive=True, group="ensemble", exit_on_error=False)
    async def run_task(self, task: str) -> None:
        """Plan ``task``: proposers in parallel, then the judge; every event arrives as a message."""
        from moot.core.ensemble import Ensemble, StrategyError
        from moot.core.ensemble.prompts import UnknownVariant

        app = self.moot
        await app.models_ready.wait()
        bridge = Bridge(self.relay.post_message)
        ensemble = Ensemble(app.loaded, app.store, app.usable, on_progress=bridge)
        opts = app.plan_options()
        try:
            result = ensemble.begin(task, opts)
        except (StrategyError, UnknownVariant) as e:
            self.notify(str(e), title="Cannot run", severity="error", timeout=8, markup=False)
            return
        self.ensemble, self.result, self.chosen, self.running = ensemble, result, None, True
        budget = await self._fit(ensemble)
        self.refresh_header()
        area = self.query_one(ProposalsArea)
        await area.set_proposers([p.proposer for p in result.proposals])
        synthesis = self.query_one(SynthesisPane)
        await synthesis.reset(self._judge_name(result), task)
        for pane in area.panes:
            await pane.reset()
        await self._add_context(opts, task, [p.proposer.model for p in result.proposals], budget)
        self._perf_start(range(len(result.proposals)), fresh=True)
        flusher = self.set_interval(FLUSH_S / TICKS, bridge.tick)
        try:
            with app.gc.hold():
                await ensemble.complete(between=bridge.flush)
        except asyncio.CancelledError:
            if not app.leaving:  # quitting: nothing more is shown
                from moot.core.ensemble.result import STOPPED

                for pane in area.panes:
                    if pane.state in ("waiting", "streaming"):
                        await pane.set_state("cancelled", STOPPED)
            raise
        finally:
            flusher.stop()
            bridge.flush()
            self.running = False
            if not app.leaving:
                self.relay.post_message(RunFinished(result))

    async def _fit(self, ensemble: Ensemble) -> int | None:
        """Shape an embedded-only run to its engine (``Ensemble.fit``; the first time, a short probe measures
        the engine) and say so in the header; the context budget it leaves, or None when it is not shaped."""
        from moot.context.planning import context_budget

        models = [p.proposer.model for p in ensemble.proposals]
        shape = await ensemble.fit(context_budget(self.moot.loaded.config.budget_for("proposer"), models))
        self.moot.shaped = shape.brief if shape is not None else None
        if shape is None:
            return None
        if shape.cut:
            self.notify(shape.note, title="Shaped for the embedded engine", timeout=8)
        return shape.context_tokens

    async def _add_context(self, opts: PlanOptions, task: str, models: list[ModelConfig],
                           budget: int | None = None) -> None:
        """The scoped repository context for the proposers (within ``budget`` when given), read in a thread
        (disk and parsing)."""
        from moot.context.choice import ContextChoice
        from moot.context.planning import context_budget, planning_context

        if budget is None:
            budget = context_budget(self.moot.loaded.config.budget_for("proposer"), models)
        found = await asyncio.to_thread(planning_context, self.moot.loaded.project_dir, task, budget,
                                        models[0].model if models else "",
                                        **ContextChoice.read(self.moot.store, self.moot.loaded.project_dir).options())
        if found is not None:
            opts.context = found.text
            self.notify(f"{plural(len(found.items), 'item')}, {found.total_tokens}/{budget} tokens", title="Context")

    def _judge_name(self, result: PlanResult) -> str:
        from moot.core.ensemble import StrategyError
        from moot.core.ensemble.strategies import judge_model

        try:
            return judge_model(self.moot.loaded.config, self.moot.usable, result.strategy,
                               self.moot.plan_options().judge).name
        except StrategyError:
            return ""

    @work(exclusive=True, group="ensemble", exit_on_error=False)
    async def retry(self, index: int) -> None:
        """Run one failed proposer again, then judge again."""
        ensemble, result = self.ensemble, self.result
        if ensemble is None or result is None:
            return
        bridge = Bridge(self.relay.post_message)
        ensemble.on_progress = bridge
        pane = self.query_one(ProposalsArea).pane(index)
        if pane is not None:
            await pane.reset()
        await self.query_one(SynthesisPane).reset(self._judge_name(result), result.task)
        self.running = True
        self._perf_start([index])
        flusher = self.set_interval(FLUSH_S / TICKS, bridge.tick)
        try:
            with self.moot.gc.hold():
                await ensemble.retry(index)
                bridge.flush()
                await ensemble.synthesise()
        finally:
            flusher.stop()
            bridge.flush()
            ensemble.finish()
            self.running = False
            if not self.moot.leaving:  # quitting: nothing more is shown
                self.relay.post_message(RunFinished(result))

    # --------------------------------------------------------------------------------- engine messages

    async def on_proposal_text(self, message: ProposalText) -> None:
        if (pane := self.query_one(ProposalsArea).pane(message.index)) is not None:
            await pane.append(message.text, message.tokens)
            self.perf_panel.advance(message.index, pane.tokens)

    async def on_proposal_state(self, message: ProposalState) -> None:
        pane = self.query_one(ProposalsArea).pane(message.index)
        if pane is None:
            return
        cost = 0.0
        if self.result is not None and message.index < len(self.result.proposals):
            r = self.result.proposals[message.index].result
            cost = r.cost_usd if r else 0.0
        if message.state == "streaming":
            pane.state = "streaming"
        elif message.ahead is not None:
            pane.queued(message.ahead)
        else:
            await pane.set_state(message.state, message.error, cost)
            self.perf_panel.finish(message.index)

    async def on_judge_text(self, message: JudgeText) -> None:
        synthesis = self.query_one(SynthesisPane)
        synthesis.state = "streaming"
        await synthesis.append(message.text, message.tokens)

    def _show_letters(self, proposals: Iterable[Proposal]) -> None:
        """Each finished pane's title takes its plan's letter, the one the synthesis speaks of ("Plan B"); a failed
        proposal's letter is never shown to the judge, so its pane has none."""
        area = self.query_one(ProposalsArea)
        for p in proposals:
            if p.label and p.status == "done" and (pane := area.pane(p.index)) is not None:
                pane.set_label(p.label)

    def on_judge_state(self, message: JudgeState) -> None:
        if self.ensemble is not None:  # the survivors are lettered before the judge is called
            self._show_letters(self.ensemble.proposals)
        synthesis = self.query_one(SynthesisPane)
        if message.ahead is not None:
            synthesis.queued(message.ahead)
        elif message.state not in ("done",):  # "done" is shown when the parsed result arrives
            synthesis.state = message.state

    async def on_run_finished(self, message: RunFinished) -> None:
        area = self.query_one(ProposalsArea)
        self._show_letters(message.result.proposals)
        for p in message.result.proposals:  # final costs and figures
            pane = area.pane(p.index)
            if pane is not None and p.result is not None:
                pane.cost_usd = p.result.cost_usd
                pane.tokens = p.result.usage.completion_tokens or pane.tokens  # the provider's own count
                pane.refresh_title()
        await self.query_one(SynthesisPane).show_result(message.result)
        self.refresh_header()
        self.perf_panel.clear_requests()  # a cancelled run's panes stop without a message each

    def on_reuse_task(self, message: ReuseTask) -> None:
        prompt = self.query_one(PromptInput)
        prompt.value = message.task
        prompt.cursor_position = len(message.task)
        prompt.focus()

    # ------------------------------------------------------------------------------------------ actions

    @on(ProposalPane.Action)
    def _pane_action(self, event: ProposalPane.Action) -> None:
        event.stop()
        i = event.index
        if event.action == "maximise":
            pane = self.query_one(ProposalsArea).pane(i)
            if self.maximized is not None:
                self.minimize()
            elif pane is not None:
                self.maximize(pane, container=False)
        elif event.action == "choose":
            self.choose(i)
        elif event.action == "cancel":
            if self.ensemble is not None and self.running:
                self.ensemble.cancel(i)
        elif event.action == "retry":
            self.action_retry(i)
        elif event.action == "compare":
            self.action_compare(i)
        elif event.action == "prompts":
            self.show_prompts(i)

    def show_prompts(self, index: int) -> None:
        """The exact messages proposal ``index`` was sent (from the call log, as stored)."""
        result = self.result
        p = result.proposals[index] if result is not None else None
        call_id = p.result.call_id if p is not None and p.result is not None else None
        if result is None or p is None or call_id is None:
            self.notify("This model has not been called yet.", severity="warning")
            return
        found = [c for c in self.moot.store.calls(result.run_id) if c["id"] == call_id]
        who = f"{p.proposer.model.name} · {p.proposer.variant}"
        self.open("prompts", f"What {who} was sent", found[0]["messages"] if found else [])

    def choose(self, index: int) -> None:
        if self.result is None:
            return
        p = self.result.proposals[index]
        if p.status != "done":
            self.notify("Only a finished proposal can be the plan.", severity="warning")
            return
        label = f"Plan {p.label}" if p.label else p.proposer.model.name
        self.chosen = (f"{label} ({p.proposer.model.name} · {p.proposer.variant})", p.text)
        self.refresh_header()
        self.notify(f"{self.chosen[0]} is the plan.", title="Plan chosen")

    def action_retry(self, index: int) -> None:
        if self.running:
            self.notify("Wait for the run to finish (or cancel it) before retrying.", severity="warning")
            return
        if self.result is None or self.result.proposals[index].status not in ("failed", "cancelled"):
            self.notify("Only a failed or cancelled model can be retried.", severity="warning")
            return
        self.retry(index)

    def action_cancel_all(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        if self.running:
            self.workers.cancel_group(self, "ensemble")
            self.notify("Cancelled.")

    def _lone_plan(self) -> tuple[str, str] | None:
        """When the run is over and one proposal alone survived, it is the plan (no judge was needed)."""
        result = self.result
        if result is None or self.running or result.synthesis is not None or not result.plan:
            return None
        survivors = [p for p in result.proposals if p.status == "done"]
        if len(survivors) != 1:
            return None
        p = survivors[0]
        return f"Plan {p.label} ({p.proposer.model.name} · {p.proposer.variant})", result.plan

    def _chosen_or_lone(self) -> tuple[str, str] | None:
        """The chosen plan; with none chosen, a lone surviving plan becomes it."""
        if self.chosen is None and (lone := self._lone_plan()) is not None:
            self.chosen = lone
            self.refresh_header()
        return self.chosen

    def action_accept(self) -> None:
        if self.result is not None and self.result.synthesis is None and (lone := self._lone_plan()) is not None:
            self.chosen = lone
            self.refresh_header()
            self.notify(f"{lone[0]} is the plan: it alone survived.", title="Plan accepted")
            return
        if self.result is None or self.result.synthesis is None:
            self.notify("There is no synthesis to accept yet.", severity="warning")
            return
        self.chosen = (f"synthesis ({self.result.judge.model.name})" if self.result.judge else "synthesis",
                       self.result.plan)
        self.refresh_header()
        self.notify("The synthesis is the plan.", title="Plan accepted")

    def action_edit(self) -> None:
        chosen = self._chosen_or_lone()
        if chosen is None:
            self.notify("Choose a proposal (p) or accept the synthesis (F5) first.", severity="warning")
            return
        source = chosen[0]

        def done(text: str | None) -> None:
            if text is not None:
                self.chosen = (f"{source.split(' (edited)')[0]} (edited)", text)
                self.refresh_header()
                self.notify("Plan accepted.", title="Edited")

        self.open("edit-plan", chosen[1], callback=done)

    def action_run_plan(self) -> None:
        chosen = self._chosen_or_lone()
        if chosen is None:
            self.notify("Choose a proposal (p) or accept the synthesis (F5) first, then F10 carries it out.",
                        severity="warning")
            return
        task = self.result.task if self.result is not None else chosen[0]
        plan_run_id = self.result.run_id if self.result is not None else None
        self.open("run", plan=chosen[1], task=task, plan_run_id=plan_run_id)

    def action_export(self) -> None:
        chosen = self._chosen_or_lone()
        if chosen is None or self.result is None:
            self.notify("Choose a proposal (p) or accept the synthesis (F5) first.", severity="warning")
            return
        self.export_plan(self.result.task, {**self.result.to_json(), "plan": chosen[1]})

    @work(thread=True, group="disk", exit_on_error=False)
    def export_plan(self, task: str, doc: dict[str, Any]) -> None:
        """The chosen plan with the synthesis's sections and the models consulted, as ``moot plan -o`` writes it;
        a file edited since moot wrote it is kept (the export takes the next name)."""
        from moot.core.ensemble.result import markdown_from_json
        from moot.core.exports import write_export

        written, note = write_export(Path(self.moot.loaded.project_dir) / "plans" / f"{slug(task)}.md",
                                     markdown_from_json(doc))
        self.app.call_from_thread(self.notify, note or str(written), title="Plan exported", markup=False)

    def action_compare(self, first: int | None = None) -> None:
        if self.result is None or len([p for p in self.result.proposals if p.text]) < 2:
            self.notify("Two proposals with text are needed to compare.", severity="warning")
            return
        self.open("compare", self.result.proposals, first)

    def action_strategy(self) -> None:
        self.open("strategy", callback=lambda _: self.refresh_header())

    def action_history(self) -> None:
        self.open("history")

    def action_context(self) -> None:
        task = self.query_one(PromptInput).value.strip() or (self.result.task if self.result else "")
        if not task:
            self.notify("Type a task first: the context is chosen for it.", title="Context", severity="warning")
            return
        self.open("context", task)

    def action_link(self) -> None:
        area = self.query_one(ProposalsArea)
        area.linked = not area.linked
        self.notify("Scrolling linked." if area.linked else "Scrolling unlinked.")

    def action_focus_prompt(self) -> None:
        self.query_one(PromptInput).focus()

    # --------------------------------------------------------------------------------------- perf panel

    def action_perf(self) -> None:
        panel = self.perf_panel
        panel.shown = not panel.shown
        self.moot.store.set_pref("user", PERF_PREF, panel.shown)

    def _perf_start(self, indices: Iterable[int], fresh: bool = False) -> None:
        """Tell the perf panel that the requests of these proposals are sent now (it keeps the local ones)."""
        if self.result is None:
            return
        if fresh:
            self.perf_panel.clear_requests()
        for i in indices:
            proposer = self.result.proposals[i].proposer
            self.perf_panel.start(i, proposer.model, proposer.variant)

    def worker_failed(self, worker: Worker[Any]) -> None:
        self.running = False
