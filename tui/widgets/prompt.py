"""The task prompt at the bottom, with history on up/down."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.geometry import Size
from textual.widgets import Input


class PromptInput(Input):
    """An input that remembers earlier tasks; up and down walk through them."""

    BINDINGS = [
        Binding("up", "older", "Older task", show=False, id="prompt.older", tooltip="The previous task"),
        Binding("down", "newer", "Newer task", show=False, id="prompt.newer", tooltip="The next task"),
    ]

    def __init__(self, history: Iterable[str] = (), **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.history: list[str] = list(history)  # oldest first
        self._pos: int | None = None
        self._draft = ""

    def on_mount(self) -> None:
        self.cursor_blink = getattr(self.app, "cursor_blink", True)

    def _watch_value(self, value: str) -> None:
        # The input sets its scroll size on every keystroke, and a changed size lays out the whole screen: with
        # six panes streaming that made typing lag. Its size is its width; set that quietly first, so the
        # input's own handler finds nothing to change.
        self.set_reactive(Input.virtual_size, Size(self.content_width, 1))
        super()._watch_value(value)

    def remember(self, task: str) -> None:
        if task and (not self.history or self.history[-1] != task):
            self.history.append(task)
        self._pos = None

    def action_older(self) -> None:
        if not self.history:
            return
        if self._pos is None:
            self._draft, self._pos = self.value, len(self.history)
        self._pos = max(0, self._pos - 1)
        self.value = self.history[self._pos]
        self.cursor_position = len(self.value)

    def action_newer(self) -> None:
        if self._pos is None:
            return
        self._pos += 1
        if self._pos >= len(self.history):
            self._pos, self.value = None, self._draft
        else:
            self.value = self.history[self._pos]
        self.cursor_position = len(self.value)
