"""What every workbench screen shares: the app's services (typed by what screens use of them, so no screen
imports the app), the key-binding commands in the palette, a clear note when one of its workers fails, and
opening another screen by name through the app's registry (so no screen imports another)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, cast

from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from ..commands import BindingCommands

if TYPE_CHECKING:
    import asyncio

    from moot.core.config import LoadedConfig
    from moot.core.discovery import ModelStatus
    from moot.core.ensemble import PlanOptions
    from moot.core.storage import Store

    from ..calm_gc import CalmCollector

ResultT = TypeVar("ResultT")


class Workbench(Protocol):
    """What screens use of the app (``MootApp``)."""

    loaded: LoadedConfig
    store: Store
    statuses: list[ModelStatus]
    models_ready: asyncio.Event
    shaped: str | None
    gc: CalmCollector
    leaving: bool
    task_history: Any
    workflows: Any
    """The workflows on offer (``tui.workflows.WorkflowCatalog``)."""

    @property
    def usable(self) -> list[str]: ...
    def header_text(self, chosen: str | None = None) -> str: ...
    def plan_prefs(self) -> dict[str, Any]: ...
    def save_plan_prefs(self, prefs: dict[str, Any]) -> None: ...
    def plan_options(self) -> PlanOptions: ...
    def open_screen(self, name: str, *args: Any, callback: Callable[[Any], Any] | None = None,
                    **kwargs: Any) -> None: ...
    def reuse_task(self, task: str) -> bool: ...


class _Shared:
    COMMANDS: ClassVar[set[Any]] = {BindingCommands}
    FAILURE_TITLE: ClassVar[str] = "Something went wrong"
    """How a failed worker's note is titled on this screen."""

    if TYPE_CHECKING:
        app: Any

        def notify(self, *args: Any, **kwargs: Any) -> Any: ...

    @property
    def moot(self) -> Workbench:
        return cast("Workbench", self.app)

    def open(self, name: str, *args: Any, callback: Callable[[Any], Any] | None = None, **kwargs: Any) -> None:
        """Push the screen registered as ``name`` (``tui.registry``), made with ``args`` and ``kwargs``."""
        self.moot.open_screen(name, *args, callback=callback, **kwargs)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(f"{event.worker.name}: {event.worker.error}", title=self.FAILURE_TITLE, severity="error",
                        timeout=10, markup=False)
            self.worker_failed(event.worker)

    def worker_failed(self, worker: Worker[Any]) -> None:
        """What else a failed worker means on this screen (nothing, unless a screen says)."""


class MootScreen(_Shared, Screen[ResultT]):
    """A full screen of the workbench."""


class MootModal(_Shared, ModalScreen[ResultT]):
    """A dialog of the workbench."""
