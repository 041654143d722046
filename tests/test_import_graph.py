"""The package's shape, read from the source (every import, at module level or inside a function):
the layers hold, the providers never reach the perf store, and which kind of server a model runs on is said
only by the providers (``providers.kinds``), never by a string test elsewhere."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import ROOT

FOLDERS = {"core": "moot.core", "context": "moot.context", "agents": "moot.agents", "cli": "moot.cli",
           "tui": "moot.tui", "themes": "moot.themes"}
#: What each top-level package may import of the others.
MAY_IMPORT = {
    "moot.core": set(),
    "moot.context": {"moot.core"},
    "moot.agents": {"moot.core", "moot.context"},
    "moot.cli": {"moot.core", "moot.context", "moot.agents", "moot.themes"},
    "moot.tui": {"moot.core", "moot.context", "moot.agents", "moot.themes"},
    "moot.themes": set(),
}
#: The one sanctioned crossing: the console script opens the workbench when run with no command.
ALLOWED = {("moot.cli.entry", "moot.tui")}


def _sources() -> dict[str, tuple[Path, bool]]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            name = ".".join([package, *(parts[:-1] if is_package else parts)])
            found[name] = (path, is_package)
    return found


def _imports(name: str, path: Path, is_package: bool) -> set[str]:
    here = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out |= {f"{module}.{a.name}" for a in node.names}  # `from . import x` imports the module x
    return {m for m in out if m.startswith("moot.")}


def graph() -> dict[str, set[str]]:
    return {name: _imports(name, path, pkg) for name, (path, pkg) in _sources().items()}


def _top(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_graph_sees_known_edges() -> None:
    g = graph()
    assert "moot.core.providers.kinds" in g["moot.core.config.models"]
    assert any(m.startswith("moot.core.providers") for m in g["moot.core.perf.hosts"])  # inside a function


def test_no_package_imports_one_above_it() -> None:
    bad = sorted(f"{a} -> {b}" for a, deps in graph().items() for b in deps
                 if _top(b) != _top(a) and _top(b) not in MAY_IMPORT[_top(a)] and (a, _top(b)) not in ALLOWED)
    assert bad == []


def test_providers_never_import_the_perf_store() -> None:
    bad = sorted(f"{a} -> {b}" for a, deps in graph().items() if a.startswith("moot.core.providers")
                 for b in deps if b.startswith("moot.core.perf"))
    assert bad == []


def test_the_provider_kinds_import_nothing_of_moot() -> None:
    assert graph()["moot.core.providers.kinds"] == set()


#: What a string test of a provider kind looks like.
KIND_TESTS = re.compile(
    r"""[=!]=\s*["'](local|ollama|hosted)["']|"""  # m.backend == "local"
    r"""\bin\s*[(\[{]\s*["'](local|ollama|hosted)["']|"""  # kind in ("ollama", "local")
    r"""(startswith|removeprefix|split)\(\(?["'](ollama|local)|"""  # model.startswith("ollama/")
    r"""["'](ollama|ollama_chat|local)/["']"""  # "local/" + name
)


def test_no_string_test_of_a_provider_kind_outside_the_providers() -> None:
    bad = []
    for name, (path, _) in _sources().items():
        if name.startswith("moot.core.providers"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if KIND_TESTS.search(code):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert bad == []


def test_the_check_finds_a_string_test() -> None:
    assert KIND_TESTS.search('if m.backend == "local":')
    assert KIND_TESTS.search('name = model.removeprefix("ollama/")')
    assert KIND_TESTS.search('if kind in ("ollama", "local"):')
    assert not KIND_TESTS.search("if m.provider_kind.in_process:")


def test_screens_open_each_other_by_name_and_never_import_the_app() -> None:
    from moot.tui.registry import SCREENS

    screen_modules = {f"moot.tui.screens.{target.partition(':')[0]}" for target in SCREENS.values()}
    bad = sorted(f"{a} -> {b}" for a, deps in graph().items() if a.startswith("moot.tui.screens.")
                 for b in deps if b == "moot.tui.app" or b.startswith("moot.tui.app.")
                 or any(b == m or b.startswith(m + ".") for m in screen_modules if m != a))
    assert bad == []


def test_every_registered_screen_exists() -> None:
    from textual.screen import Screen

    from moot.tui.registry import SCREENS, screen_class

    assert all(issubclass(screen_class(name), Screen) for name in SCREENS)


def test_no_module_is_over_500_lines() -> None:
    long = sorted(f"{path.relative_to(ROOT)}: {n}" for path, _ in _sources().values()
                  if (n := len(path.read_text(encoding="utf-8").splitlines())) > 500)
    assert long == []
