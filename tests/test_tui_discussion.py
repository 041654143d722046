"""Discussions in the workbench, driven as a user would: /open, /discuss, @name, /stop, /conclude, /plan, Tab,
a discussion reopened from the history and continued; and snapshots of a finished transcript."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import SCRIPTED_CONFIG
from echo_model import EchoBackend
from moot.core.discussion import store as stored
from moot.tui.screens.discussion import DiscussionScreen
from moot.tui.widgets.prompt import PromptInput
from moot.tui.widgets.transcript import DigestView, MessageView, TranscriptView

SIZE = (120, 34)


@pytest.fixture
def echo(scripted):
    backend = EchoBackend.install()  # in place of the plain scripted models: each answers what it heard
    backend.echoing |= {"alpha", "beta", "gamma"}
    yield backend


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for _ in range(200):  # finished answers are rendered a slice at a time
        if all(view.drawn for view in pilot.app.screen.query(MessageView)):
            break
        await pilot.pause(0.01)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def say(pilot: Any, line: str) -> None:
    prompt = pilot.app.screen.query_one(PromptInput)
    prompt.value = line
    prompt.focus()
    await pilot.press("enter")
    await settle(pilot)


def answers(screen: DiscussionScreen, n: int) -> dict[str, str]:
    assert screen.engine is not None
    r = next(r for r in screen.engine.d.rounds if r.n == n)
    return {m.speaker: m.text for m in r.messages}


async def test_open_discuss_mention_conclude_then_plan(workbench, echo) -> None:
    app = workbench(SCRIPTED_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "/open which parser?")
        screen = app.screen
        assert isinstance(screen, DiscussionScreen)
        assert answers(screen, 1) == {n: f"{n} r1 heard nothing" for n in ("alpha", "beta", "gamma")}
        views = list(screen.query(MessageView))
        assert len(views) == 3 and "alpha · scripted/alpha · done" in str(views[0].border_title)
        await say(pilot, "/discuss 2")
        assert answers(screen, 3)["beta"] == ("beta r3 heard alpha@1 beta@1 gamma@1 alpha@2 beta@2 gamma@2")
        before = len(echo.calls)
        await say(pilot, "@gamma and speed?")
        assert [c[0] for c in echo.calls[before:]] == ["gamma"]
        assert answers(screen, 4) == {"you": "and speed?", "gamma": "gamma mention heard alpha@1 beta@1 gamma@1 "
                                      "alpha@2 beta@2 gamma@2 alpha@3 beta@3 gamma@3 you@4"}
        await say(pilot, "/conclude")
        assert screen.engine is not None and screen.engine.d.conclusion is not None
        assert "Round 5 · conclusion" in [str(w.content) for w in screen.query(".round-title")][-1]
        await say(pilot, "/plan")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "MainScreen"
        main: Any = app.screen
        assert main.result is not None and main.result.task.startswith("which parser?")
        assert "What a discussion of it concluded" in main.result.task


async def test_mistakes_are_said_and_send_nothing(workbench, echo) -> None:
    app = workbench(SCRIPTED_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "/next")
        screen = app.screen
        assert isinstance(screen, DiscussionScreen)
        await say(pilot, "@zeta hello")
        await say(pilot, "/frobnicate")
        said = [n.message for n in app._notifications]
        assert any("no discussion yet: /open QUESTION" in m for m in said)
        assert any("unknown model @zeta (known: @alpha, @beta, @gamma)" in m for m in said)
        assert any("unknown command /frobnicate" in m for m in said)
        assert echo.calls == []


async def test_the_help_lists_the_prompt_commands(workbench, echo) -> None:
    from moot.tui.screens.help import describe

    app = workbench(SCRIPTED_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        sections = dict(describe(app.screen))
        rows = sections["Prompt commands (a line starting with / or @; Tab completes)"]
        assert [r.keys for r in rows] == ["/open QUESTION", "/discuss [N] [seq]", "/next", "/stop", "@model TEXT",
                                          "/conclude", "/plan"]


async def test_tab_completes_a_command_and_a_name(workbench, echo) -> None:
    app = workbench(SCRIPTED_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "/open q")
        prompt = app.screen.query_one(PromptInput)
        prompt.value = "@ga"
        prompt.cursor_position = 3
        await pilot.press("tab")
        assert prompt.value == "@gamma "
        prompt.value = "/con"
        await pilot.press("tab")
        assert prompt.value == "/conclude "


@pytest.mark.parametrize("how", ["ctrl+x", "/stop"])
async def test_stop_keeps_the_finished_answers(workbench, echo, how) -> None:
    app = workbench(SCRIPTED_CONFIG.replace('model = "scripted/gamma"', 'model = "scripted/gamma"\ntimeout_s = 30'))
    async with app.run_test(size=SIZE) as pilot:
        echo.enqueue("gamma", hang=True)
        prompt = app.screen.query_one(PromptInput)
        prompt.value = "/open q"
        await pilot.press("enter")
        for _ in range(100):
            await pilot.pause(0.02)
            screen = app.screen
            if isinstance(screen, DiscussionScreen) and screen.engine is not None and screen.engine.d.rounds and \
                    sum(m.status == "done" for m in screen.engine.d.rounds[0].messages) == 2:
                break
        if how == "ctrl+x":
            await pilot.press("ctrl+x")
        else:
            await say(pilot, "/stop")
        await settle(pilot)
        r = screen.engine.d.rounds[0]
        assert [str(m.status) for m in r.messages] == ["done", "done", "cancelled"]
        assert not screen.busy


async def test_a_discussion_reopened_from_the_history_goes_on(workbench, echo) -> None:
    app = workbench(SCRIPTED_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "/open which parser?")
        run_id = app.screen.run_id
        await pilot.press("escape")
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiscussionScreen) and screen.run_id == run_id
        assert len(screen.query_one(TranscriptView).views) == 3
        await say(pilot, "/next")
        assert answers(screen, 2)["alpha"] == "alpha r2 heard alpha@1 beta@1 gamma@1"
        d = stored.load(app.store, run_id)
        assert d is not None and len(d.rounds) == 2


@pytest.mark.parametrize("size", [(120, 34), (80, 24)])
def test_snapshot_of_a_finished_transcript(workbench, echo, snap_compare, size) -> None:
    """The discussion screen: a header "Discussion 20260101-000000-0001 · which parser?" over "alpha, beta,
    gamma · /discuss, /next or @model"; round 1 "first answers" with alpha, beta and gamma each in a rounded box
    titled in its model's colour with its model, "done" and its figures, and below round 2 the same three
    answering what they heard; the prompt at the bottom, the footer with Back and Messages sent."""
    app = workbench(SCRIPTED_CONFIG)

    async def run_before(pilot: Any) -> None:
        await say(pilot, "/open which parser?")
        await say(pilot, "/next")

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(120, 34), (80, 24)])
def test_snapshot_of_a_round_in_flight(workbench, echo, snap_compare, size) -> None:
    """A round in flight: round 1's three boxes, alpha "done" with its answer, beta "streaming" with the words it
    has sent so far ("beta is still"), gamma "streaming" with its first word; the footer offers ^x Stop round."""
    app = workbench(SCRIPTED_CONFIG)
    echo.enqueue("beta", "beta is still thinking about it", hang_after=3)
    echo.enqueue("gamma", "gamma wonders", hang_after=1)

    async def run_before(pilot: Any) -> None:
        prompt = pilot.app.screen.query_one(PromptInput)
        prompt.value = "/open which parser?"
        await pilot.press("enter")
        for _ in range(200):
            await pilot.pause(0.02)
            screen = pilot.app.screen
            views = list(screen.query(MessageView)) if isinstance(screen, DiscussionScreen) else []
            if len(views) == 3 and views[1].streamed.strip() == "beta is still" and views[2].streamed == "gamma" \
                    and views[0].shown is not None and views[0].drawn:  # alpha's finished answer drawn
                break
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.1)  # the streamed words painted (they reach the screen on a timer)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_an_answer_s_escape_sequences_never_reach_the_terminal(workbench, echo) -> None:
    app = workbench(SCRIPTED_CONFIG)
    echo.enqueue("alpha", "plain \x1b]0;owned\x07 and \x1b[2J text")
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "/open q")
        view = next(v for v in app.screen.query(MessageView) if v.said.speaker == "alpha")
        shown = view.shown or ""  # the Markdown the answer is drawn from
        assert "\x1b" not in shown and "\x07" not in shown and "owned" in shown


async def test_a_digest_of_the_early_rounds_is_shown_in_the_transcript(workbench, echo) -> None:
    """Once the transcript outgrows the smallest window, the digest handed over instead of the early rounds is
    a box of its own under the last round it condenses, with its token counts; reopened, it is there again."""
    small = SCRIPTED_CONFIG.replace('model = "scripted/alpha"', 'model = "scripted/alpha"\nnum_ctx = 1400') \
        .replace('model = "scripted/beta"', 'model = "scripted/beta"\nnum_ctx = 1400')
    app = workbench(small)
    long = " ".join(["word"] * 150)
    for _ in range(3):
        for n in ("alpha", "beta", "gamma"):
            echo.enqueue(n, f"{n} says {long}")
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "/open which parser?")
        await say(pilot, "/next")
        await say(pilot, "/next")
        screen = app.screen
        assert isinstance(screen, DiscussionScreen) and screen.engine is not None
        digest = screen.engine.d.digest
        assert digest is not None and digest.tokens < digest.source_tokens
        view = screen.query_one("#digest", DigestView)
        assert f"{digest.source_tokens} → {digest.tokens} tokens" in str(view.border_title)
        transcript = screen.query_one(TranscriptView)
        children = list(transcript.children)
        assert children.index(view) == children.index(transcript.query_one(f"#round-{digest.upto}")) + 1
        run_id = screen.run_id
        await pilot.press("escape")
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.run_id == run_id
        assert app.screen.query_one("#digest", DigestView).digest.upto == digest.upto
