"""An agent's answer made fit to show as Markdown while it streams.

SEARCH/REPLACE blocks are not Markdown: ``=======`` under a line makes that line a heading, and the code loses
its line breaks. ``EditFencer`` puts every block that is not already inside a code fence into one, a line at a
time, and holds back only a partial line that could still become a block marker.
"""

from __future__ import annotations

FENCE = "```"
SEARCH, DIVIDER, REPLACE = "<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE"


def _could_be_marker(partial: str) -> bool:
    text = partial.rstrip()
    return any(marker.startswith(text) for marker in (SEARCH, REPLACE)) or text.startswith(FENCE)


class EditFencer:
    """Turns pieces of an answer into pieces of Markdown; ``feed`` returns the text to append."""

    def __init__(self) -> None:
        self._pending = ""
        """The start of a line that may be a marker: held back until its line ends."""
        self._shown = 0
        """How much of the current (unfinished) line has been passed on already."""
        self._line = ""
        self._in_fence = False
        """Inside a fence the model opened itself."""
        self._ours = False
        """Inside a fence opened here around a block."""

    def feed(self, text: str) -> str:
        out: list[str] = []
        for piece in text.splitlines(keepends=True):
            self._line += piece
            if piece.endswith("\n"):
                out.append(self._end_line())
            elif not _could_be_marker(self._line):
                out.append(self._line[self._shown:])
                self._shown = len(self._line)
        return "".join(out)

    def _end_line(self) -> str:
        line, shown = self._line, self._shown
        self._line, self._shown = "", 0
        bare = line.strip()
        if shown:  # already passed on in part: it was plain text
            return line[shown:]
        if bare.startswith(FENCE) and not self._ours:
            self._in_fence = not self._in_fence
            return line
        if bare == SEARCH and not self._in_fence and not self._ours:
            self._ours = True
            return f"{FENCE}\n{line}"
        if bare == REPLACE and self._ours:
            self._ours = False
            return f"{line}{FENCE}\n"
        return line

    def finish(self) -> str:
        """Whatever is left at the end of the answer, with an open block's fence closed."""
        rest = self._line[self._shown:]
        self._line, self._shown = "", 0
        if self._ours:
            self._ours = False
            rest = (rest + "\n" if rest and not rest.endswith("\n") else rest) + FENCE + "\n"
        return rest


def fenced(text: str) -> str:
    """The whole of an answer, fenced."""
    fencer = EditFencer()
    return fencer.feed(text) + fencer.finish()
