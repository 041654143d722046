"""Every key of a screen, as it is bound right now (after the keymap): the screen's, the focused widget's and
its ancestors', the app's, and the proposal panes' for when one is focused."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.keys import format_key
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static

from ..widgets.prompt import PromptInput
from ..widgets.proposals import ProposalPane, ProposalsArea
from .base import MootModal

KEY_NAMES = {"escape": "Esc", "enter": "Enter", "tab": "Tab", "space": "Space", "backspace": "Backspace",
             "delete": "Delete", "home": "Home", "end": "End", "pageup": "PgUp", "pagedown": "PgDn",
             "insert": "Insert"}
COLUMNS = (("Keys", 14), ("Description", 24), ("Tooltip", 42), ("Binding id", 22))
"""The table's columns and their widths; longer text wraps."""
NARROW_COLUMNS = (("Keys", 12), ("Description", 16))
"""The first columns when the four do not fit: the tooltip takes the rest, the binding id on its last line."""
FRAME = 2 * 2 + 2 + 2 + 2
"""Columns the dialog spends around its tables: its margin, border and padding, and the scrollbar."""


def columns_for(width: int) -> tuple[tuple[str, int], ...]:
    """The columns for a terminal ``width`` wide: all four when they fit (each cell is padded by one on each
    side), else keys, description, and the tooltip with the binding id under it in what is left."""
    room = min(width, 120) - FRAME
    if sum(w + 2 for _, w in COLUMNS) <= room:
        return COLUMNS
    rest = room - sum(w + 2 for _, w in NARROW_COLUMNS) - 2
    return (*NARROW_COLUMNS, ("Tooltip · binding id", max(rest, 16)))


class KeyRow(NamedTuple):
    """One binding as the help shows it; a binding bound to several keys is one row."""

    keys: str
    description: str
    tooltip: str
    id: str


def key_label(key: str) -> str:
    """A key as people read it: ``f2`` → ``F2``, ``question_mark`` → ``?``, ``ctrl+q`` stays ``ctrl+q``."""
    *modifiers, name = key.split("+")
    is_function_key = re.fullmatch(r"f\d{1,2}", name) is not None
    label = name.upper() if is_function_key else KEY_NAMES.get(name) or format_key(name)
    return "+".join([*modifiers, label])


def rows_of(pairs: Iterable[tuple[str, Binding]]) -> list[KeyRow]:
    """(key, binding) pairs as rows, merging the keys of one binding (same id, or same action) in order."""
    merged: dict[str, tuple[list[str], Binding]] = {}
    for key, binding in pairs:
        keys, _ = merged.setdefault(binding.id or binding.action, ([], binding))
        if (label := key_label(key)) not in keys:
            keys.append(label)
    return [KeyRow(", ".join(keys), b.description, b.tooltip, b.id or "") for keys, b in merged.values()]


def keymapped(node: DOMNode | type[DOMNode], keymap: dict[str, str]) -> BindingsMap:
    """A node's (or a widget class's) bindings with the app's keymap applied, as Textual applies it."""
    bindings = BindingsMap(node.BINDINGS) if isinstance(node, type) else node._bindings.copy()
    if keymap:
        bindings.apply_keymap(keymap)
    return bindings


def describe(screen: Screen[Any]) -> list[tuple[str, list[KeyRow]]]:
    """The help's sections for ``screen``: a title and its rows, in the order they are shown."""
    app = screen.app
    keymap: dict[str, str] = dict(getattr(app, "_keymap", {}) or {})
    active = screen.active_bindings
    by_node: dict[DOMNode, list[tuple[str, Binding]]] = {}
    for key, item in active.items():
        by_node.setdefault(item.node, []).append((key, item.binding))
    focused = screen.focused
    sections = [("This screen", rows_of(by_node.pop(screen, [])))]
    for node, pairs in by_node.items():
        if node is app:
            continue
        where = "focused" if node is focused else "around the focused widget"
        sections.append((f"{type(node).__name__} ({where})", rows_of(pairs)))
    sections.append(("Everywhere", rows_of(by_node.get(app, []))))
    if focused is not None:
        live = {(item.node, item.binding.id or item.binding.action) for item in active.values()}
        taken = [(key, b) for node in (screen, app) for key, b in keymapped(node, keymap)
                 if (node, b.id or b.action) not in live
                 and app._check_action_state(b.action, node) is not False]  # as active_bindings checks
        title = f"Not while {type(focused).__name__} is focused (it takes these keys)"
        sections.append((title, rows_of(taken)))
    has_panes = bool(screen.query(ProposalPane) or screen.query(ProposalsArea))
    if has_panes and not isinstance(focused, ProposalPane):
        sections.append(("When a proposal is focused", rows_of(keymapped(ProposalPane, keymap))))
    if screen.query(PromptInput):
        sections.append(("Prompt commands (a line starting with / or @; Tab completes)", command_rows()))
    return [(title, rows) for title, rows in sections if rows]


def command_rows() -> list[KeyRow]:
    """The discussion's commands, as the help lists them."""
    from ..discussion_commands import COMMANDS

    rows = [KeyRow(f"{name} {args}".strip(), what, "", "") for name, (args, what) in COMMANDS.items()]
    rows.insert(4, KeyRow("@model TEXT", "only the named models answer; everyone sees it next round", "", ""))
    return rows


class HelpScreen(MootModal[None]):
    """The keys of the screen underneath, in tables. Esc, F1 or ? closes it."""

    CSS_PATH = "help.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close", tooltip="Close the help"),
        Binding("f1", "close", "Close", show=False, id="help.close-f1", tooltip="Close the help"),
        Binding("question_mark", "close", "Close", show=False, id="help.close-key", tooltip="Close the help"),
    ]

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.described = screen
        """The screen whose keys are listed."""

    def compose(self) -> ComposeResult:
        name = self.described.__class__.__name__
        self.columns = columns_for(self.app.size.width)
        with Vertical(id="help-dialog"):
            yield Static(f"Keys · {name}", id="help-title", markup=False)
            with VerticalScroll(id="help-sections"):
                for i, (title, rows) in enumerate(describe(self.described)):
                    yield Static(title, classes="help-section", markup=False)
                    yield self._table(rows, f"help-table-{i}", self.columns)
            yield Static("Esc, F1 or ? closes this. The config's [keys] table remaps keys by binding id.",
                         id="help-hint", markup=False)

    @staticmethod
    def _table(rows: list[KeyRow], table_id: str, columns: tuple[tuple[str, int], ...] = COLUMNS) -> Widget:
        table: DataTable[Text] = DataTable(id=table_id, classes="help-table", cursor_type="row",
                                           zebra_stripes=True)
        for label, width in columns:
            table.add_column(label, width=width)
        for row in rows:
            if len(columns) == len(COLUMNS):
                table.add_row(*(Text(cell) for cell in row), height=None)
            else:  # the binding id on the tooltip's last line
                tip = Text(row.tooltip)
                if row.id:
                    tip.append(("\n" if row.tooltip else "") + row.id, style="dim")
                table.add_row(Text(row.keys), Text(row.description), tip, height=None)
        return table

    def on_resize(self) -> None:
        if columns_for(self.app.size.width) != self.columns:
            self.refresh(recompose=True)

    def action_close(self) -> None:
        self.dismiss()
