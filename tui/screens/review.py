"""The diff review of a run: the changed files, the selected file's diff (unified or side by side) with a hunk
cursor, and the reviewer's verdict beside it. The user accepts or rejects hunks, files or everything, then
lands the accepted hunks on their branch — or drops the whole run. With competing candidates, the other one
can be picked here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Footer, OptionList, Static
from textual.worker import Worker, get_current_worker

from moot.agents import runs
from moot.agents.hunks import FileDiff
from moot.core.text import terminal_safe

from ..widgets.review import Choices, FileList, HunkView, Mark, ReviewerPanel
from .base import MootScreen

if TYPE_CHECKING:
    from moot.agents.accept import AcceptResult



def dirty_message(files: list[str]) -> str:
    """What the user reads when their own uncommitted changes are in the way."""
    shown = ", ".join(files[:6]) + (f" and {len(files) - 6} more" if len(files) > 6 else "")
    return (f"Nothing was changed: you have uncommitted changes in {shown}. Commit or stash them, then "
            "apply again.")


def candidate_text(c: runs.CandidateRow, winner: bool, shown: bool) -> str:
    """``▶ 1 beta · tests passed · 12 lines · winner``."""
    tests = {True: "tests passed", False: "tests failed", None: "no tests"}[c.tests_passed]
    who = c.model_alias or "routed models"
    return (f"{'▶' if shown else ' '} {c.candidate} {who} · {tests} · {c.diff_lines or 0} lines"
            + (" · winner" if winner else ""))


class ReviewScreen(MootScreen[str | None]):
    """Dismissed with ``accepted`` or ``rejected`` when the run was closed here, else None."""

    CSS_PATH = "review.tcss"
    BINDINGS = [
        Binding("y", "hunk(True)", "Accept", id="review.accept-hunk", tooltip="Accept the hunk under the cursor"),
        Binding("n", "hunk(False)", "Reject", id="review.reject-hunk", tooltip="Reject the hunk under the cursor"),
        Binding("Y", "file(True)", "Accept file", id="review.accept-file", tooltip="Accept every hunk of this file"),
        Binding("N", "file(False)", "Reject file", id="review.reject-file", tooltip="Reject every hunk of this file"),
        Binding("a", "all", "Accept all", id="review.accept-all", tooltip="Accept every hunk of every file"),
        Binding("x", "reject_all", "Reject all", id="review.reject-all",
                tooltip="Reject the whole run: its branch and worktree are removed"),
        Binding("f5", "apply", "Apply", id="review.apply",
                tooltip="Land the accepted hunks on your branch (a commit, or uncommitted changes, by config)"),
        Binding("u", "toggle_view", "View", id="review.view", show=False,
                tooltip="Switch between the unified and the side-by-side diff"),
        Binding("c", "candidate", "Candidate", id="review.candidate",
                tooltip="Show the other candidate's changes and make it the winner"),
        Binding("right_square_bracket", "file_step(1)", "Next file", show=False, id="review.next-file",
                tooltip="Show the next file"),
        Binding("left_square_bracket", "file_step(-1)", "Previous file", show=False, id="review.previous-file",
                tooltip="Show the previous file"),
        Binding("m", "maximise", "Maximise", show=False, id="review.maximise", tooltip="Show the diff alone"),
        Binding("escape", "back", "Back", id="review.back", tooltip="Back, deciding nothing"),
    ]

    def __init__(self, run_id: str, candidate: int | None = None) -> None:
        super().__init__()
        self.run_id = run_id
        self.wanted = candidate
        self.run: runs.ExecRun | None = None
        self.cand: runs.CandidateRow | None = None
        self.choices: Choices | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Static(f"Review · run {self.run_id}", id="review-header", markup=False)
        yield Static("loading…", id="review-summary", markup=False)
        yield Static("", id="review-candidates", markup=False)
        with Horizontal(id="review-body"):
            yield FileList(id="review-files")
            yield HunkView(id="review-diff")
            yield ReviewerPanel(id="review-reviewer")
        yield Static("", id="review-message", markup=False)
        yield Footer(compact=True)

    NARROW = 100
    """Columns at and below which the file list and the reviewer's panel narrow to leave the diff its room."""

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width <= self.NARROW, "-narrow")

    def on_mount(self) -> None:
        self.set_class(self.size.width <= self.NARROW, "-narrow")
        self.query_one("#review-candidates").display = False
        self.query_one("#review-message").display = False
        self.query_one("#review-files").border_title = "Files"
        self.query_one(HunkView).focus()
        self.load(self.wanted)

    @property
    def diff(self) -> HunkView:
        return self.query_one(HunkView)

    @property
    def files(self) -> FileList:
        return self.query_one(FileList)

    # ------------------------------------------------------------------------------------------ loading

    @work(exclusive=True, group="review-load", exit_on_error=False, thread=True)
    def load(self, candidate: int | None = None, winner: bool = False) -> None:
        """Read the run and the candidate's diff against the run's base (sqlite and git: a thread). With
        ``winner``, the candidate is recorded as the run's winner first."""
        from moot.agents.hunks import GitError, diff_between, mark_outside

        store = self.moot.store
        if winner and candidate is not None:
            runs.set_winner(store, self.run_id, candidate)
        run = runs.load(store, self.run_id)
        if run is None:
            self.app.call_from_thread(self._unavailable, f"There is no run {self.run_id}.")
            return
        c = run.candidate(candidate) if candidate is not None else run.chosen
        if run.live:
            self.app.call_from_thread(self._unavailable, f"Run {run.run_id} is still being carried out.")
            return
        if run.state not in runs.OPEN and not run.resumable or c is None:
            gone = f"Run {run.run_id} was {run.state}; its branch is gone." if c is not None else \
                f"Run {run.run_id} has no branch: {run.error or 'it failed before its tasks began'}."
            self.app.call_from_thread(self._unavailable, gone)
            return
        try:
            files = mark_outside(diff_between(Path(run.repo_dir), run.base_sha, c.branch),
                                 {f for t in c.tasks for f in t.files})
        except GitError as e:
            self.app.call_from_thread(self._unavailable, f"Cannot read the changes of {c.branch}: {e}")
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_run, run, c, files)

    def _unavailable(self, text: str) -> None:
        self.query_one("#review-summary", Static).update(text)
        self.choices = None
        self.refresh_bindings()

    def show_run(self, run: runs.ExecRun, c: runs.CandidateRow, files: list[FileDiff]) -> None:
        self.run, self.cand = run, c
        self.choices = Choices(files)
        task = (run.task.strip().splitlines() or [""])[0]
        self.query_one("#review-header", Static).update(f"Review · run {run.run_id} · {task}")
        self.files.set_files(self.choices)
        if not files:
            self.diff.show(None, [], False)
        reviewer = self.moot.loaded.config.roles.get("reviewer")
        self.query_one(ReviewerPanel).show(c.review, configured=bool(reviewer))
        self._summary()
        self._candidates()
        self.refresh_bindings()

    def _summary(self) -> None:
        run, c, choices = self.run, self.cand, self.choices
        if run is None or c is None or choices is None:
            return
        files = [f.diff for f in choices.files]
        added, removed = sum(f.added for f in files), sum(f.removed for f in files)
        tests = {True: "tests passed", False: "tests failed", None: "no tests"}[c.tests_passed]
        accepted, rejected, total = choices.counts()
        onto = run.base_branch or "your checkout"
        mode = f"F5 commits them to {onto}" if self.moot.loaded.config.agents.accept == "commit" else \
            f"F5 applies them to {onto}, uncommitted"
        text = (f"{c.branch} · {len(files)} file{'s' if len(files) != 1 else ''} +{added} −{removed} · {tests} · "
                f"{accepted}/{total} accepted, {rejected} rejected · {mode}")
        if not files:
            text = f"{c.branch} changes nothing · x rejects the run"
        self.query_one("#review-summary", Static).update(text)

    def _candidates(self) -> None:
        line = self.query_one("#review-candidates", Static)
        run, c = self.run, self.cand
        if run is None or c is None or len(run.candidates) < 2:
            line.display = False
            return
        winner = run.winner if run.winner is not None else 0
        parts = [candidate_text(x, x.candidate == winner, x.candidate == c.candidate) for x in run.candidates]
        line.update("Candidates (c switches): " + "   ".join(parts))
        line.display = True

    # ------------------------------------------------------------------------------------------- showing

    @on(OptionList.OptionHighlighted, "#review-files")
    def _file_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None:
            self._show_file(event.option.id)

    def _show_file(self, path: str) -> None:
        if self.choices is None:
            return
        choice = self.choices[path]
        if self.diff.file is not choice.diff:  # the highlight's message may arrive after a jump showed it
            self.diff.show(choice.diff, choice.marks, choice.whole)
        self._title()

    def _title(self) -> None:
        path = self.files.path
        mode = "side by side" if self.diff.side_by_side else "unified"
        other = "unified" if self.diff.side_by_side else "side by side"
        self.diff.border_title = Content(f"{path} · {mode}" if path else mode)  # a model names the file: never markup
        self.diff.border_subtitle = f"u: {other}"
        self.set_class(self.diff.side_by_side, "-side-by-side")  # the panels beside it make room

    @on(ReviewerPanel.FindingChosen)
    def _finding(self, event: ReviewerPanel.FindingChosen) -> None:
        event.stop()
        self.jump(event.file, event.line)

    def jump(self, file: str, line: int | None) -> None:
        """Show ``file`` (its path, or the end of one) at ``line``."""
        if self.choices is None:
            return
        paths = [c.diff.path for c in self.choices.files]
        path = file if file in paths else next((p for p in paths if p.endswith("/" + file.lstrip("./"))), None)
        if path is None:
            self.notify(f"{file} is not among the changed files.", severity="warning", markup=False)
            return
        self.files.select_path(path)
        self._show_file(path)
        if line is not None:
            self.diff.goto_line(line)
        self.diff.focus()

    # ------------------------------------------------------------------------------------------ deciding

    def _decided(self, path: str) -> None:
        assert self.choices is not None
        choice = self.choices[path]
        self.files.refresh_file(choice)
        if self.files.path == path:
            self.diff.set_marks(choice.marks)
        self._summary()

    def action_hunk(self, mark: Mark) -> None:
        path = self.files.path
        if self.choices is None or path is None:
            return
        self.choices.set_hunk(path, self.diff.cursor, mark)
        self._decided(path)
        if not self.choices[path].whole and self.diff.cursor + 1 < self.diff.blocks:
            self.diff.cursor += 1

    def action_file(self, mark: Mark) -> None:
        path = self.files.path
        if self.choices is None or path is None:
            return
        self.choices.set_file(path, mark)
        self._decided(path)

    def action_all(self) -> None:
        if self.choices is None:
            return
        self.choices.set_all(True)
        for c in self.choices.files:
            self._decided(c.diff.path)

    def action_toggle_view(self) -> None:
        self.diff.side_by_side = not self.diff.side_by_side
        self._title()

    def action_file_step(self, step: int) -> None:
        files = self.files
        if files.option_count:
            files.highlighted = ((files.highlighted or 0) + step) % files.option_count

    def action_maximise(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            self.maximize(self.diff, container=False)

    def action_candidate(self) -> None:
        if self.run is None or self.cand is None or len(self.run.candidates) < 2:
            return
        order = [c.candidate for c in self.run.candidates]
        other = order[(order.index(self.cand.candidate) + 1) % len(order)]
        self.query_one("#review-summary", Static).update(f"Loading candidate {other}…")
        self.load(other, winner=True)
        self.notify(f"Candidate {other} is the winner now.", title="Candidate")

    # ------------------------------------------------------------------------------------------ landing

    def action_apply(self) -> None:
        if self.choices is None or self.run is None or self.cand is None:
            return
        selection = self.choices.selection()
        if not selection:
            self.notify("Nothing is accepted yet: y accepts the hunk under the cursor, a accepts everything.",
                        severity="warning")
            return
        accepted, _, total = self.choices.counts()
        mode = self.moot.loaded.config.agents.accept
        onto = self.run.base_branch or "your checkout"
        how = "as one commit" if mode == "commit" else "as uncommitted changes"
        files = len(selection)
        text = (f"{accepted} of {total} hunks in {files} file{'s' if files != 1 else ''} land on {onto} {how}"
                + (f" (with the trailer Moot-Run: {self.run.run_id})" if mode == "commit" else "") + ". "
                "What is not accepted is dropped with the run's branch and worktree.")

        from moot.agents.landing import blocking_review, findings_text

        blocked = blocking_review(self.cand)

        def answered(yes: bool | None) -> None:
            if yes:
                self._busy(True)
                self.apply(selection, mode, force=blocked is not None)

        if blocked is not None:  # the reviewer said BLOCK: only an explicit override lands it (and is stored)
            findings = terminal_safe(findings_text(blocked)) or "(no findings given)"
            self.open("confirm", f"The reviewer ({blocked.get('model') or 'unknown'}) says BLOCK",
                      f"{findings}\n\n{text}\n\nAccepting anyway is stored with the run.", "Accept anyway",
                      danger=True, callback=answered)
            return
        self.open("confirm", "Apply the accepted changes?", text, "Apply", callback=answered)

    def _busy(self, busy: bool) -> None:
        self.busy = busy
        self.query_one("#review-body").loading = busy
        self.refresh_bindings()

    @work(exclusive=True, group="review-apply", exit_on_error=False, thread=True)
    def apply(self, selection: dict[str, set[int] | None], mode: Any, force: bool = False) -> None:
        """Land the accepted hunks (git, hence a thread); a refusal changes nothing. ``force``: over the
        reviewer's BLOCK (the user said so)."""
        from moot.agents.accept import AcceptError, DirtyTreeError
        from moot.agents.landing import land

        assert self.run is not None and self.cand is not None
        try:
            result = land(self.moot.store, self.run, self.cand, selection, mode=mode, force=force)
        except DirtyTreeError as e:
            self.app.call_from_thread(self._refused, dirty_message(e.files))
            return
        except AcceptError as e:
            self.app.call_from_thread(self._refused, f"Nothing was changed: {e}")
            return
        self.app.call_from_thread(self._applied, result)

    def _refused(self, text: str) -> None:
        self._busy(False)
        message = self.query_one("#review-message", Static)
        message.update(text)
        message.display = True
        self.notify(text, title="Not applied", severity="error", timeout=12, markup=False)

    def _applied(self, result: AcceptResult) -> None:
        self._busy(False)
        files = ", ".join(result.files)
        if result.commit:
            self.notify(f"Commit {result.commit[:10]}: {files}", title="Accepted", markup=False)
        else:
            self.notify(f"Uncommitted changes in {files}", title="Accepted", markup=False)
        self.dismiss("accepted")

    def action_reject_all(self) -> None:
        if self.run is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._busy(True)
                self.reject()

        branches = ", ".join(c.branch for c in self.run.candidates)
        self.open("confirm", "Reject every change?",
                  f"Run {self.run.run_id} is dropped: {branches} and its worktree are removed. Your own files are "
                  "not touched.", "Reject all", danger=True, callback=answered)

    @work(exclusive=True, group="review-apply", exit_on_error=False, thread=True)
    def reject(self) -> None:
        from moot.agents.landing import drop

        assert self.run is not None
        removed = drop(self.moot.store, self.run)
        self.app.call_from_thread(self._rejected, removed)

    def _rejected(self, removed: list[str]) -> None:
        self._busy(False)
        self.notify(f"Removed {', '.join(removed) or 'nothing (no branch was left)'}.", title="Run rejected", markup=False)
        self.dismiss("rejected")

    # ------------------------------------------------------------------------------------------- the rest

    def action_back(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("back", "maximise", "toggle_view", "file_step"):
            return True
        if action == "candidate":
            return self.run is not None and len(self.run.candidates) > 1
        if self.busy or self.choices is None:
            return None if action != "candidate" else False
        return True

    def worker_failed(self, worker: Worker[Any]) -> None:
        if self.busy:
            self._busy(False)
