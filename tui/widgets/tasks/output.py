"""The selected task's agent output: the model's answer streaming in as Markdown, edits fenced."""

from __future__ import annotations

from ..proposals.streamed import StreamedMarkdown
from .fence import EditFencer
from .model import Key


class AgentOutput(StreamedMarkdown):
    """Shows one task's output at a time; keeps every task's Markdown so switching tasks is instant."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.shown: Key | None = None
        self._markdown: dict[Key, str] = {}
        self._fencers: dict[Key, EditFencer] = {}

    def markdown_of(self, key: Key) -> str:
        return self._markdown.get(key, "")

    def add(self, key: Key, text: str) -> None:
        """More of the answer of ``key``'s model (a note is plain Markdown and passes through too)."""
        fencer = self._fencers.setdefault(key, EditFencer())
        piece = fencer.feed(text)
        if not piece:
            return
        self._markdown[key] = self._markdown.get(key, "") + piece
        if key == self.shown:
            self.append(piece)

    def note(self, key: Key, text: str) -> None:
        """A line of moot's own (a retry, a failure, the commit) after the answer so far."""
        fencer = self._fencers.setdefault(key, EditFencer())
        rest = fencer.finish()
        sofar = self._markdown.get(key, "") + rest
        gap = "" if not sofar or sofar.endswith("\n\n") else ("\n" if sofar.endswith("\n") else "\n\n")
        piece = f"{rest}{gap}{text}\n\n"
        self._markdown[key] = self._markdown.get(key, "") + piece
        self._fencers[key] = EditFencer()
        if key == self.shown:
            self.append(piece)

    def reset(self) -> None:
        """Forget every task's output."""
        self._markdown.clear()
        self._fencers.clear()
        self.shown = None
        self.set_text("")

    def show(self, key: Key | None) -> None:
        """Show ``key``'s output (nothing for None)."""
        if key == self.shown:
            return
        self.shown = key
        self.set_text(self._markdown.get(key, "") if key is not None else "")
