"""The files a user pinned (shown first) and dropped (never shown) for one project: the project's, for every entry
point (the workbench's context inspector sets them; the workbench, ``moot plan``, ``moot run`` and ``moot context``
all apply them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

CHOICE_PREF = "context_choice"
"""The project pref that holds the choice."""


class Prefs(Protocol):
    def get_pref(self, scope: str, key: str, default: Any = None) -> Any: ...

    def set_pref(self, scope: str, key: str, value: Any) -> None: ...


@dataclass
class ContextChoice:
    """Files the user pinned (shown first) and dropped (never shown), for one project."""

    pinned: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, store: Prefs, project_dir: Path | str) -> ContextChoice:
        raw = store.get_pref(str(project_dir), CHOICE_PREF, {}) or {}
        return cls(list(raw.get("pinned") or []), list(raw.get("dropped") or []))

    def write(self, store: Prefs, project_dir: Path | str) -> None:
        store.set_pref(str(project_dir), CHOICE_PREF, {"pinned": self.pinned, "dropped": self.dropped})

    def toggle(self, which: str, path: str) -> None:
        mine, other = (self.pinned, self.dropped) if which == "pinned" else (self.dropped, self.pinned)
        if path in mine:
            mine.remove(path)
        else:
            mine.append(path)
            if path in other:
                other.remove(path)

    def options(self) -> dict[str, list[str]]:
        """As ``planning_context``'s keyword arguments."""
        return {"pinned": list(self.pinned), "dropped": list(self.dropped)}
