"""The changed files of a run: each with the user's decision and its +/− counts."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from .choices import FILE_ICONS, Choices, FileChoice

STATE_STYLES = {"accepted": "$text-success", "rejected": "$text-error", "partial": "$text-warning",
                "undecided": "$foreground-muted"}
STATUS_NOTES = {"added": " (new)", "deleted": " (deleted)", "renamed": " (renamed)"}


def file_prompt(choice: FileChoice, widths: tuple[int, int]) -> Content:
    """``✓ +12 −3 path/to/file.py``: the decision, the counts in fixed columns, the path; a file that needs the
    user's eye (``FileDiff.warning``) is marked ``⚠`` and says why on the next line."""
    d = choice.diff
    state = choice.state
    added, removed = f"+{d.added}", f"−{d.removed}"
    warning = d.warning
    path = d.path + ("" if d.status == "modified" else STATUS_NOTES.get(d.status, "")) + (" (binary)" if d.binary else "")
    parts: list[str | tuple[str, str]] = [
        (FILE_ICONS[state], STATE_STYLES[state]), " ",
        (added.rjust(widths[0]), "$text-success"), " ", (removed.rjust(widths[1]), "$text-error"), " ",
    ]
    if warning:  # (an empty styled piece would swallow the space before the path)
        parts += [("⚠ ", "$text-warning"), path, (f"\n  ⚠ {warning}", "$text-warning")]
    else:
        parts.append(path)
    return Content.assemble(*parts)


class FileList(OptionList):
    """One option per file (its id is the path); highlighting one shows it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.widths = (2, 2)

    def set_files(self, choices: Choices) -> None:
        files = [c.diff for c in choices.files]
        self.widths = (max((len(f"+{f.added}") for f in files), default=2),
                       max((len(f"−{f.removed}") for f in files), default=2))
        self.clear_options()
        self.add_options([Option(file_prompt(c, self.widths), id=c.diff.path) for c in choices.files])
        if choices.files:
            self.highlighted = 0

    def refresh_file(self, choice: FileChoice) -> None:
        self.replace_option_prompt(choice.diff.path, file_prompt(choice, self.widths))

    @property
    def path(self) -> str | None:
        """The highlighted file."""
        if self.highlighted is None:
            return None
        return self.get_option_at_index(self.highlighted).id

    def select_path(self, path: str) -> None:
        self.highlighted = self.get_option_index(path)
