"""Snapshots of the main screen, at 120x34 (and the tab layout at 80x24), on scripted models."""

from __future__ import annotations

import asyncio

PLAN_A = "## Approach\n\n1. Add `--verbose` to the parser in `cli.py`.\n2. Thread it into `run()`.\n3. Test both modes."
PLAN_B = "## Steps\n\n- Use a logging level instead of a flag.\n- Map `-v` to DEBUG.\n- Document it in README."
PLAN_C = "## Plan\n\n1. Write the failing test first.\n2. Add the flag.\n3. Check `--help` output."
JUDGE = (
    "## Plan\n1. Add `--verbose` to `cli.py` and map it to the DEBUG log level.\n2. Test both modes.\n\n"
    "## Consensus\n- Every plan touches `cli.py`.\n\n## Divergent approaches\n- Plan B prefers a log level.\n\n"
    "## Resolution rationale\nA flag mapped to a level gives both.\n\n## Unique insights\n- Plan C tests `--help`.\n"
)


async def _type_task(pilot, task: str = "add a --verbose flag") -> None:
    await pilot.click("#prompt")
    await pilot.press(*task, "enter")


async def _until(pilot, predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the screen never reached the expected state")


def test_idle(workbench, snap_compare) -> None:
    """The empty workbench: header with the project and '3/3 models usable', the hint in the middle, an
    empty synthesis pane, the prompt focused, the key hints in the footer."""
    assert snap_compare(workbench(), terminal_size=(120, 34))


def test_three_streaming(workbench, scripted, snap_compare) -> None:
    """Three columns mid-stream, each titled with its model and variant, 'streaming' and its token count;
    the synthesis pane says it is waiting for proposals."""
    scripted.enqueue("alpha", PLAN_A, hang_after=8)
    scripted.enqueue("beta", PLAN_B, hang_after=6)
    scripted.enqueue("gamma", PLAN_C, hang_after=10)

    async def run_before(pilot) -> None:
        await _type_task(pilot)
        panes = lambda: pilot.app.screen.query("ProposalPane")  # noqa: E731
        await _until(pilot, lambda: len(panes()) == 3 and [p.tokens for p in panes()] == [8, 6, 10])
        await pilot.pause(0.2)

    assert snap_compare(workbench(), terminal_size=(120, 34), run_before=run_before)


def test_done_with_one_failed(workbench, scripted, snap_compare) -> None:
    """Two columns done with their Markdown plans, titled "✓ Plan A · alpha · default" and "✓ Plan B · beta ·
    default", the third ("✗ gamma · default", no letter) failed with its error in red; the synthesis below with its Consensus, Divergent approaches, Unique insights and Resolution sections."""
    scripted.enqueue("alpha", PLAN_A)
    scripted.enqueue("beta", PLAN_B)
    scripted.enqueue("gamma", error=("auth", False))
    scripted.enqueue("alpha", JUDGE)

    async def run_before(pilot) -> None:
        await _type_task(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)

    assert snap_compare(workbench(), terminal_size=(120, 34), run_before=run_before)


def test_synthesis_with_ranking(workbench, scripted, snap_compare) -> None:
    """All three done and peer-ranked, each pane titled with the letter the judge saw (alpha B, beta C,
    gamma A): the synthesis pane shows the plan, its sections and the Borda table
    (plan, model, points); the header names the accepted synthesis as the plan."""
    scripted.enqueue("alpha", PLAN_A)
    scripted.enqueue("beta", PLAN_B)
    scripted.enqueue("gamma", PLAN_C)
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, "RANKING: A > B > C")
    scripted.enqueue("alpha", JUDGE)
    app = workbench()

    async def run_before(pilot) -> None:
        app.save_plan_prefs({"rank": True})
        await _type_task(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.press("f5")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 34), run_before=run_before)


def test_tabs_when_narrow(workbench, scripted, snap_compare) -> None:
    """At 80x24 the proposals are tabs: a tab bar with three proposers, only the second one's plan shown."""
    scripted.enqueue("alpha", PLAN_A)
    scripted.enqueue("beta", PLAN_B)
    scripted.enqueue("gamma", PLAN_C)
    scripted.enqueue("alpha", JUDGE)

    async def run_before(pilot) -> None:
        await _type_task(pilot)
        await pilot.app.workers.wait_for_complete()
        pilot.app.screen.query_one("ProposalsArea").show(1)
        await pilot.pause(0.2)

    assert snap_compare(workbench(), terminal_size=(80, 24), run_before=run_before)
