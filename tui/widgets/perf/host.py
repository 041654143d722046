"""One host in the perf panel: whether it answers, its version, and each loaded model with its size, where it
runs (CPU, GPU or the split), its context length and the time until it is unloaded."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from moot.core.perf.hosts import HostStatus, LoadedModel
from moot.core.perf.store import EMBEDDED_HOST
from moot.core.providers.kinds import OLLAMA

from . import fmt
from .lines import Lines

MUTED = "$foreground-muted"
WORKER_NOTE = "in the model worker · CPU"
"""Where the embedded engine runs: the workbench's model worker process, on the CPU."""


def _loaded_lines(m: LoadedModel, age_s: float, width: int) -> list[Content]:
    name = OLLAMA.strip(m.model)
    lines = [Content.assemble("  ", fmt.spread(name, fmt.size(m.size), width - 2))]
    left = m.expires_in_s
    until = "stays loaded" if left is None else f"{fmt.duration(left - age_s)} left"
    ctx = f"ctx {m.context_length}" if m.context_length else ""
    for text in fmt.pack([m.processor, ctx, until], width - 2):
        lines.append(Content.assemble(("  " + text, MUTED)))
    return lines


def host_content(status: HostStatus, *, age_s: float, width: int, busy: Sequence[str] = ()) -> Content:
    """The lines of one host, ``age_s`` seconds after its snapshot was taken, at most ``width`` columns; ``busy``:
    the models a request in flight is using there (a model is loaded by its first call, before the host says so)."""
    embedded = status.host == EMBEDDED_HOST
    label = "embedded engine" if embedded else fmt.host_label(status.host)
    if not status.reachable:
        lines = [Content.assemble(("✗ ", "$error"), (fmt.spread(label, "unreachable", width - 2), "$error"))]
        if status.error:
            lines.append(Content.assemble(("  " + status.error, MUTED)))
        return Content("\n").join(lines)
    version = f"v{status.version or '?'}"
    lines = [Content.assemble(("● ", "$success"), (fmt.spread(label, version, width - 2), "bold"))]
    if embedded:
        lines.append(Content.assemble(("  " + WORKER_NOTE, MUTED)))
    if status.error:
        lines.append(Content.assemble(("  " + status.error, "$warning")))
    for m in status.loaded:
        lines += _loaded_lines(m, age_s, width)
    known = {m.model for m in status.loaded}  # an Ollama host names a model by its tag alone
    serving = [name for name in dict.fromkeys(busy) if name not in known and name.split("/", 1)[-1] not in known]
    for name in serving:
        lines.append(Content.assemble(("  " + name, "bold"), (" · serving a call", MUTED)))
    if not status.loaded and not serving and not status.error:
        lines.append(Content.assemble(("  nothing loaded", MUTED)))
    return Content("\n").join(lines)


class HostView(Lines):
    """One host's lines."""
