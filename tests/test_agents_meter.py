"""The figures of a long step: its seconds, its tokens, its place in its engine's queue."""

from __future__ import annotations

import io

import pytest

from moot.agents import events as xe
from moot.agents import meter
from moot.agents.meter import Meter
from moot.cli.exec_printer import ExecPrinter
from moot.core.events import Queued, Started, TextDelta


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    t = [100.0]
    monkeypatch.setattr(meter, "clock", lambda: t[0])
    return t


def test_meter_counts_queue_then_tokens(now: list[float]) -> None:
    m = Meter("smollm2 splits the plan into tasks")
    m.on_event(Queued(2))
    now[0] += 12
    assert m.text() == "smollm2 splits the plan into tasks · queued · 2 ahead · 12 s"
    m.on_event(Queued(1))
    now[0] += 3
    assert m.figures() == "queued · 1 ahead · 15 s"
    m.on_event(Started())  # the step's own time starts with its call
    now[0] += 4
    m.on_event(TextDelta("abc", 7))
    m.on_event(TextDelta("d"))
    assert m.figures() == "8 tok · 4 s"


def test_exec_printer_shows_the_step_under_way(now: list[float]) -> None:
    out = io.StringIO()
    printer = ExecPrinter(out)
    printer(xe.TaskStarted(0, "t1", "smollm2"))
    printer(xe.CallQueued(0, "t1", 1))
    now[0] += 20
    printer._last_line = 0.0  # long enough ago: a quiet line is due
    printer.tick()
    printer(xe.CallQueued(0, "t1", 0))
    printer(xe.TaskText(0, "t1", "hello", 5))
    now[0] += 2
    printer._last_line = 0.0
    printer.tick()
    printer(xe.TaskDone(0, "t1", "abcdef1234", ("app.py",)))
    printer.tick()  # nothing under way: nothing printed
    lines = out.getvalue().splitlines()
    assert lines == [
        "  t1: smollm2 working…",
        "  t1 · smollm2 · queued · 1 ahead · 20 s",
        "  t1 · smollm2 · 5 tok · 2 s",
        "  t1: done, abcdef1234 (app.py), 5 tokens",
    ]
