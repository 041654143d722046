"""How the perf panel writes figures: sizes, durations, ages, rates, and lines packed to the panel's width.

Plain strings only, so every rule here is testable without a screen.
"""

from __future__ import annotations

from collections.abc import Sequence

SEP = " · "


def size(n: int | None) -> str:
    """Bytes as ``4.7 GB``, ``135 MB``; ``?`` when unknown."""
    if n is None:
        return "?"
    for unit, step in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= step:
            value = n / step
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n} B"


def duration(seconds: float) -> str:
    """``45s``, ``4m 00s``, ``2h 05m``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def ago(seconds: float) -> str:
    """How long ago: ``just now``, ``12 s ago``, ``3 min ago``, ``2 h ago``, ``4 d ago``."""
    s = max(0.0, seconds)
    if s < 2:
        return "just now"
    if s < 60:
        return f"{s:.0f} s ago"
    if s < 3600:
        return f"{s // 60:.0f} min ago"
    if s < 86400:
        return f"{s // 3600:.0f} h ago"
    return f"{s // 86400:.0f} d ago"


def rate(x: float | None) -> str:
    """Tokens per second: one decimal below 100, none above; ``–`` when unknown."""
    if x is None:
        return "–"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def seconds(x: float | None) -> str:
    """A short time: ``0.42 s``, ``3.2 s``, ``12 s``; ``–`` when unknown."""
    if x is None:
        return "–"
    if x < 1:
        return f"{x:.2f} s"
    return f"{x:.1f} s" if x < 10 else f"{x:.0f} s"


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, ending in ``…`` when cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def host_label(host: str) -> str:
    """A host as the panel names it: the URL without its scheme."""
    return host.split("://", 1)[-1]


def pack(parts: Sequence[str], width: int) -> list[str]:
    """Join ``parts`` with `` · `` into as few lines of at most ``width`` columns as possible, never splitting
    a part (a part longer than the width is clipped)."""
    lines: list[str] = []
    line = ""
    for part in parts:
        if not part:
            continue
        if line and len(line) + len(SEP) + len(part) <= width:
            line += SEP + part
            continue
        if line:
            lines.append(line)
        line = clip(part, width)
    if line:
        lines.append(line)
    return lines


def spread(left: str, right: str, width: int) -> str:
    """``left`` and ``right`` on one line of ``width`` columns: ``right`` flush right, ``left`` clipped to make
    room."""
    room = width - len(right) - 1
    left = clip(left, room)
    return left + " " * (width - len(left) - len(right)) + right


BARS = "▁▂▃▄▅▆▇█"


def bars(values: Sequence[float], width: int = 12) -> str:
    """``values`` (each 0 to 1) as a row of block characters, the latest at the right, at most ``width``."""
    return "".join(BARS[min(len(BARS) - 1, int(max(0.0, v) * len(BARS)))] for v in list(values)[-width:])


def rolling(series: Sequence[int], window: int = 5) -> list[float]:
    """The success rate over each run of ``window`` outcomes (fewer at the start), oldest first."""
    return [sum(series[max(0, i - window + 1):i + 1]) / len(series[max(0, i - window + 1):i + 1])
            for i in range(len(series))]
