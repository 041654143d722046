"""Routing: the role inferred from files and words, the model from [roles] and its fallbacks, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from moot.agents.routing import RoutingError, explain_role, infer_role, role_of_file, route
from moot.agents.tasks import Task
from moot.core.config import load_config
from moot.core.config.models import Config

MODELS = """
[[models]]
name = "alpha"
model = "scripted/alpha"

[[models]]
name = "beta"
model = "scripted/beta"

[[models]]
name = "gamma"
model = "scripted/gamma"
"""


def config_with(user_config, tmp_path: Path, roles: str = "") -> Config:
    user_config(MODELS + ("\n[roles]\n" + roles if roles else ""))
    return load_config(tmp_path).config


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("web/src/App.tsx", "frontend"),
        ("src/Button.jsx", "frontend"),
        ("src/App.vue", "frontend"),
        ("src/lib/Card.svelte", "frontend"),
        ("static/site.css", "frontend"),
        ("styles/main.scss", "frontend"),
        ("a.sass", "frontend"),
        ("a.less", "frontend"),
        ("templates/index.html", "frontend"),
        ("src/components/button.ts", "frontend"),
        ("frontend/api.js", "frontend"),
        ("ui/state.py", "frontend"),
        ("tests/helpers.py", "tests"),
        ("pkg/test_cli.py", "tests"),
        ("pkg/cli_test.py", "tests"),
        ("cmd/server_test.go", "tests"),
        ("src/App.test.tsx", "tests"),
        ("src/api.test.ts", "tests"),
        ("src/api.spec.js", "tests"),
        ("src/__tests__/api.js", "tests"),
        ("spec/models/user_spec.rb", "tests"),
        ("conftest.py", "tests"),
        ("README.md", "docs"),
        ("docs/guide.rst", "docs"),
        ("NOTES.txt", "docs"),
        ("docs/conf.py", "docs"),
        ("requirements.txt", "backend"),
        ("core/cli.py", "backend"),
        ("server/main.go", "backend"),
        ("Makefile", "backend"),
        ("src\\components\\Nav.ts", "frontend"),
    ],
)
def test_role_of_file(path: str, role: str) -> None:
    assert role_of_file(path) == role


def test_majority_vote() -> None:
    assert infer_role(["a.py", "b.py", "web/App.tsx"]) == "backend"
    assert infer_role(["App.tsx", "App.css", "api.py"]) == "frontend"
    assert infer_role(["tests/test_a.py", "tests/test_b.py", "a.py"]) == "tests"


def test_ties_break_in_a_stable_order() -> None:
    assert infer_role(["a.py", "tests/test_a.py"]) == "backend"
    assert infer_role(["tests/test_a.py", "a.py"]) == "backend"  # the order of the files does not matter
    assert infer_role(["App.tsx", "README.md"]) == "frontend"
    assert infer_role(["tests/test_a.py", "README.md"]) == "tests"


def test_words_when_no_files() -> None:
    assert infer_role([], "Add unit tests for the parser") == "tests"
    assert infer_role([], "Update the README") == "docs"
    assert infer_role([], "Polish", "tweak the CSS of the sidebar") == "frontend"
    assert infer_role([], "Fix the UI glitch") == "frontend"
    assert infer_role([], "Write docs and tests") == "tests"  # a tie: tests before docs
    assert infer_role([], "Speed up the query planner") == "backend"
    assert infer_role(["  "], "Latest changes") == "backend"  # blank paths are no files; "test" must be a word


def test_explain_role() -> None:
    assert explain_role(["a.py", "b.py", "c.py"]) == ("backend", "inferred from 3 .py files")
    assert explain_role(["a.py", "b.toml", "tests/test_a.py"]) == \
        ("backend", "inferred from 1 .py file and 1 .toml file (against 1 tests)")
    assert explain_role(["tests/test_a.py"]) == ("tests", "inferred from 1 test file")
    assert explain_role([], "Update the README") == ("docs", "inferred from the word 'README' (no files named)")
    assert explain_role([], "Refactor") == ("backend", "by default (no files named, no telling words)")


# ----------------------------------------------------------------------------------------------- route


def tasks() -> list[Task]:
    return [
        Task(id="t1", title="API", files=["api/a.py", "api/b.py", "api/c.py"]),
        Task(id="t2", title="Page", role="frontend", files=["api/x.py"]),
        Task(id="t3", title="Tests", files=["tests/test_api.py"]),
        Task(id="t4", title="Update the README"),
    ]


def test_route_by_roles(user_config, tmp_path: Path) -> None:
    config = config_with(user_config, tmp_path, 'backend = "alpha"\nfrontend = "beta"\ntests = "gamma"\n'
                                               'docs = "beta"\nplanner = "gamma"\n')
    routed = route(tasks(), config)
    assert [(r.task.id, r.role, r.alias) for r in routed] == [
        ("t1", "backend", "alpha"), ("t2", "frontend", "beta"), ("t3", "tests", "gamma"), ("t4", "docs", "beta"),
    ]
    assert routed[0].reason == "role backend inferred from 3 .py files; model from [roles] backend"
    assert routed[1].reason == "role frontend given by the planner; model from [roles] frontend"
    assert routed[3].reason == \
        "role docs inferred from the word 'README' (no files named); model from [roles] docs"


def test_model_falls_back_to_backend_then_planner_then_first(user_config, tmp_path: Path) -> None:
    config = config_with(user_config, tmp_path, 'backend = "gamma"\nplanner = "beta"\n')
    r = route([Task(id="a", title="x", role="docs")], config)[0]
    assert (r.role, r.alias) == ("docs", "gamma")
    assert r.reason == "role docs given by the planner; model from [roles] backend (no [roles] docs)"

    config = config_with(user_config, tmp_path, 'planner = "beta"\n')
    r = route([Task(id="a", title="x", role="docs")], config)[0]
    assert (r.alias, r.reason.split("; ")[1]) == ("beta", "model from [roles] planner (no [roles] docs)")

    config = config_with(user_config, tmp_path)
    r = route([Task(id="a", title="x", files=["a.py"])], config)[0]
    assert r.alias == "alpha"
    assert r.reason.endswith("model is the first configured one (no [roles] backend, backend or planner)")


def test_overrides(user_config, tmp_path: Path) -> None:
    config = config_with(user_config, tmp_path, 'backend = "alpha"\ntests = "gamma"\n')
    routed = route(tasks()[:3], config, {"t1": ("tests", None), "t3": (None, "beta")})
    assert [(r.role, r.alias) for r in routed] == [("tests", "gamma"), ("frontend", "alpha"), ("tests", "beta")]
    assert routed[0].reason == "role tests chosen by override; model from [roles] tests"
    assert routed[2].reason == "role tests inferred from 1 test file; model chosen by override"


def test_override_errors(user_config, tmp_path: Path) -> None:
    config = config_with(user_config, tmp_path, 'backend = "alpha"\n')
    with pytest.raises(RoutingError, match=r"override for 't1': 'delta' is not a configured model \(known: "
                                           r"alpha, beta, gamma\)"):
        route(tasks(), config, {"t1": (None, "delta")})
    with pytest.raises(RoutingError, match=r"override for 't2': unknown role 'devops' \(roles: frontend, backend, "
                                           r"tests, docs, reviewer\)"):
        route(tasks(), config, {"t2": ("devops", None)})
    with pytest.raises(RoutingError, match=r"override for 't9': no such task"):
        route(tasks(), config, {"t9": ("tests", None)})


def test_no_models_at_all() -> None:
    with pytest.raises(RoutingError, match="no model is configured"):
        route([Task(id="a", title="x")], Config())


def test_role_names_a_missing_model() -> None:
    config = Config.model_validate({"models": [{"name": "alpha", "model": "scripted/alpha"}],
                                    "roles": {"backend": "ghost"}})
    with pytest.raises(RoutingError, match=r"\[roles\] backend names 'ghost', which is not a configured model"):
        route([Task(id="a", title="x")], config)
