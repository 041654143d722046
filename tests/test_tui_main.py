"""The main screen with the scripted models: run, stream, fail alone, choose, accept, cancel, retry."""

from __future__ import annotations

from moot.tui.messages import JudgeState, ProposalState, RunFinished
from moot.tui.screens.main import MainScreen
from moot.tui.widgets.proposals import ProposalPane, ProposalsArea
from moot.tui.widgets.synthesis import SynthesisPane

JUDGE = "## Plan\n1. Change `cli.py`.\n\n## Consensus\n- add a flag\n\n## Divergent approaches\n- A vs B\n"


async def run_task(pilot, task: str = "add a --verbose flag") -> None:
    await pilot.click("#prompt")
    await pilot.press(*task, "enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_run_streams_every_proposal_and_the_synthesis(workbench, scripted) -> None:
    scripted.enqueue("alpha", "alpha plan text", delay=0.001)
    scripted.enqueue("beta", "beta plan text")
    scripted.enqueue("gamma", error=("auth", False))
    scripted.enqueue("alpha", JUDGE)
    seen: list[object] = []
    app = workbench()
    async with app.run_test(size=(120, 34), message_hook=seen.append) as pilot:
        await run_task(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        panes = screen.query_one(ProposalsArea).panes
        assert [p.state for p in panes] == ["done", "done", "failed"]
        assert panes[0].text == "alpha plan text" and panes[1].text == "beta plan text"
        assert panes[2].error and panes[2].error.startswith("auth")
        synthesis = screen.query_one(SynthesisPane)
        assert synthesis.state == "done"
        states = [(m.index, m.state) for m in seen if isinstance(m, ProposalState)]
        assert (0, "streaming") in states and (0, "done") in states and (2, "failed") in states
        assert any(isinstance(m, JudgeState) for m in seen)
        assert sum(isinstance(m, RunFinished) for m in seen) == 1
        assert app.store.runs()[0]["task"] == "add a --verbose flag"
        assert app.store.runs()[0]["status"] == "done"
        assert {c["phase"] for c in app.store.calls(app.store.runs()[0]["id"])} == {"propose", "judge"}


async def test_choose_accept_and_export(workbench, scripted, tmp_path) -> None:
    scripted.enqueue("alpha", "alpha plan")
    scripted.enqueue("beta", "beta plan")
    scripted.enqueue("gamma", "gamma plan")
    scripted.enqueue("alpha", JUDGE)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await run_task(pilot, "Add verbose flag!")
        screen = app.screen
        screen.query_one("#proposal-1", ProposalPane).focus()
        await pilot.press("p")
        assert screen.chosen is not None and screen.chosen[1] == "beta plan"
        await pilot.press("f5")
        assert screen.chosen[1].startswith("1. Change `cli.py`.")
        await pilot.press("f7")
        await app.workers.wait_for_complete()
        exported = app.loaded.project_dir / "plans" / "add-verbose-flag.md"
        text = exported.read_text()
        assert text.startswith("# Plan: Add verbose flag!\n\n1. Change `cli.py`.")
        assert "## Consensus" in text and "## Models consulted" in text and "- Plan A: " in text
        exported.write_text(text.replace("1. Change", "1. (my note) Change"))  # the user edits the export
        await pilot.press("f7")
        await app.workers.wait_for_complete()
        assert "(my note)" in exported.read_text()  # kept
        again = exported.with_name("add-verbose-flag.2.md")
        assert again.read_text() == text  # the export took the next name
        await pilot.press("f7")  # an untouched export of moot's is replaced in place
        await app.workers.wait_for_complete()
        assert not exported.with_name("add-verbose-flag.3.md").exists()


async def test_cancel_one_then_retry_it(workbench, scripted) -> None:
    scripted.enqueue("alpha", "alpha plan")
    scripted.enqueue("beta", hang=True)
    scripted.enqueue("gamma", "gamma plan")
    scripted.enqueue("alpha", JUDGE)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"task", "enter")
        await pilot.pause(0.2)
        screen = app.screen
        screen.query_one("#proposal-1", ProposalPane).focus()
        await pilot.press("k")
        await app.workers.wait_for_complete()
        await pilot.pause()
        panes = screen.query_one(ProposalsArea).panes
        assert [p.state for p in panes] == ["done", "cancelled", "done"]
        assert scripted.cancelled == ["beta"]
        scripted.enqueue("beta", "beta plan, second try")
        scripted.enqueue("alpha", JUDGE)
        panes[1].focus()
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert panes[1].state == "done" and panes[1].text == "beta plan, second try"
        assert screen.result is not None and screen.result.proposals[1].status == "done"


async def test_escape_cancels_the_whole_run(workbench, scripted) -> None:
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, hang=True)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"task", "enter")
        await pilot.pause(0.2)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        panes = app.screen.query_one(ProposalsArea).panes
        assert [p.state for p in panes] == ["cancelled"] * 3
        assert app.store.runs()[0]["status"] == "cancelled"


async def test_narrow_terminal_shows_tabs(workbench, scripted) -> None:
    app = workbench()
    async with app.run_test(size=(80, 24)) as pilot:
        await run_task(pilot)
        area = app.screen.query_one(ProposalsArea)
        assert area.narrow
        assert [p.display for p in area.panes] == [True, False, False]
        area.show(2)
        await pilot.pause()
        assert [p.display for p in area.panes] == [False, False, True]


async def test_prompt_history_up_and_down(workbench, scripted) -> None:
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await run_task(pilot, "first task")
        await run_task(pilot, "second task")
        prompt = app.screen.query_one("#prompt")
        await pilot.press("up")
        assert prompt.value == "second task"
        await pilot.press("up")
        assert prompt.value == "first task"
        await pilot.press("down", "down")
        assert prompt.value == ""


async def test_ranking_table_is_one_markdown_block(workbench, scripted) -> None:
    from moot.tui.widgets.synthesis import synthesis_markdown

    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"plan {name}")
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, "RANKING: A > B > C")
    scripted.enqueue("alpha", JUDGE)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        app.save_plan_prefs({"rank": True})
        await run_task(pilot)
        text = synthesis_markdown(app.screen.result)
        assert "| plan | model | points |\n|---|---|---|\n| A | " in text
        assert text.count("\n| ") == 4  # the header's separator and three rows, no blank line between


async def test_maximise_and_back(workbench, scripted) -> None:
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await run_task(pilot)
        pane = app.screen.query_one("#proposal-2", ProposalPane)
        pane.focus()
        await pilot.press("m")
        assert app.screen.maximized is pane
        await pilot.press("escape")
        assert app.screen.maximized is None


async def test_linked_scrolling(workbench, scripted) -> None:
    long = "\n\n".join(f"Step {i}: do thing {i}." for i in range(60))
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, long)
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await run_task(pilot)
        from moot.tui.widgets.proposals.streamed import StreamedMarkdown

        bodies = [p.query_one(StreamedMarkdown) for p in app.screen.query_one(ProposalsArea).panes]
        for b in bodies:
            b.scroll_home(animate=False)
        await pilot.pause()
        bodies[0].scroll_to(y=bodies[0].max_scroll_y / 2, animate=False)
        await pilot.pause()
        assert bodies[1].scroll_y == 0  # not linked: each scrolls on its own
        await pilot.press("f8")
        bodies[0].scroll_to(y=bodies[0].max_scroll_y, animate=False)
        await pilot.pause()
        await pilot.pause()
        assert bodies[1].scroll_y == bodies[1].max_scroll_y > 0
        assert bodies[2].scroll_y == bodies[2].max_scroll_y


async def test_every_action_is_in_the_command_palette(workbench, scripted) -> None:
    from textual.command import CommandPalette

    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        await pilot.press(*"export plan")
        await pilot.pause(0.5)
        options = palette.query_one("CommandList")
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert any("Export plan" in p for p in prompts)


async def _rendered(pilot, *views) -> None:
    """Until every view has rendered the text it was given (rendering is done a slice at a time)."""
    for _ in range(500):
        if not any(view.behind for view in views):
            return
        await pilot.pause(0.01)
    raise AssertionError("the text was never rendered")


async def test_a_backlog_is_rendered_a_slice_at_a_time() -> None:
    """Text that arrived faster than it is rendered is rendered a paragraph at a time while a slice lasts (at
    least one per turn, so it always gets on), in turns, and ends up as if it had been rendered at once; the
    paragraph still being written is rendered last."""
    from textual.app import App

    from moot.tui.widgets.proposals.streamed import StreamedMarkdown

    text = "".join(f"Paragraph {i} of the plan.\n\n" for i in range(8)) + "The last one, still being wr"

    class Host(App[None]):
        def compose(self):
            yield StreamedMarkdown(id="sliced")
            yield StreamedMarkdown(id="whole")

    async with Host().run_test(size=(60, 60)) as pilot:
        sliced, whole = pilot.app.query_one("#sliced", StreamedMarkdown), pilot.app.query_one("#whole", StreamedMarkdown)
        await pilot.pause()
        sliced.append(text)  # arrived; rendered by the next slices (here called by hand before they come)
        assert sliced.behind
        turns = 0
        while not sliced.catch_up(deadline=0.0):  # a slice already over: one paragraph a turn
            turns += 1
            assert sliced.behind and sliced._tail == []
        assert turns == 7 and not sliced.behind
        whole.append(text)
        await _rendered(pilot, whole)
        lines = lambda view: [view.render_line(y).text for y in range(view._content_height())]  # noqa: E731
        assert lines(sliced) == lines(whole)
        assert "still being wr" in lines(sliced)[-2]


async def test_streamed_lines_do_not_depend_on_how_the_text_arrived() -> None:
    """Paragraphs are rendered one by one however the text is cut into appends (a heading arriving with its
    list, or apart from it), so a finished proposal looks the same whatever the timing."""
    from textual.app import App

    from moot.tui.widgets.proposals.streamed import StreamedMarkdown, paragraph_cuts

    text = ("## Approach\n\n1. Add `--verbose`.\n2. Test it.\n\n```python\nx = 1\n\ny = 2\n```\n\n"
            "- last point\n")
    cuts = paragraph_cuts(text, 0)  # not at the blank line inside the fence
    assert [text[c:c + 6] for c in cuts] == ["1. Add", "```pyt", "- last"]

    class Host(App[None]):
        def compose(self):
            for i in range(4):
                yield StreamedMarkdown(id=f"m{i}")

    async with Host().run_test(size=(60, 80)) as pilot:
        views = list(pilot.app.query(StreamedMarkdown))
        for view, size in zip(views[:3], (1, 7, len(text)), strict=True):
            for i in range(0, len(text), size):
                view.append(text[i:i + size])
            view.finish()
        views[3].set_text(text)
        await _rendered(pilot, *views)
        rendered = [[view.render_line(y).text for y in range(view.virtual_size.height)] for view in views]
        assert rendered[0] == rendered[1] == rendered[2] == rendered[3]
        assert "Approach" in rendered[0][0] and any("y = 2" in line for line in rendered[0])


async def test_a_followed_stream_keeps_its_last_line_at_the_bottom() -> None:
    """While following, the view keeps the text's last line on its bottom row: no blank rows below the text
    (half-page moves left nine of them while the beginning scrolled away); once complete it ends there too."""
    from textual.app import App

    from moot.tui.widgets.proposals.streamed import StreamedMarkdown

    class Host(App[None]):
        def compose(self):
            yield StreamedMarkdown()

    async with Host().run_test(size=(40, 20)) as pilot:
        view = pilot.app.query_one(StreamedMarkdown)
        await pilot.pause()
        page = view.size.height
        for i in range(60):
            view.append(f"Line {i}.\n\n")
            await _rendered(pilot, view)
            content = view._content_height()
            assert view.virtual_size.height == max(content, 0)  # no blank room below the text
            assert view.scroll_y == max(0, content - page)  # as much of the text in view as fits, the end last
            shown = [view.render_line(y).text for y in range(page)]
            if content > page:
                assert shown[-2].strip() == f"Line {i}."  # the last line, then the paragraph's blank line
        view.finish()
        await _rendered(pilot, view)
        assert view.virtual_size.height == view._content_height()
        assert view.scroll_y == view.max_scroll_y == view._content_height() - page
