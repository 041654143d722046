"""core, context and agents never import Textual or the workbench."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import moot.agents
import moot.context
import moot.core


def _modules() -> list[str]:
    names = []
    for pkg in (moot.core, moot.context, moot.agents):
        names.append(pkg.__name__)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    return names


def test_lower_layers_do_not_import_the_ui() -> None:
    modules = _modules()
    assert "moot.core.ensemble.engine" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'moot.tui')))\n"
        "print('BAD', bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "BAD []" in out.stdout
