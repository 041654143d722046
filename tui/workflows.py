"""The workflows the workbench offers, kept current while it runs.

The user's and the project's workflow folders are watched: an edited file is read and validated again at once;
a file that no longer reads keeps its last good version in use, and its mistake (file, line and key) is
reported to the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from moot.core.config import ConfigError


class WorkflowCatalog:
    """Every workflow by name, as last read well."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self.found: dict[str, Any] = {}
        """Name to ``loader.Found``: the last good version of each."""
        self.errors: list[ConfigError] = []
        """The mistakes of the files that did not read, at the last look."""

    def reload(self) -> list[ConfigError]:
        """Read every folder again; returns the mistakes that are new since the last look."""
        from moot.agents.workflow.loader import available

        found, errors = available(self.project_dir)
        broken = {Path(e.file).stem for e in errors if e.file}
        for name, kept in self.found.items():
            if name not in found and name in broken:
                found[name] = kept  # the last good version stays in use
        before = {str(e) for e in self.errors}
        self.found, self.errors = found, errors
        return [e for e in errors if str(e) not in before]

    def names(self) -> list[str]:
        return sorted(self.found)

    def get(self, name: str) -> Any | None:
        return self.found.get(name)

    def folders(self) -> list[Path]:
        from moot.agents.workflow.loader import folders

        return [Path(str(f)) for source, f in folders(self.project_dir) if source != "shipped"]

    async def watch(self, on_change: Callable[[list[ConfigError]], None]) -> None:
        """Reload whenever a workflow file changes (until cancelled); ``on_change`` gets the new mistakes (empty
        when the change read well). A folder that does not exist yet is waited for: its nearest existing parent
        is watched (not recursively) until it appears."""
        import watchfiles

        wanted = self.folders()
        while True:
            targets = {t for f in wanted if (t := _nearest(f)) is not None}
            if not targets:
                return
            existing = {f for f in wanted if f.is_dir()}
            async for changes in watchfiles.awatch(*targets, recursive=False, debounce=200, step=50):
                if any(Path(path).parent in wanted or Path(path) in wanted for _, path in changes):
                    on_change(self.reload())
                if {f for f in wanted if f.is_dir()} != existing:
                    break  # a folder appeared or went: watch it (or its parent) instead
            on_change(self.reload())  # what was written while the watch moved


def _nearest(folder: Path) -> Path | None:
    """``folder`` if it exists, else its nearest existing parent."""
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            return candidate
    return None
