"""One local model in the perf panel: its requests in flight, the last request's prompt rate, eval rate and load
time, sparklines of both rates over the recent calls, and its latest reload."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Sparkline

from moot.core.perf.store import Sample
from moot.core.providers.kinds import OLLAMA

from . import fmt
from .lines import Lines
from .requests import InFlight

MUTED = "$foreground-muted"
LABEL_W = 21
"""Columns of a sparkline row's label: ``  eval    41.8 tok/s ``."""
RELOAD_SHOWN_S = 3600.0
"""A reload older than this is no longer news."""
_WARM = re.compile(r"against a warm ([0-9.]+ s)")


@dataclass
class ModelFigures:
    """What one model's block shows."""

    model: str
    """The model string."""
    alias: str | None = None
    host: str | None = None
    """The host's label, when the panel has several hosts to tell apart."""
    history: Sequence[Sample] = ()
    """Recent samples, newest first."""
    requests: Sequence[InFlight] = field(default_factory=list)


def title_content(f: ModelFigures, now_wall: float, width: int) -> Content:
    """The alias in bold, the model (and host) muted, and how long ago it was last used, flush right."""
    right = fmt.ago(now_wall - f.history[0].created_at) if f.history else ""
    name = f.alias or f.model
    rest = OLLAMA.strip(f.model) if f.alias else ""
    if f.host:
        rest = f"{rest} @ {f.host}" if rest else f"@ {f.host}"
    room = width - (len(right) + 1 if right else 0)
    name = fmt.clip(name, room)
    rest = "  " + fmt.clip(rest, room - len(name) - 2) if rest and room - len(name) > 4 else ""
    pad = " " * (width - len(name) - len(rest) - len(right)) if right else ""
    return Content.assemble((name, "bold"), (rest, MUTED), pad, (right, MUTED))


def request_lines(r: InFlight, now: float, width: int) -> list[Content]:
    marker = ("▶" if r.first is not None else "…", f"$proposal-{r.index % 6 + 1}")
    if r.first is None:
        right = f"waiting {fmt.seconds(now - r.started)}"
        return [Content.assemble("  ", marker, " ", fmt.spread(r.variant, right, width - 4))]
    rate = r.rate(now)
    parts = [fmt.clip(r.variant, 12), f"{r.tokens} tok", f"{fmt.rate(rate)} tok/s"]
    packed = fmt.pack(parts, width - 4)
    lines = [Content.assemble("  ", marker, " ", packed[0])]
    lines += [Content("    " + more) for more in packed[1:]]
    lines.append(Content.assemble((f"    first token {fmt.seconds(r.ttft_s)}", MUTED)))
    return lines


def head_content(f: ModelFigures, now: float, now_wall: float, width: int) -> Content:
    lines = [title_content(f, now_wall, width)]
    for r in f.requests:
        lines += request_lines(r, now, width)
    return Content("\n").join(lines)


def rate_label(label: str, value: float | None) -> Content:
    return Content.assemble(f"  {label:<6} ", (f"{fmt.rate(value):>5}", "bold"), (" tok/s ", MUTED))


def reload_lines(s: Sample, now_wall: float, width: int) -> list[Content]:
    warm = _WARM.search(s.reload_reason or "")
    what = f"load {s.load_s:.2f} s" + (f", warm {warm.group(1)}" if warm else "")
    lines = [
        Content.assemble(("  ⚠ reloaded ", "$warning bold"), (fmt.ago(now_wall - s.created_at), "$warning bold")),
        Content.assemble(("    " + what, "$warning")),
    ]
    for clause in (s.reload_reason or "").split("; ")[1:]:
        lines += [Content.assemble(("    " + text, MUTED)) for text in fmt.pack([clause], width - 4)]
    return lines


def foot_content(f: ModelFigures, now_wall: float, width: int) -> Content:
    if not f.history:
        return Content.assemble(("  first call under way" if f.requests else "  no calls yet", MUTED))
    last = f.history[0]
    parts = [f"load {fmt.seconds(last.load_s)}"]
    if last.ttft_s is not None:
        parts.append(f"first token {fmt.seconds(last.ttft_s)}")
    lines = [Content.assemble(("  " + text, MUTED)) for text in fmt.pack(parts, width - 2)]
    reload = next((s for s in f.history if s.reloaded), None)
    if reload is not None and now_wall - reload.created_at <= RELOAD_SHOWN_S:
        lines += reload_lines(reload, now_wall, width)
    return Content("\n").join(lines)


class ModelView(Vertical):
    """One model's block: head (name, requests in flight), two sparkline rows, foot (last load, reload)."""

    DEFAULT_CSS = """
    ModelView {
        height: auto;
        margin-bottom: 1;
    }
    ModelView .spark-row {
        height: 1;
    }
    ModelView .spark-label {
        width: auto;
    }
    ModelView Sparkline {
        width: 0;
        display: none;
    }
    """

    def __init__(self, key: tuple[str, str], width: int) -> None:
        super().__init__()
        self.key = key
        self.width = width
        self._head = Lines(classes="model-head")
        self._eval = Lines(classes="spark-label")
        self._prompt = Lines(classes="spark-label")
        self._eval_spark = Sparkline([], classes="eval")
        self._prompt_spark = Sparkline([], classes="prompt")
        self._foot = Lines(classes="model-foot")
        self._rows = [
            Horizontal(self._eval, self._eval_spark, classes="spark-row"),
            Horizontal(self._prompt, self._prompt_spark, classes="spark-row"),
        ]
        self._spark_data: dict[Sparkline, list[float]] = {}

    def compose(self) -> ComposeResult:
        yield self._head
        yield from self._rows
        yield self._foot

    def show(self, f: ModelFigures, now: float, now_wall: float) -> None:
        """Paint ``f``: ``now`` on the panel's monotonic clock (requests in flight), ``now_wall`` in Unix time."""
        w = self.width
        self._head.show(head_content(f, now, now_wall, w))
        for row in self._rows:
            row.display = bool(f.history)
        last = f.history[0] if f.history else None
        self._eval.show(rate_label("eval", last.eval_rate if last else None))
        self._prompt.show(rate_label("prompt", last.prompt_eval_rate if last else None))
        span = w - LABEL_W
        oldest_first = list(reversed(f.history))
        self._spark(self._eval_spark, [r for s in oldest_first if (r := s.eval_rate) is not None][-span:])
        self._spark(self._prompt_spark, [r for s in oldest_first if (r := s.prompt_eval_rate) is not None][-span:])
        self._foot.show(foot_content(f, now_wall, w))

    def _spark(self, spark: Sparkline, data: list[float]) -> None:
        """One column per call, so a sparkline of few calls is short rather than stretched."""
        if self._spark_data.get(spark) == data:
            return
        self._spark_data[spark] = data
        spark.data = data
        spark.styles.width = len(data)
        spark.display = len(data) > 1
