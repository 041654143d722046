"""Choose how the next run plans: strategy, workflow, models, prompt variants, judge and peer ranking.

The choice is checked against the config (``resolve``) before it is saved for the project; an impossible one
is explained inside the dialog.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Footer, Label, Select, SelectionList, Static, Switch

from moot.core.ensemble.prompts import variant_names
from moot.core.ensemble.strategies import BUILTIN, StrategyError, default_strategy, judge_model, resolve

from .base import MootModal

AUTO = ""
"""The Select value meaning "let the config decide" (saved as ``None``)."""


class StrategyScreen(MootModal[dict[str, Any] | None]):
    """The next run's plan options, pre-filled from the project's prefs; dismissed with the saved prefs."""

    CSS_PATH = "strategy.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="strategy.save", tooltip="Check and keep these choices",
                priority=True),
        Binding("escape", "cancel", "Cancel", id="strategy.cancel", tooltip="Leave without changing anything"),
    ]

    def _unusable(self) -> dict[str, str]:
        """Alias to the reason it cannot be called, once discovery has finished."""
        if not self.moot.models_ready.is_set():
            return {}
        return {s.model.name: s.availability.reason or "unusable" for s in self.moot.statuses if not s.usable}

    def _model_prompt(self, alias: str, unusable: dict[str, str]) -> Content:
        if alias not in unusable:
            return Content(alias)
        return Content.assemble(alias, (f"  ✗ {unusable[alias]}", "$foreground-muted"))

    def compose(self) -> ComposeResult:
        app = self.moot
        config = app.loaded.config
        prefs = app.plan_prefs()
        unusable = self._unusable()
        auto = f"auto ({default_strategy(config, app.usable)})"
        names = list(BUILTIN) + [s for s in config.strategies if s not in BUILTIN]
        strategy = prefs.get("strategy") if prefs.get("strategy") in names else AUTO
        judge = prefs.get("judge") if prefs.get("judge") in config.aliases else AUTO
        models = set(prefs.get("models") or ())
        variants = set(prefs.get("variants") or ())
        rank = prefs.get("rank")
        with Vertical(id="strategy-dialog"):
            yield Static("Plan options for the next run", id="strategy-title")
            workflows = app.workflows.names()
            with Horizontal(classes="strategy-row"):
                yield Label("Strategy", classes="strategy-label")
                yield Select([(auto, AUTO), *((n, n) for n in names)], value=strategy, allow_blank=False,
                             id="strategy-name")
                yield Label("Workflow", classes="strategy-label strategy-label-next")
                yield Select([("none: plan the task", AUTO), *((n, n) for n in workflows)], allow_blank=False,
                             value=prefs.get("workflow") if prefs.get("workflow") in workflows else AUTO,
                             id="strategy-workflow")
            yield Static("Models and variants: none ticked means the strategy's own.", classes="strategy-caption")
            with Horizontal(id="strategy-lists"):
                models_list = SelectionList[str](
                    *((self._model_prompt(a, unusable), a, a in models) for a in config.aliases), id="strategy-models")
                models_list.border_title = "Models"
                yield models_list
                variants_list = SelectionList[str](*((v, v, v in variants) for v in variant_names(config)),
                                                   id="strategy-variants")
                variants_list.border_title = "Variants"
                yield variants_list
            with Horizontal(classes="strategy-row"):
                yield Label("Judge", classes="strategy-label")
                yield Select([("auto", AUTO), *((self._model_prompt(a, unusable), a) for a in config.aliases)],
                             value=judge, allow_blank=False, id="strategy-judge")
                yield Label("Peer rank", classes="strategy-label")
                yield Switch(value=bool(config.ensemble.rank if rank is None else rank), id="strategy-rank")
            yield Static("", id="strategy-error", markup=False)
            with Horizontal(id="strategy-buttons"):
                yield Button("Save", variant="primary", id="strategy-save")
                yield Button("Cancel", id="strategy-cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#strategy-name", Select).focus()

    def choices(self) -> dict[str, Any]:
        """What the dialog shows, as prefs: empty selections and "auto" are ``None``."""
        config = self.moot.loaded.config
        models = set(self.query_one("#strategy-models", SelectionList).selected)
        variants = set(self.query_one("#strategy-variants", SelectionList).selected)
        strategy = self.query_one("#strategy-name", Select).value
        judge = self.query_one("#strategy-judge", Select).value
        workflow = self.query_one("#strategy-workflow", Select).value
        return {
            "workflow": workflow if isinstance(workflow, str) and workflow else None,
            "strategy": strategy if isinstance(strategy, str) and strategy else None,
            "models": [a for a in config.aliases if a in models] or None,
            "variants": [v for v in variant_names(config) if v in variants] or None,
            "judge": judge if isinstance(judge, str) and judge else None,
            "rank": self.query_one("#strategy-rank", Switch).value,
        }

    def check(self, prefs: dict[str, Any]) -> str | None:
        """Why these choices cannot make a run, or ``None`` when they can."""
        app = self.moot
        config = app.loaded.config
        try:
            name = prefs["strategy"] or default_strategy(config, app.usable)
            resolve(name, config, app.usable, models=prefs["models"], variants=prefs["variants"])
            judge_model(config, app.usable, name, prefs["judge"])
        except StrategyError as e:
            return str(e)
        return None

    def _show_error(self, message: str) -> None:
        error = self.query_one("#strategy-error", Static)
        error.update(message)
        error.display = bool(message)

    def action_save(self) -> None:
        prefs = self.choices()
        if (problem := self.check(prefs)) is not None:
            self._show_error(f"Cannot plan this way: {problem}")
            return
        self.moot.save_plan_prefs(prefs)
        self.dismiss(prefs)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#strategy-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#strategy-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Select.Changed)
    @on(SelectionList.SelectedChanged)
    @on(Switch.Changed)
    def _clear_error(self) -> None:
        self._show_error("")
