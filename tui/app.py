"""The workbench application: config, database, themes, keymap, model discovery; the screens do the rest."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.driver import Driver
from textual.worker import Worker

from moot.core.config.loader import LoadedConfig, load_config
from moot.core.storage import Store
from moot.themes import DEFAULT_THEME, THEMES, VARIABLE_DEFAULTS

from . import terminal_text
from .calm_gc import CalmCollector
from .commands import BindingCommands

if TYPE_CHECKING:
    from moot.core.discovery import ModelStatus
    from moot.core.ensemble import PlanOptions

PLAN_PREFS = "plan"
QUIT_WAIT_S = 0.5
"""On ctrl+q, how long the work in progress has to stop, and then the screens to take its last messages."""


_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="moot-background")
"""One thread for the work the workbench does after its first frame (the config, imports): one job at a time, so
the screen shares the interpreter with one thread, not several."""


async def in_background(work: Callable[[], object]) -> None:
    """Run ``work`` (an import, say) in the background thread, so the screen keeps answering meanwhile. Leaving
    the workbench does not wait for it, as asyncio's loop does for its own threads when it closes."""
    await asyncio.get_running_loop().run_in_executor(_BACKGROUND, work)


async def import_in_background(*modules: str) -> None:
    """Import ``modules`` with ``in_background``: tens or hundreds of milliseconds the screen need not wait for."""
    await in_background(lambda: [importlib.import_module(name) for name in modules])


def git_branch(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=path, capture_output=True,
                             text=True, timeout=3)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


class MootApp(App[None]):
    """moot's workbench. Everything the screens share lives here: config, store, usable models, prefs."""

    TITLE = "moot"
    COMMANDS = App.COMMANDS | {BindingCommands}
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help", tooltip="Every key of this screen"),
        Binding("question_mark", "help", "Help", show=False, id="app.help-key", tooltip="Every key of this screen"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Leave moot", priority=True),
    ]

    def __init__(self, loaded: LoadedConfig | None = None, store: Store | None = None,
                 statuses: list[ModelStatus] | None = None, watch_css: bool = False,
                 cursor_blink: bool = True) -> None:
        super().__init__(watch_css=watch_css)
        terminal_text.install()  # no text from outside acts on the terminal
        self.cursor_blink = cursor_blink
        """Inputs and editors follow this; tests switch it off so screenshots are stable."""
        self.loaded = loaded or load_config(Path.cwd())
        self.store = store or Store()
        self.statuses: list[ModelStatus] = statuses or []
        self.models_ready = asyncio.Event()
        self.workers_warm = asyncio.Event()
        """Set once the model worker processes are started and have imported their clients."""
        self._given_statuses = statuses is not None
        self._workflows: Any = None
        self.branch: str | None = None  # looked up with discovery, after the first frame
        self.shaped: str | None = None
        """The header's word on how the last run was shaped to the embedded engine, when it was."""
        self.gc = CalmCollector()
        """Holds off full garbage collections while a run streams (see ``calm_gc``)."""
        self._leaving: asyncio.Task[None] | None = None

    def get_driver_class(self) -> type[Driver]:
        from textual.drivers.linux_driver import LinuxDriver

        driver = super().get_driver_class()
        if driver is LinuxDriver:
            from .driver import WorkbenchDriver

            return WorkbenchDriver  # leaves without waiting for the input thread's next look at the keyboard
        return driver

    # ------------------------------------------------------------------------------------------ set-up

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        from moot.core.providers.process import use_worker_process

        use_worker_process()  # model calls run in a child process: streaming and decoding stay off this loop
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = self.store.get_pref("user", "theme", DEFAULT_THEME) or DEFAULT_THEME
        self._remember_theme = True  # from here on, a theme the user picks is remembered
        project = self.loaded.project_trust
        if project is not None and project.should_ask:  # the main screen and the rest wait for the answer
            from .screens.trust import TrustScreen

            self.push_screen(TrustScreen(project), self._trust_answered)
            return
        self._open_main()

    def _open_main(self) -> None:
        # a config not built yet is the defaults, which remap no key (reading it would build it before the
        # first frame)
        if self.loaded.built and self.loaded.config.keys:
            self.set_keymap(dict(self.loaded.config.keys))
        from .screens.main import MainScreen

        self.push_screen(MainScreen())
        if self._given_statuses:
            self.models_ready.set()
        project = self.loaded.project_trust
        if project is not None and project.ignored:
            self.notify(f"{project.summary()}. moot trust applies it.", title="Untrusted project config",
                        severity="warning", timeout=12, markup=False)

    def _trust_answered(self, trusted: bool | None) -> None:
        """The user answered about the project config: load it again if now trusted, then open the workbench."""
        if trusted:
            self.loaded = load_config(self.loaded.project_dir)
        self._open_main()
        self.screen.call_after_refresh(self._after_first_frame)

    def on_ready(self) -> None:
        """The first frame is on its way: the rest starts once it is drawn (or, while the project config's trust
        is being asked, once it is answered)."""
        if self.loaded.project_trust is None or not self.loaded.project_trust.should_ask:
            self.screen.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        """What the first frame did not need: discovery (it imports the network clients), the model worker
        processes, the hidden perf panel, the file watcher, and the config when it was left unbuilt (see
        ``config_ready``)."""
        if not self._given_statuses:
            self.discover()
        self.warm_workers()
        self.add_perf_panel()
        self.watch_files()
        self.watch_workflows()

    def watch_theme(self, theme: str) -> None:
        if getattr(self, "_remember_theme", False):
            self.store.set_pref("user", "theme", theme)

    async def config_ready(self) -> None:
        """Build the config if it was left for after the first frame, in the background (importing the schema
        takes a tenth of a second)."""
        if not self.loaded.built:
            await in_background(lambda: self.loaded.config)

    @work(exclusive=True, group="discovery", exit_on_error=False)
    async def discover(self) -> None:
        """Check every model (keys, Ollama, the embedded engine) without blocking the screen."""
        self.branch = await asyncio.to_thread(git_branch, self.loaded.project_dir)
        try:
            await self.config_ready()
            # what discovery imports, and the Ollama client (a quarter of a second) if it will ask an Ollama host
            modules = ["moot.core.discovery"]
            if self.loaded.defaulted_models or any(m.provider_kind.has_host for m in self.loaded.config.models):
                modules.append("moot.core.providers.ollama")
            await import_in_background(*modules)
            from moot.core.discovery import model_statuses

            self.statuses = await model_statuses(self.loaded)
        finally:
            self.models_ready.set()
        from .screens.main import MainScreen

        if isinstance(self.screen, MainScreen):
            self.screen.refresh_header()

    @work(exclusive=True, group="warm", exit_on_error=False)
    async def warm_workers(self) -> None:
        """Start the model worker processes while the user types, so the first run does not wait for them."""
        try:
            await self.config_ready()
            from moot.core.providers.base import backend_for
            from moot.core.providers.process import ProcessBackend, warm

            kinds = {m.kind for m in self.loaded.config.models if isinstance(backend_for(m), ProcessBackend)}
            await warm(kinds)
        finally:
            self.workers_warm.set()
        await self.models_ready.wait()
        self.gc.freeze_startup()  # the clients are imported and the screen is built: that all stays
        await self.measure_embedded()

    async def measure_embedded(self) -> None:
        """When the embedded engine is the only usable model and has no figures yet, measure it now with a
        short probe (which also loads the model), so the first run is shaped to it without waiting."""
        models = [m for alias in self.usable if (m := self.loaded.config.model(alias)) is not None]
        if models and all(m.provider_kind.in_process for m in models):
            from moot.core.ensemble.shape import engine_rates

            await engine_rates(models[0], self.store)

    @work(exclusive=True, group="perf-panel", exit_on_error=False)
    async def add_perf_panel(self) -> None:
        """Put the hidden perf panel on the main screen, if its first frame went without it."""
        from .screens.main import MainScreen

        screen = next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)
        if screen is not None and screen.perf_panel_later:
            await self.config_ready()
            await import_in_background("moot.tui.widgets.perf")
            await screen.add_perf_panel()

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def watch_files(self) -> None:
        """Follow the repository while the workbench runs: changed files leave the tag cache (the next context
        is read fresh), and an open context inspector recomputes."""
        await import_in_background("moot.context.cache", "moot.context.files", "moot.context.watch")
        from moot.context.cache import TagCache
        from moot.context.files import git_lists
        from moot.context.watch import watch_repository, watching_enabled

        root = self.loaded.project_dir
        if not watching_enabled() or not await asyncio.to_thread(git_lists, root):
            return  # outside a repository there is no context to keep fresh (and a home folder is huge)
        from .screens.context import ContextScreen, FilesChanged

        def changed(paths: set[str]) -> None:
            for screen in self.screen_stack:
                if isinstance(screen, ContextScreen):
                    screen.post_message(FilesChanged(paths))

        cache = TagCache()
        try:
            await watch_repository(root, changed, cache=cache)
        finally:
            cache.close()

    @property
    def workflows(self) -> Any:
        """The workflows on offer (``tui.workflows.WorkflowCatalog``), read on first use."""
        if self._workflows is None:  # read whole before it is shared (the watcher reads it in a thread)
            from .workflows import WorkflowCatalog

            catalog = WorkflowCatalog(self.loaded.project_dir)
            catalog.reload()
            self._workflows = catalog
        return self._workflows

    @work(exclusive=True, group="watch-workflows", exit_on_error=False)
    async def watch_workflows(self) -> None:
        """Keep the workflows current: an edited file is validated again; a broken one keeps its last good
        version in use, and its mistake is shown."""
        from moot.context.watch import watching_enabled

        catalog = await asyncio.to_thread(lambda: self.workflows)
        if not watching_enabled():
            return

        def changed(errors: list[Any]) -> None:
            for e in errors:
                kept = e.file is not None and Path(e.file).stem in catalog.found
                then = "The last good version stays in use." if kept else "It is not offered until it reads."
                self.notify(f"{e}. {then}", title="Workflow file", severity="error", timeout=12, markup=False)

        await catalog.watch(changed)

    # ---------------------------------------------------------------------------------- shared state

    @property
    def usable(self) -> list[str]:
        return [s.model.name for s in self.statuses if s.usable]

    def header_text(self, chosen: str | None = None) -> str:
        root = self.loaded.project_dir
        where = f"{root.name}" + (f" @ {self.branch}" if self.branch else "")
        if not self.models_ready.is_set():
            models = "checking models…"
        else:
            models = f"{len(self.usable)}/{len(self.statuses)} models usable"
            if self.shaped is not None:
                models = self.shaped
            elif self.loaded.defaulted_models and self.usable == ["smollm2"]:
                models = "embedded model only (smollm2; moot doctor adds hosted or Ollama ones)"
        prefs = self.plan_prefs()
        strategy = prefs.get("strategy") or "auto"
        text = f" moot · {where} · {models} · strategy: {strategy}"
        if workflow := prefs.get("workflow"):
            text += f" · workflow: {workflow}"
        return text + (f" · plan: {chosen}" if chosen else "")

    def task_history(self) -> list[str]:
        tasks = [r["task"] for r in reversed(self.store.runs(limit=100))]
        return [t for i, t in enumerate(tasks) if t and (i == 0 or tasks[i - 1] != t)]

    def plan_prefs(self) -> dict[str, Any]:
        """The strategy, models, variants, judge and rank chosen for this project (remembered)."""
        return self.store.get_pref(str(self.loaded.project_dir), PLAN_PREFS, {}) or {}

    def save_plan_prefs(self, prefs: dict[str, Any]) -> None:
        self.store.set_pref(str(self.loaded.project_dir), PLAN_PREFS, prefs)

    def plan_options(self) -> PlanOptions:
        from moot.core.ensemble import PlanOptions

        p = self.plan_prefs()
        return PlanOptions(strategy=p.get("strategy"), models=p.get("models") or None,
                           variants=p.get("variants") or None, judge=p.get("judge"), rank=p.get("rank"))

    # ---------------------------------------------------------------------------------------- screens

    def open_screen(self, name: str, *args: Any, callback: Callable[[Any], Any] | None = None,
                    **kwargs: Any) -> None:
        """Push the screen registered as ``name`` (``registry.SCREENS``), made with ``args`` and ``kwargs``."""
        from .registry import screen_class

        self.push_screen(screen_class(name)(*args, **kwargs), callback)

    def reuse_task(self, task: str) -> bool:
        """Put ``task`` in the main screen's prompt and go back to it. False when there is no main screen."""
        from .messages import ReuseTask
        from .registry import screen_class

        main_screen = screen_class("main")
        main = next((s for s in self.screen_stack if isinstance(s, main_screen)), None)
        if main is None:
            return False
        main.post_message(ReuseTask(task))
        main.pop_until_active()
        return True

    # ---------------------------------------------------------------------------------------- actions

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    @property
    def leaving(self) -> bool:
        """True from ctrl+q on: work being cancelled need not show its result."""
        return self._leaving is not None

    async def action_quit(self) -> None:
        """Leave at once, and cleanly (see ``_leave``); pressed again meanwhile, leave without waiting."""
        if self._leaving is not None:
            self.exit()
            return
        self._leaving = asyncio.create_task(self._leave())

    async def _leave(self) -> None:
        """Cancel the work in progress (a run, discovery, the file watcher), wait until it has stopped and the
        screens have handled the messages already on their way, then exit.

        Left to Textual, that work would be cancelled while the screens are being taken down, and what a
        cancelled run sent last would be shown in widgets already gone: a traceback instead of a clean exit.
        Work cancelled from here on shows nothing more (see ``leaving``). This runs beside the app's own message
        loop, which the screens may need meanwhile. The model worker processes are stopped in ``on_unmount``."""
        try:
            busy = [w for w in self.workers if not w.is_finished]
            for worker in busy:
                worker.cancel()
            if busy:
                await asyncio.wait([asyncio.create_task(_ended(w)) for w in busy], timeout=QUIT_WAIT_S)
            if any(w.node is not self for w in busy):  # the app's own work sends the screens nothing
                await self._settle(QUIT_WAIT_S)
        finally:
            self.exit()

    async def _settle(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until every widget on the screen stack has handled the messages already
        sent to it."""
        nodes = [node for screen in self.screen_stack for node in screen.walk_children(with_self=True)]
        pending = 0
        settled = asyncio.Event()

        def handled() -> None:
            nonlocal pending
            pending -= 1
            if pending == 0:
                settled.set()

        for node in nodes:
            if node.call_later(handled):  # queued behind what the node has not handled yet
                pending += 1
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settled.wait(), timeout)

    async def on_unmount(self) -> None:
        from moot.core.providers.base import close_backends
        from moot.core.providers.process import use_in_process

        await close_backends()  # stops the worker processes
        use_in_process()
        self.store.close()


async def _ended(worker: Worker[Any]) -> None:
    with contextlib.suppress(Exception):  # cancelled or failed: either way it has ended
        await worker.wait()


def run_workbench() -> int:
    """``moot`` with no command: the workbench in the current directory."""
    from moot.core.config.loader import ConfigError

    try:
        loaded = load_config(Path.cwd())
    except ConfigError as e:
        import sys

        print(f"moot: config error: {e}", file=sys.stderr)
        return 2
    store = Store()
    store.mark_interrupted()
    MootApp(loaded, store).run()
    return 0
