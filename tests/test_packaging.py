"""Every package folder is listed in pyproject.toml, so an install ships all of moot."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"core": "moot.core", "context": "moot.context", "agents": "moot.agents", "tui": "moot.tui", "cli": "moot.cli",
           "themes": "moot.themes"}


def test_every_package_is_listed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    found = set()
    for folder, name in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    assert found == listed


def test_prompt_variants_ship_as_package_data() -> None:
    from moot.core.ensemble.prompts import builtin_variants

    assert builtin_variants() == ["architect", "backend", "default", "frontend", "security-engineer",
                                  "test-engineer"]
