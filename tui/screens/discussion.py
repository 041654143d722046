"""A discussion in the workbench: the models answer each other in rounds, every word visible.

The prompt takes the discussion's commands (``tui.discussion_commands``): ``/open QUESTION``, ``/discuss [N]
[seq]``, ``/next``, ``/stop``, ``@name TEXT``, ``/conclude``, ``/plan``; Tab completes a command or a model's
name. Plain text is a task: the screen closes and the main screen plans it. The discussion is stored as it
goes; reopened from the history, it carries on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Static
from textual.worker import Worker, get_current_worker

from moot.core.discussion import Discussion, DiscussionEngine, DiscussionError, participants_of
from moot.core.discussion import events as ev
from moot.core.events import TextDelta

from ..discussion_commands import Command, CommandError, complete, is_command, parse
from ..widgets.prompt import PromptInput
from ..widgets.transcript import MessageView, TranscriptView
from .base import MootScreen

FLUSH_S = 0.05
"""How often the answers' streamed text reaches the screen."""


class DiscussionProgress(Message):
    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class DiscussionScreen(MootScreen[str | None]):
    """Dismissed with a task when the user hands the discussion to planning (``/plan``) or types a task."""

    CSS_PATH = "discussion.tcss"
    FAILURE_TITLE = "The discussion stopped"
    BINDINGS = [
        Binding("escape", "back", "Back", id="discussion.back", tooltip="Back to the plans; the discussion is kept"),
        Binding("ctrl+x", "stop", "Stop round", id="discussion.stop", priority=True,
                tooltip="End the round in flight (or /stop); the answers already finished are kept"),
        Binding("i", "prompts", "Messages sent", id="discussion.prompts",
                tooltip="The exact messages the selected answer's model was sent"),
        Binding("tab", "complete", "Complete", id="discussion.complete", show=False, priority=True,
                tooltip="Complete a command or a model's name"),
    ]

    def __init__(self, line: str | None = None, *, run_id: str | None = None) -> None:
        """A discussion begun by the prompt's ``line``, or the stored discussion ``run_id``."""
        super().__init__()
        self.first_line = line
        self.run_id = run_id
        self.engine: DiscussionEngine | None = None
        self.busy = False
        self._text: dict[tuple[int, str], list[str]] = {}

    def compose(self) -> ComposeResult:
        yield Static("Discussion", id="discussion-header", markup=False)
        yield TranscriptView([], id="transcript")
        yield PromptInput(placeholder="/discuss · /next · @model … · /conclude · /plan · Esc back",
                          id="discussion-prompt")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        self.set_interval(FLUSH_S, self._flush_all)
        self.handlers = self.event_handlers()
        if self.run_id is not None:
            self.load(self.run_id)
        elif self.first_line:
            self.submit(self.first_line)

    def event_handlers(self) -> dict[type, Any]:
        """What each discussion event does here (a test checks that every event has its entry)."""
        return {
            ev.RoundStarted: self._round_started, ev.Speaking: self._speaking, ev.Spoke: self._spoke,
            ev.RoundDone: self._round_done,
            ev.Digesting: lambda e: self.notify(f"The transcript would pass the smallest window ({e.window} "
                                                f"tokens): condensing rounds 1-{e.upto}…", title="Digest"),
            ev.Digested: lambda e: self.query_one(TranscriptView).show_digest(e.digest),
            ev.DigestFailed: lambda e: self.notify(e.error, title="No digest", severity="warning", markup=False),
        }

    # ------------------------------------------------------------------------------------------ the prompt

    @on(PromptInput.Submitted, "#discussion-prompt")
    def _submitted(self, event: PromptInput.Submitted) -> None:
        line = event.value.strip()
        if line:
            prompt = self.query_one(PromptInput)
            prompt.remember(line)
            prompt.value = ""
            self.submit(line)

    def submit(self, line: str) -> None:
        if not is_command(line):
            self.dismiss(line)  # a task: the main screen plans it
            return
        try:
            command = parse(line, self.speakers())
        except CommandError as e:
            self.notify(str(e), title="Not a command", severity="warning", markup=False)
            return
        if command.name == "stop":
            self.action_stop()
            return
        if command.name == "plan":
            self._plan()
            return
        if self.busy:
            self.notify("A round is in flight: wait for it, or ctrl+x stops it.", severity="warning")
            return
        if command.name != "open" and self.engine is None:
            self.notify("There is no discussion yet: /open QUESTION starts one.", severity="warning")
            return
        self.busy = True
        self.refresh_bindings()
        self.carry_out(command)

    def speakers(self) -> list[str]:
        """Who ``@name`` may name: the discussion's speakers, then every configured model."""
        taking_part = list(self.engine.d.participants) if self.engine is not None else []
        return list(dict.fromkeys([*taking_part, *self.moot.loaded.config.aliases]))

    def action_complete(self) -> None:
        prompt = self.query_one(PromptInput)
        done = complete(prompt.value, self.speakers()) if self.focused is prompt else None
        if done is None:
            self.focus_next()  # Tab still moves between the answers and the prompt
            return
        prompt.value = done
        prompt.cursor_position = len(done)

    # ---------------------------------------------------------------------------------------- running

    @work(exclusive=True, group="discussion", exit_on_error=False)
    async def carry_out(self, command: Command) -> None:
        try:
            if command.name == "open":
                await self._open(command.text)
                return
            engine = self.engine
            assert engine is not None
            if command.name == "discuss":
                engine.d.sequential = command.sequential
                await engine.discuss(command.rounds)
            elif command.name == "next":
                await engine.next_round()
            elif command.name == "mention":
                await engine.mention(list(command.names), command.text)
            elif command.name == "conclude":
                await engine.conclude()
        except DiscussionError as e:
            self.notify(str(e), title="Discussion", severity="warning", markup=False)
        finally:
            self.busy = False
            self._header()
            if not get_current_worker().is_cancelled:
                self.refresh_bindings()

    async def _open(self, question: str) -> None:
        from moot.core.ensemble import new_run_id
        from moot.core.ensemble.strategies import default_strategy, judge_model, resolve

        app = self.moot
        await app.models_ready.wait()
        config, opts = app.loaded.config, app.plan_options()
        strategy = opts.strategy or default_strategy(config, app.usable)
        proposers = resolve(strategy, config, app.usable, models=opts.models, variants=opts.variants)
        names = participants_of([(p.model, p.variant) for p in proposers])
        judge = judge_model(config, app.usable or names, strategy, opts.judge)
        context = await self._repository_context(question, [p.model for p in proposers])
        own = config.strategies.get(strategy)
        d = Discussion(id=new_run_id(), topic=question, participants=names, context=context,
                       sequential=bool(own and own.sequential))
        self.engine = DiscussionEngine.start(config, app.store, d, judge=judge, on_event=self._sink,
                                             project_dir=str(app.loaded.project_dir))
        self.run_id = d.id
        self.query_one(TranscriptView).participants = list(names)
        self._header()
        await self.engine.open()

    async def _repository_context(self, question: str, models: list[Any]) -> str | None:
        from moot.context.choice import ContextChoice
        from moot.context.planning import context_budget, planning_context

        app = self.moot
        budget = context_budget(app.loaded.config.budget_for("proposer"), models)
        found = await asyncio.to_thread(planning_context, app.loaded.project_dir, question, budget,
                                        models[0].model if models else "",
                                        **ContextChoice.read(app.store, app.loaded.project_dir).options())
        return found.text if found is not None else None

    def _sink(self, event: Any) -> None:
        """The engine's events: streamed text is batched and shown once per turn of the loop; the rest arrive in
        order as messages."""
        if isinstance(event, ev.Speaking):
            if isinstance(event.event, TextDelta):
                self._text.setdefault((event.n, event.speaker), []).append(event.event.text)
            return
        self.post_message(DiscussionProgress(event))

    def _flush(self, key: tuple[int, str]) -> None:
        view = self.query_one(TranscriptView).view(*key)
        if view is None:
            return  # the round's answers are not shown yet: its text waits for them
        pieces = self._text.pop(key, None)
        if pieces:
            view.add("".join(pieces))

    def _flush_all(self) -> None:
        """Every stream's new text, twenty times a second (one repaint per answer, not one per token)."""
        for key in list(self._text):
            self._flush(key)

    async def on_discussion_progress(self, message: DiscussionProgress) -> None:
        result = self.handlers[type(message.event)](message.event)
        if asyncio.iscoroutine(result):
            await result

    async def _round_started(self, e: ev.RoundStarted) -> None:
        if self.engine is not None:
            await self.query_one(TranscriptView).add_round(self.engine.d.rounds[-1], live=True)

    def _speaking(self, e: ev.Speaking) -> None:
        """Never posted: text is batched by the sink, and a call's other events show in its message's end."""

    def _spoke(self, e: ev.Spoke) -> None:
        self._flush((e.n, e.said.speaker))
        view = self.query_one(TranscriptView).view(e.n, e.said.speaker)
        if view is not None:
            view.show(e.said)  # its figures at once; its Markdown a slice at a time (see MessageView)

    def _round_done(self, e: ev.RoundDone) -> None:
        transcript = self.query_one(TranscriptView)
        for said in e.round.messages:
            if (view := transcript.view(e.round.n, said.speaker)) is not None:
                view.show(said)
        transcript.settle(e.round.n)
        if e.cancelled:
            self.notify(f"Round {e.round.n} stopped; the answers already finished are kept.", title="Stopped")

    def _header(self) -> None:
        if self.engine is None:
            return
        d = self.engine.d
        state = "a round in flight" if self.busy else ("concluded" if d.conclusion else "/discuss, /next or @model")
        self.query_one("#discussion-header", Static).update(
            f"Discussion {d.id} · {d.topic.strip().splitlines()[0][:80]}\n"
            f"{', '.join(d.participants)}{' · sequential' if d.sequential else ''} · {state}")

    # -------------------------------------------------------------------------------------- a stored one

    @work(exclusive=True, group="discussion-load", exit_on_error=False, thread=True)
    def load(self, run_id: str) -> None:
        from moot.core.discussion import store as stored

        found = stored.load(self.moot.store, run_id)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_stored, found)

    async def show_stored(self, d: Discussion | None) -> None:
        if d is None:
            self.notify(f"There is no discussion {self.run_id}.", severity="error")
            return
        from moot.core.ensemble.strategies import judge_model

        config = self.moot.loaded.config
        judge = judge_model(config, self.moot.usable or d.participants, "", None)
        self.engine = DiscussionEngine(config, self.moot.store, d, judge=judge, on_event=self._sink)
        transcript = self.query_one(TranscriptView)
        transcript.participants = list(d.participants)
        for r in d.rounds:
            await transcript.add_round(r)
        if d.digest is not None:
            await transcript.show_digest(d.digest)
        self._header()

    # ---------------------------------------------------------------------------------------- actions

    def action_stop(self) -> None:
        if self.busy:
            self.workers.cancel_group(self, "discussion")

    def action_back(self) -> None:
        self.action_stop()
        self.dismiss(None)

    def action_prompts(self) -> None:
        focused = self.focused
        view = focused if isinstance(focused, MessageView) else None
        if view is None or not view.said.prompt:
            self.notify("Select an answer first (click it, or Tab to it).", severity="warning")
            return
        self.open("prompts", f"What {view.said.speaker} was sent in round {view.n}", view.said.prompt)

    def _plan(self) -> None:
        """Hand the topic and the outcome (the conclusion, else the last round) to a planning run."""
        if self.engine is None:
            self.notify("There is no discussion yet: /open QUESTION starts one.", severity="warning")
            return
        d = self.engine.d
        if d.conclusion is not None:
            outcome = d.conclusion.text.strip()
        else:
            last = [m for r in d.rounds[-1:] for m in r.messages if m.heard]
            outcome = "\n\n".join(f"{m.speaker}: {m.text.strip()}" for m in last)
        self.action_stop()
        self.dismiss(f"{d.topic.strip()}\n\nWhat a discussion of it concluded:\n{outcome}" if outcome else d.topic)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.busy
        return True

    def worker_failed(self, worker: Worker[Any]) -> None:
        self.busy = False
        self.refresh_bindings()
