"""The workbench's screens by name: screens open each other through the app (``open_screen``) with these names,
so that no screen module imports another (a test checks it), and each is imported only when first opened."""

from __future__ import annotations

import importlib
from typing import Any

#: name -> ``module:Class`` under ``moot.tui.screens``.
SCREENS: dict[str, str] = {
    "main": "main:MainScreen",
    "checkpoint": "checkpoint:CheckpointScreen",
    "compare": "compare:CompareScreen",
    "context": "context:ContextScreen",
    "discussion": "discussion:DiscussionScreen",
    "edit-plan": "edit_plan:EditPlanScreen",
    "help": "help:HelpScreen",
    "history": "history:HistoryScreen",
    "prompts": "prompts:PromptsScreen",
    "review": "review:ReviewScreen",
    "run": "run:RunScreen",
    "pick": "run_dialogs:PickScreen",
    "confirm": "run_dialogs:ConfirmScreen",
    "run-view": "run_view:RunViewScreen",
    "strategy": "strategy:StrategyScreen",
    "trust": "trust:TrustScreen",
    "workflow": "workflow:WorkflowScreen",
}


def screen_class(name: str) -> Any:
    """The screen class registered as ``name``."""
    module, _, cls = SCREENS[name].partition(":")
    return getattr(importlib.import_module(f"moot.tui.screens.{module}"), cls)
