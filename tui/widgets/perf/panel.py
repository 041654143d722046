"""The perf panel: how fast the local models run, beside the proposals.

For every Ollama host and the embedded engine: whether it answers, its version and its loaded models. For every
local model: the requests in flight (fed by the screen as text arrives), the last request's figures, sparklines
of the recent eval and prompt rates, and its latest reload. Below, the router's recent decisions and reasons.

While shown, a short-lived worker polls the hosts (``PerfMonitor.refresh``) and schedules the next poll
``POLL_S`` seconds after it began; hidden, the panel does nothing at all. Figures in flight are painted every
``TICK_S`` seconds, not per batch of text, and only the lines that changed are repainted.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from moot.core.perf.hosts import PerfMonitor, PerfSnapshot
from moot.core.perf.shapes import Shape
from moot.core.perf.store import EMBEDDED_HOST, HISTORY, Sample, host_of

from . import fmt, requests
from .host import HostView, host_content
from .lines import Lines
from .model import ModelFigures, ModelView
from .requests import InFlight

if TYPE_CHECKING:
    from textual.timer import Timer

    from moot.core.config.models import Config, ModelConfig
    from moot.core.storage import Store

POLL_S = 2.0
"""The hosts are asked at most this often."""
TICK_S = 0.5
"""Figures in flight are painted this often."""
REREAD_S = 0.3
"""After a local call ends, the perf store is read again this soon (its figures are recorded as it ends)."""
WIDTH = 40
"""The panel's columns, border included."""
TEXT_W = WIDTH - 4
"""Columns of text: the width less the border, the left padding and the scrollbar's gutter."""
DECISIONS_SHOWN = 8
MUTED = "$foreground-muted"


def is_local(model: ModelConfig) -> bool:
    return model.is_local


class PerfPanel(VerticalScroll):
    """Live local-model figures. Set ``shown`` to show it (and start polling) or hide it (and stop).

    Args:
        config: the merged config: which hosts and local models.
        store: moot's store: the perf samples and routing decisions.
    """

    DEFAULT_CSS = """
    PerfPanel {
        display: none;
        width: 40;
        height: 1fr;
        border: round $panel;
        border-title-color: $primary;
        border-title-style: bold;
        border-title-align: left;
        padding: 0 0 0 1;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
    }
    #perf-pools-heading, #perf-pools, #perf-outcomes-heading, #perf-outcomes { display: none; }
    PerfPanel.-shown {
        display: block;
    }
    PerfPanel:focus {
        border: round $accent;
    }
    PerfPanel .perf-heading {
        color: $primary;
        text-style: bold;
    }
    PerfPanel #perf-hosts, PerfPanel #perf-models {
        height: auto;
    }
    PerfPanel #perf-hosts {
        margin-bottom: 1;
    }
    PerfPanel Sparkline.eval > .sparkline--max-color { color: $primary; }
    PerfPanel Sparkline.eval > .sparkline--min-color { color: $primary 40%; }
    PerfPanel Sparkline.prompt > .sparkline--max-color { color: $secondary; }
    PerfPanel Sparkline.prompt > .sparkline--min-color { color: $secondary 40%; }
    """

    shown: reactive[bool] = reactive(False)

    def __init__(self, config: Config, store: Store, **kw: Any) -> None:
        super().__init__(**kw)
        self.config = config
        self.monitor = PerfMonitor(config, store, clock=lambda: requests.wall())
        self.snapshot: PerfSnapshot | None = None
        self.history: dict[tuple[str, str], list[Sample]] = {}
        """Recent samples per (host, model), newest first."""
        self.requests: dict[int, InFlight] = {}
        """Requests in flight to local models, by proposal index."""
        self.error: str | None = None
        self._last_poll = -math.inf
        self._dirty = False
        self._ticker: Timer | None = None
        self._next_poll: Timer | None = None
        self._polling = False
        self._reread_due = False
        self._hosts: dict[str, HostView] = {}
        self._models: dict[tuple[str, str], ModelView] = {}

    def compose(self) -> ComposeResult:
        yield Static("Local models", classes="perf-heading")
        yield Vertical(id="perf-models")
        yield Static("Hosts", classes="perf-heading")
        yield Lines(id="perf-waiting")
        yield Vertical(id="perf-hosts")
        yield Static("Routing", classes="perf-heading")
        yield Lines(id="perf-routing")
        yield Static("Pools", classes="perf-heading", id="perf-pools-heading")
        yield Lines(id="perf-pools")
        yield Static("Local outcomes", classes="perf-heading", id="perf-outcomes-heading")
        yield Lines(id="perf-outcomes")

    def on_mount(self) -> None:
        self.border_title = "Perf"
        self._ticker = self.set_interval(TICK_S, self._tick, pause=True)
        self.watch_shown(self.shown)

    # ------------------------------------------------------------------------------------ showing, polling

    def watch_shown(self, shown: bool) -> None:
        self.set_class(shown, "-shown")
        if self._ticker is None:  # not mounted yet: on_mount calls again
            return
        if shown:
            self._ticker.resume()
            self.paint()
            self._schedule()
        else:
            self._ticker.pause()
            if self._next_poll is not None:
                self._next_poll.stop()
                self._next_poll = None
            self.workers.cancel_group(self, "perf")

    def _schedule(self) -> None:
        """Poll again ``POLL_S`` seconds after the last poll began (at once when that is past)."""
        if not self.shown or self._polling:
            return
        if self._next_poll is not None:
            self._next_poll.stop()
        delay = max(0.01, self._last_poll + POLL_S - time.monotonic())  # a timer of 0 s is not allowed
        self._next_poll = self.set_timer(delay, self._poll_due)

    def _poll_due(self) -> None:
        self._next_poll = None
        if self.shown and not self._polling:
            self.poll()

    @work(exclusive=True, group="perf", exit_on_error=False)
    async def poll(self) -> None:
        """Ask the hosts and read the perf store once, then schedule the next poll (short-lived, so waiting for
        the workbench's workers never waits for the panel)."""
        self._polling = True
        self._last_poll = time.monotonic()
        try:
            snap = await self.monitor.refresh()
        except asyncio.CancelledError:  # hidden, or the workbench is closing: no next poll
            self._polling = False
            raise
        except Exception as e:  # an unreadable store or an odd answer: say so and keep polling
            self.error = f"{type(e).__name__}: {e}"
            self.paint()
        else:
            self.take(snap)
        self._polling = False
        self._schedule()

    def reread(self) -> None:
        """Read the perf store again around the last hosts snapshot (no network): after a local call ends."""
        self._reread_due = False
        latest = self.monitor.latest
        if self.shown and latest is not None:
            self.take(self.monitor.read(latest.hosts))

    def take(self, snap: PerfSnapshot) -> None:
        """Show ``snap`` (and the recent samples of its models)."""
        self.snapshot, self.error = snap, None
        self.history = {(m.host, m.model): self.monitor.history(m.model, m.host, limit=HISTORY) for m in snap.models}
        self.paint()

    # -------------------------------------------------------------------------------- requests in flight

    def start(self, index: int, model: ModelConfig, variant: str) -> None:
        """A request of proposal ``index`` to ``model`` was sent (ignored unless the model is local)."""
        if not is_local(model):
            self.requests.pop(index, None)
            return
        self.requests[index] = InFlight(index, model.name, model.model, host_of(model), variant,
                                        requests.clock())
        self._dirty = True

    def advance(self, index: int, tokens: int) -> None:
        """Proposal ``index`` has ``tokens`` tokens so far."""
        if (r := self.requests.get(index)) is not None:
            r.advance(tokens, requests.clock())
            self._dirty = True

    def finish(self, index: int) -> None:
        """Proposal ``index``'s request ended (done, failed or cancelled)."""
        if self.requests.pop(index, None) is not None:
            self._dirty = True
            if self.shown and not self._reread_due:  # calls ending together: one read for them all
                self._reread_due = True
                self.set_timer(REREAD_S, self.reread)

    def clear_requests(self) -> None:
        """A new run: forget the requests of the last one."""
        if self.requests:
            self.requests.clear()
            self._dirty = True

    def _tick(self) -> None:
        if self._dirty or self.requests:
            self.paint()

    # ------------------------------------------------------------------------------------------ painting

    def text(self) -> str:
        """Every line the panel shows, top to bottom, without styles (sparklines left out)."""
        shown = [w for w in self.query(Lines) if w.plain and all(n.display for n in w.ancestors_with_self)]
        return "\n".join(w.plain for w in shown)

    def paint(self) -> None:
        """Paint everything from the data at hand (only what changed is repainted)."""
        if not self.shown or not self.is_mounted:
            return
        self._dirty = False
        now_wall, now = requests.wall(), requests.clock()
        self._paint_hosts(now_wall)
        self._paint_models(now, now_wall)
        self._paint_routing(now_wall)
        self._paint_pools()
        self._paint_outcomes()

    @staticmethod
    def _sync(container: Vertical, views: dict[Any, Any], keys: list[Any], make: Any) -> None:
        """Make ``container`` hold one view per key, in order (rebuilt only when the keys change)."""
        if list(views) == keys:
            return
        for view in views.values():
            view.remove()
        views.clear()
        views.update({k: make(k) for k in keys})
        container.mount_all(list(views.values()))

    def _paint_hosts(self, now_wall: float) -> None:
        waiting = self.query_one("#perf-waiting", Lines)
        snap = self.snapshot
        if snap is None or self.error:
            waiting.display = True
            text = f"⚠ {self.error}" if self.error else "asking the hosts…"
            waiting.show(Content.assemble((text, "$warning" if self.error else MUTED)))
        else:
            waiting.display = False
        if snap is None:
            return
        statuses = snap.hosts.hosts
        self._sync(self.query_one("#perf-hosts", Vertical), self._hosts, [h.host for h in statuses],
                   lambda host: HostView())
        age = now_wall - snap.taken_at
        for status in statuses:
            busy = [r.key[1] for r in self.requests.values() if r.key[0] == status.host]
            self._hosts[status.host].show(host_content(status, age_s=age, width=TEXT_W, busy=busy))

    def _model_keys(self) -> list[tuple[str, str]]:
        keys = [(host_of(m), m.model) for m in self.config.models if is_local(m)]
        if self.snapshot is not None:
            keys += [(m.host, m.model) for m in self.snapshot.models]
        keys += [r.key for r in self.requests.values()]
        return list(dict.fromkeys(keys))

    def _paint_models(self, now: float, now_wall: float) -> None:
        keys = self._model_keys()
        container = self.query_one("#perf-models", Vertical)
        self._sync(container, self._models, keys, lambda key: ModelView(key, TEXT_W))
        aliases = {(host_of(m), m.model): m.name for m in self.config.models if is_local(m)}
        ollama_hosts = {h for h, _ in keys if h != EMBEDDED_HOST}
        for key, view in self._models.items():
            host, model = key
            figures = ModelFigures(
                model=model,
                alias=aliases.get(key),
                host=fmt.host_label(host) if len(ollama_hosts) > 1 and host != EMBEDDED_HOST else None,
                history=self.history.get(key, ()),
                requests=sorted((r for r in self.requests.values() if r.key == key), key=lambda r: r.index),
            )
            view.show(figures, now, now_wall)
        container.display = bool(keys)

    def _paint_routing(self, now_wall: float) -> None:
        routing = self.query_one("#perf-routing", Lines)
        decisions = self.snapshot.decisions[:DECISIONS_SHOWN] if self.snapshot is not None else ()
        if not decisions:
            routing.show(Content.assemble(("no routing decisions yet", MUTED)))
            return
        lines = []
        for d in decisions:
            local = d.get("chosen") is not None and d.get("chosen") == d.get("local_alias")
            lines.append(Content.assemble(
                ("▸ ", "$success" if local else "$primary"),
                str(d.get("reason") or d.get("chosen") or "?"),
                (f" · {fmt.ago(now_wall - float(d.get('created_at') or now_wall))}", MUTED),
            ))
        routing.show(Content("\n").join(lines))

    def _paint_pools(self) -> None:
        """Each pooled model's calls by host: share, speed, failures (shown only when there is a pool)."""
        pools = self.snapshot.pools if self.snapshot is not None else ()
        for widget in (self.query_one("#perf-pools-heading"), self.query_one("#perf-pools", Lines)):
            widget.display = bool(pools)
        if not pools:
            return
        lines = []
        for p in pools:
            failed = f" · {p['failures']} failed, {p['failovers']} handed on" if p["failures"] else ""
            speed = f" · {p['wall_tokens_per_s']:.0f} tok/s" if p["wall_tokens_per_s"] else ""
            lines.append(Content.assemble(
                ("▸ ", "$error" if p["failures"] and not p["answered"] else "$success"),
                f"{p['alias']} · {fmt.host_label(p['host'])} · {p['answered']} answered ({p['share']:.0%})",
                (speed + failed, MUTED),
            ))
        self.query_one("#perf-pools", Lines).show(Content("\n").join(lines))

    def _paint_outcomes(self) -> None:
        """What came of local tasks: per model and role the success rate, its trend, by size and the best shape;
        then the share of each recent run done locally (shown once there is any)."""
        doc = self.snapshot.outcomes if self.snapshot is not None else {}
        models, shares = doc.get("models") or [], doc.get("runs") or []
        for widget in (self.query_one("#perf-outcomes-heading"), self.query_one("#perf-outcomes", Lines)):
            widget.display = bool(models or shares)
        if not (models or shares):
            return
        lines = []
        for m in models:
            rate = m["succeeded"] / m["tried"] if m["tried"] else 0.0
            sizes = " · ".join(f"{k} {v['succeeded']}/{v['tried']}" for k, v in m["by_size"].items())
            best = max(m["by_shape"].items(), key=lambda kv: ((kv[1]["succeeded"] + 1) / (kv[1]["tried"] + 2),
                                                              kv[1]["tried"]))[0]
            lines.append(Content.assemble(("▸ ", "$success" if rate >= 0.5 else "$warning"),
                                          f"{m['model'].split('/', 1)[-1]} · {m['role']} · "
                                          f"{m['succeeded']}/{m['tried']} ({rate:.0%}) ",
                                          (fmt.bars(fmt.rolling(m["recent"])), "$primary")))
            lines.append(Content.assemble(("  " + sizes, MUTED)))
            lines.append(Content.assemble((f"  best: {Shape.from_key(best).describe()}", MUTED)))
            tried = sorted(m["by_shape"].items(), key=lambda kv: -kv[1]["tried"])[:3]
            for key, v in tried:  # the shapes tried most, each with its own trend
                lines.append(Content.assemble((f"  {Shape.from_key(key).short()}: {v['succeeded']}/{v['tried']} ",
                                               MUTED), (fmt.bars(fmt.rolling(v["recent"]), 10), "$primary")))
        if shares:
            last = shares[-1]
            lines.append(Content.assemble("local share per run ", (fmt.bars([r["share"] or 0.0 for r in shares]),
                                                                   "$primary"),
                                          (f" · last {last['local_tasks']}/{last['tasks']}", MUTED)))
        self.query_one("#perf-outcomes", Lines).show(Content("\n").join(lines))
