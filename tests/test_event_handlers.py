"""Every engine's closed set of events has a handler in every interface that renders it: adding a phase, a step
or an event type without teaching the workbench and the command line fails here, not silently on screen."""

from __future__ import annotations

import typing

from moot.cli.discuss_cmd import DiscussPrinter
from moot.cli.progress import ProgressPrinter
from moot.core.discussion import EVENTS as DISCUSSION_EVENTS
from moot.core.ensemble import Phase, Progress, Step
from moot.core.events import Event, TextDelta
from moot.tui.bridge import Bridge
from moot.tui.messages import JudgeState


def test_the_workbench_bridge_handles_every_phase_step_and_call_event() -> None:
    bridge = Bridge(lambda message: None)
    assert set(bridge.phases) == {str(p) for p in Phase}
    assert set(bridge.steps) == {str(s) for s in Step}
    assert set(bridge.events) == set(typing.get_args(Event))


def test_the_bridge_dispatches_through_its_tables() -> None:
    posted: list[object] = []
    bridge = Bridge(posted.append)
    bridge(Progress(Phase.RUN, step=Step.RANKING, note="ranking"))
    assert posted == [JudgeState("ranking", "ranking")]
    bridge(Progress(Phase.PROPOSE, 0, TextDelta("hello")))
    bridge.flush()
    assert [type(m).__name__ for m in posted[1:]] == ["ProposalState", "ProposalText"]


def test_the_command_line_prints_every_phase() -> None:
    import io

    printer = ProgressPrinter(["a"], stream=io.StringIO())
    assert set(printer.phases) == {str(p) for p in Phase}
    printer(Progress(Phase.RUN, step=Step.JUDGING, note="judging with a"))
    assert "judging with a" in printer.out.getvalue()


def test_every_run_event_has_a_handler_in_both_interfaces() -> None:
    import io

    from moot.agents.events import EVENTS as RUN_EVENTS
    from moot.cli.exec_printer import ExecPrinter
    from moot.tui.screens.run_events import handled_events

    assert set(ExecPrinter(io.StringIO()).handlers) == set(RUN_EVENTS)
    assert handled_events() == set(RUN_EVENTS)


def test_the_run_printer_dispatches_through_its_table() -> None:
    import io

    from moot.agents import events as xe
    from moot.cli.exec_printer import ExecPrinter

    out = io.StringIO()
    printer = ExecPrinter(out)
    printer(xe.TaskFailed(0, "t1", "no edits"))
    assert "t1: failed: no edits" in out.getvalue()


def test_every_discussion_event_has_a_line_on_the_command_line_and_a_handler_in_the_workbench() -> None:
    from moot.tui.screens.discussion import DiscussionScreen

    assert set(DiscussPrinter().handlers) == set(DISCUSSION_EVENTS)
    assert set(DiscussionScreen().event_handlers()) == set(DISCUSSION_EVENTS)
