"""The README's test command is exactly what CI runs, and it checks the code before it tests it."""

from __future__ import annotations

import re

from conftest import ROOT


def test_ci_runs_the_readme_s_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for step in ("ruff check .", "mypy", "lint-imports", "python -m pytest"):
        assert step in test_command
