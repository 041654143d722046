"""One file's diff, unified or side by side, syntax-highlighted, with a hunk cursor.

Each hunk is a block: a header row (its ``@@`` line and the user's decision) and its lines. The lines are
rendered once per width and kept as strips; the header and the cursor bar are drawn as the rows are painted,
so moving the cursor or deciding a hunk repaints without rendering anything again. Long lines fold, so nothing
is cut off in either layout. Colours come from the component classes, styled by the screen's stylesheet with
``$diff-added`` and ``$diff-removed``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.highlight import guess_language, highlight
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style as VisualStyle

from moot.agents.hunks import FileDiff, Hunk, side_by_side

from .choices import Mark

GUTTER = 4
"""Cells for a line number."""
TAB = 4

MARK_LABELS = {True: ("✓ accepted", ".hunkview--accepted"), False: ("✗ rejected", ".hunkview--rejected"),
               None: ("· undecided", ".hunkview--undecided")}


def highlight_lines(lines: Sequence[str], language: str) -> list[Content]:
    """Each of ``lines`` highlighted as ``language``, lexed together so that strings and comments spanning
    lines come out right; plain text when the lines cannot be told apart again."""
    if not lines:
        return []
    plain = [Content(line).expand_tabs(TAB) for line in lines]
    if any(ch in line for line in lines for ch in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        return plain
    try:
        parts = highlight("\n".join(lines), language=language).split("\n", allow_blank=True)
    except Exception:  # a lexer that fails on odd input: show the code plain rather than not at all
        return plain
    parts += [Content("")] * (len(lines) - len(parts))
    if len(parts) != len(lines) or any(p.plain != line for p, line in zip(parts, lines, strict=True)):
        return plain
    return [p.expand_tabs(TAB) for p in parts]


@dataclass
class _Code:
    """A hunk's code, highlighted: the old side (context and removed lines) and the new side (context and
    added lines), in order."""

    old: list[Content]
    new: list[Content]


def hunk_code(hunk: Hunk, language: str) -> _Code:
    old = [line[1:] for line in hunk.lines if line[:1] in (" ", "-")]
    new = [line[1:] for line in hunk.lines if line[:1] in (" ", "+")]
    return _Code(highlight_lines(old, language), highlight_lines(new, language))


class HunkView(ScrollView, can_focus=True):
    """The selected file's diff. Up and down move the hunk cursor; the screen decides what keys do to it."""

    COMPONENT_CLASSES = {
        "hunkview--added", "hunkview--removed", "hunkview--empty", "hunkview--gutter", "hunkview--hunk",
        "hunkview--hunk-cursor", "hunkview--cursor", "hunkview--accepted", "hunkview--rejected",
        "hunkview--undecided", "hunkview--note",
    }
    BINDINGS = [
        Binding("down,j", "next_hunk", "Next hunk", show=False, id="diff.next-hunk",
                tooltip="Move the cursor to the next hunk"),
        Binding("up,k", "previous_hunk", "Previous hunk", show=False, id="diff.previous-hunk",
                tooltip="Move the cursor to the previous hunk"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)
    side_by_side: reactive[bool] = reactive(False)

    class CursorMoved(Message):
        """The hunk cursor moved (or a new file is shown)."""

        def __init__(self, view: HunkView, hunk: int) -> None:
            super().__init__()
            self.view = view
            self.hunk = hunk

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.file: FileDiff | None = None
        self.marks: list[Mark] = []
        self.whole = False
        self._language = "text"
        self._code: dict[int, _Code] = {}
        self._bodies: list[list[Strip]] = []
        self._new_rows: list[dict[int, int]] = []
        """Per block: a line number on the new side to its row in the block's body."""
        self._starts: list[int] = []
        self._total = 0
        self._width = 0
        self._dirty = True

    # ------------------------------------------------------------------------------------------ showing

    def show(self, file: FileDiff | None, marks: Sequence[Mark], whole: bool) -> None:
        """Show ``file`` with the user's ``marks`` (one per hunk, or one when it is decided ``whole``)."""
        self.file, self.marks, self.whole = file, list(marks), whole
        self._code.clear()
        if file is not None:
            sample = "\n".join(line[1:] for h in file.hunks[:3] for line in h.lines[:40])
            self._language = guess_language(sample, file.path)
        self._dirty = True
        self.scroll_to(y=0, animate=False, immediate=True)
        self.cursor = 0
        self.refresh()

    def set_marks(self, marks: Sequence[Mark]) -> None:
        self.marks = list(marks)
        self.refresh()

    @property
    def blocks(self) -> int:
        """How many blocks there are: one per hunk (one for a file without hunks)."""
        if self.file is None:
            return 0
        return max(1, len(self.file.hunks))

    def mark_of(self, block: int) -> Mark:
        if not self.marks:
            return None
        return self.marks[0 if self.whole else min(block, len(self.marks) - 1)]

    # ------------------------------------------------------------------------------------------ cursor

    def watch_cursor(self, old: int, new: int) -> None:
        if self.blocks and not 0 <= new < self.blocks:
            self.cursor = max(0, min(new, self.blocks - 1))
            return
        self._ensure_built()
        self._reveal(new)
        self.refresh()
        self.post_message(self.CursorMoved(self, new))

    def watch_side_by_side(self) -> None:
        self._dirty = True
        self.refresh()
        self.call_after_refresh(self._reveal, self.cursor)

    def action_next_hunk(self) -> None:
        if self.cursor + 1 < self.blocks:
            self.cursor += 1
        else:
            self.scroll_down(animate=False)

    def action_previous_hunk(self) -> None:
        if self.cursor > 0:
            self.cursor -= 1
        else:
            self.scroll_up(animate=False)

    def _reveal(self, block: int) -> None:
        """Scroll so the block is in view: all of it when it fits, else its header at the top."""
        if not self._starts or block >= len(self._starts):
            return
        start = self._starts[block]
        end = start + 1 + len(self._bodies[block])
        height = self.scrollable_content_region.height
        top = int(self.scroll_y)
        if end - start >= height or start < top:
            self.scroll_to(y=start, animate=False, immediate=True)
        elif end > top + height:
            self.scroll_to(y=end - height, animate=False, immediate=True)

    def goto_line(self, line: int) -> None:
        """Put the cursor on the hunk holding ``line`` of the new file (else the nearest) and bring that line
        into view."""
        if self.file is None or not self.file.hunks:
            return
        hunks = self.file.hunks
        inside = [i for i, h in enumerate(hunks) if h.new_start <= line < h.new_start + max(h.new_len, 1)]
        block = inside[0] if inside else min(range(len(hunks)), key=lambda i: abs(hunks[i].new_start - line))
        self.cursor = block
        self._ensure_built()
        row = self._new_rows[block].get(line) if block < len(self._new_rows) else None
        if row is not None:
            y = self._starts[block] + 1 + row
            height = self.scrollable_content_region.height
            if not self.scroll_y <= y < self.scroll_y + height:
                self.scroll_to(y=max(0, y - height // 3), animate=False, immediate=True)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or not self._starts:
            return
        y = int(self.scroll_y) + offset.y
        if y < self._total:
            self.cursor = bisect_right(self._starts, y) - 1

    # --------------------------------------------------------------------------------------- rendering

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._dirty = True

    def on_resize(self) -> None:
        if self.scrollable_content_region.width - 1 != self._width:
            self._dirty = True
            self.refresh()

    def _ensure_built(self) -> None:
        width = self.scrollable_content_region.width - 1  # one cell for the cursor bar
        if not self._dirty and width == self._width:
            return
        self._dirty = False
        self._width = width
        self._bodies, self._new_rows, self._starts = [], [], []
        total = 0
        if width > 8 and self.file is not None:
            for block in range(self.blocks):
                body, rows = self._render_block(block, width)
                self._starts.append(total)
                self._bodies.append(body)
                self._new_rows.append(rows)
                total += 1 + len(body)
        self._total = total
        self.virtual_size = Size(self.scrollable_content_region.width, total)

    def _code_of(self, block: int) -> _Code:
        assert self.file is not None
        if block not in self._code:
            self._code[block] = hunk_code(self.file.hunks[block], self._language)
        return self._code[block]

    def _layer(self, name: str) -> VisualStyle:
        """A component class's whole style, background included (a ``.name`` span style keeps only its
        colour and text style, not an opaque background)."""
        return self.get_visual_style(name)

    def _strip(self, content: Content, width: int) -> Strip:
        base = self.visual_style
        segments = [Segment(text, style.rich_style)
                    for text, style in content.render(base, end="", parse_style=self._get_style)]
        return Strip(segments).crop_extend(0, width, base.rich_style)

    def _render_block(self, block: int, width: int) -> tuple[list[Strip], dict[int, int]]:
        f = self.file
        assert f is not None
        if not f.hunks:
            if f.binary:
                note = "Binary file: accept or reject it whole."
            elif f.status == "renamed":
                note = f"Renamed from {f.old_path}; no line changed."
            else:
                note = "No line changed (the file's mode or name changed)."
            return [self._strip(Content.styled(note, ".hunkview--note"), width)], {}
        if self.side_by_side:
            return self._side_by_side(f.hunks[block], self._code_of(block), width)
        return self._unified(f.hunks[block], self._code_of(block), width)

    def _cells(self, gutter: str, code: Content, width: int, style: str) -> list[Content]:
        """A line number and its code in ``width`` cells, folded onto as many rows as it needs."""
        room = max(1, width - len(gutter))
        pieces = code.fold(room) if code.cell_length > room else [code]
        out = []
        for k, piece in enumerate(pieces):
            line = Content.assemble((gutter if k == 0 else " " * len(gutter), ".hunkview--gutter"),
                                    piece.pad_right(room - piece.cell_length))
            out.append(line.stylize_before(self._layer(style)) if style else line)
        return out

    def _unified(self, hunk: Hunk, code: _Code, width: int) -> tuple[list[Strip], dict[int, int]]:
        rows: list[Strip] = []
        by_new: dict[int, int] = {}
        old_no, new_no, oi, ni = hunk.old_start, hunk.new_start, 0, 0
        for line in hunk.lines:
            tag = line[:1]
            if tag == "-":
                gutter, text, style = f"{old_no:>{GUTTER}} {'':>{GUTTER}} - ", code.old[oi], "hunkview--removed"
                old_no, oi = old_no + 1, oi + 1
            elif tag == "+":
                gutter, text, style = f"{'':>{GUTTER}} {new_no:>{GUTTER}} + ", code.new[ni], "hunkview--added"
                by_new[new_no] = len(rows)
                new_no, ni = new_no + 1, ni + 1
            elif tag == " ":
                gutter, text, style = f"{old_no:>{GUTTER}} {new_no:>{GUTTER}}   ", code.new[ni], ""
                by_new[new_no] = len(rows)
                old_no, new_no, oi, ni = old_no + 1, new_no + 1, oi + 1, ni + 1
            else:  # "\ No newline at end of file"
                rows.append(self._strip(Content.styled(f"{'':>{2 * GUTTER + 3}}{line[2:]}", ".hunkview--note"),
                                        width))
                continue
            rows += [self._strip(c, width) for c in self._cells(gutter, text, width, style)]
        return rows, by_new

    def _side_by_side(self, hunk: Hunk, code: _Code, width: int) -> tuple[list[Strip], dict[int, int]]:
        rows: list[Strip] = []
        by_new: dict[int, int] = {}
        left_w = (width - 1) // 2
        right_w = width - 1 - left_w
        for row in side_by_side(hunk):
            if row.left_no is not None:
                style = "" if row.kind == "same" else "hunkview--removed"
                left = self._cells(f"{row.left_no:>{GUTTER}} ", code.old[row.left_no - hunk.old_start], left_w,
                                   style)
            else:
                left = []
            if row.right_no is not None:
                style = "" if row.kind == "same" else "hunkview--added"
                right = self._cells(f"{row.right_no:>{GUTTER}} ", code.new[row.right_no - hunk.new_start],
                                    right_w, style)
                by_new[row.right_no] = len(rows)
            else:
                right = []
            height = max(len(left), len(right))
            left += [self._filler(left_w, row.left_no is None)] * (height - len(left))
            right += [self._filler(right_w, row.right_no is None)] * (height - len(right))
            for a, b in zip(left, right, strict=True):
                rows.append(self._strip(Content.assemble(a, ("│", ".hunkview--gutter"), b), width))
        return rows, by_new

    def _filler(self, width: int, empty: bool) -> Content:
        return Content.styled(" " * width, self._layer("hunkview--empty")) if empty else Content(" " * width)

    def _header(self, block: int, width: int) -> Strip:
        f = self.file
        assert f is not None
        label, label_style = MARK_LABELS[self.mark_of(block)]
        if self.whole:
            label = f"whole file · {label}"
        title = f.hunks[block].header if f.hunks else f"{f.path} ({f.status})"
        room = max(1, width - len(label) - 2)
        if len(title) > room:
            title = title[:room - 1] + "…"
        line = Content.assemble(title, " " * (width - len(title) - len(label) - 1), (label, label_style), " ")
        style = "hunkview--hunk-cursor" if block == self.cursor else "hunkview--hunk"
        return self._strip(line.stylize_before(self._layer(style)), width)

    def render_line(self, y: int) -> Strip:
        self._ensure_built()
        width = self.scrollable_content_region.width
        index = int(self.scroll_y) + y
        if not self._starts or index >= self._total:
            if self.file is None and y == 0:
                return self._strip(Content.styled("No file selected.", ".hunkview--note"), width)
            return Strip.blank(width, self.visual_style.rich_style)
        block = bisect_right(self._starts, index) - 1
        offset = index - self._starts[block]
        row = self._header(block, self._width) if offset == 0 else self._bodies[block][offset - 1]
        bar = "▌" if block == self.cursor else " "
        marker = self._strip(Content.styled(bar, ".hunkview--cursor"), 1)
        return Strip.join([marker, row])
