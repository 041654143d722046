"""Routing: which role, and so which model, carries out each task.

The role is the user's override, else the planner's, else inferred from the task's files (or, without files,
from the words of its title and description). The model is the override, else ``[roles]`` for that role,
falling back to the backend model, the planner, and finally the first configured model.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from moot.core.config.models import Config

from .prompts import TASK_ROLES
from .tasks import Task

#: How a task's reason says the user chose its model (the speed router leaves such tasks alone).
MODEL_OVERRIDE = "model chosen by override"


class RoutingError(ValueError):
    """An override names an unknown task, role or model alias, or no model is configured at all."""


#: Which role wins a tie in the vote over files: implementation first.
TIE_ORDER = ("backend", "frontend", "tests", "docs")

FRONTEND_SUFFIXES = frozenset({".tsx", ".jsx", ".vue", ".svelte", ".css", ".scss", ".sass", ".less", ".html"})
FRONTEND_DIRS = frozenset({"components", "frontend", "web", "ui"})
DOCS_SUFFIXES = frozenset({".md", ".rst", ".txt"})
DOCS_DIRS = frozenset({"docs", "doc"})
TEST_DIRS = frozenset({"tests", "test", "__tests__", "spec"})
_TEST_NAME = re.compile(
    r"^(test_.+\.py|.+_test\.py|conftest\.py|.+_test\.go|.+\.(test|spec)\.[cm]?[jt]sx?)$", re.IGNORECASE
)
#: ``.txt`` files that are build inputs, not prose.
_NOT_DOCS = re.compile(r"^(requirements.*\.txt|constraints.*\.txt|cmakelists\.txt)$", re.IGNORECASE)

#: Words of a title or description that point at a role when a task names no files.
_WORDS = {
    "tests": re.compile(r"\b(tests?|testing|unit[- ]tests?|pytest|coverage|fixtures?)\b", re.I),
    "docs": re.compile(r"\b(docs|documentation|document|readme|changelog|docstrings?|guide|tutorial)\b", re.I),
    "frontend": re.compile(
        r"\b(ui|css|frontend|front-end|components?|buttons?|web ?pages?|layout|stylesheets?|html|react)\b",
        re.I,
    ),
}


def role_of_file(path: str) -> str:
    """The role a single file belongs to: tests, then docs, then frontend, else backend."""
    p = PurePosixPath(path.replace("\\", "/").strip())
    name = p.name
    dirs = {d.lower() for d in p.parts[:-1]}
    suffix = p.suffix.lower()
    if _TEST_NAME.match(name) or dirs & TEST_DIRS:
        return "tests"
    if (suffix in DOCS_SUFFIXES and not _NOT_DOCS.match(name)) or dirs & DOCS_DIRS:
        return "docs"
    if suffix in FRONTEND_SUFFIXES or dirs & FRONTEND_DIRS:
        return "frontend"
    return "backend"


def _describe(files: Sequence[str], role: str) -> str:
    """``3 .py files`` / ``2 test files`` / ``1 .py file and 1 .toml file``."""
    if role == "tests":
        counts = Counter(["test"] * len(files))
    else:
        counts = Counter(PurePosixPath(f).suffix.lower() or PurePosixPath(f).name for f in files)
    parts = [f"{n} {kind} file{'s' if n != 1 else ''}" for kind, n in counts.most_common()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def explain_role(files: Sequence[str], title: str = "", description: str = "") -> tuple[str, str]:
    """The inferred role and why, e.g. ``("backend", "inferred from 3 .py files")``."""
    files = [f for f in files if f.strip()]
    if files:
        by_role: dict[str, list[str]] = {}
        for f in files:
            by_role.setdefault(role_of_file(f), []).append(f)
        role = max(TIE_ORDER, key=lambda r: (len(by_role.get(r, [])), -TIE_ORDER.index(r)))
        how = _describe(by_role[role], role)
        if len(by_role) > 1:
            others = ", ".join(f"{len(v)} {r}" for r, v in by_role.items() if r != role)
            how += f" (against {others})"
        return role, f"inferred from {how}"
    text = f"{title}\n{description}"
    hits = {role: pattern.findall(text) for role, pattern in _WORDS.items()}
    best = max(_WORDS, key=lambda r: (len(hits[r]), -list(_WORDS).index(r)))
    if hits[best]:
        return best, f"inferred from the word {hits[best][0]!r} (no files named)"
    return "backend", "by default (no files named, no telling words)"


def infer_role(files: Sequence[str], title: str = "", description: str = "") -> str:
    """The role a task belongs to, by a majority vote of its files (ties: backend, frontend, tests, docs);
    without files, by the words of its title and description; else backend."""
    return explain_role(files, title, description)[0]


@dataclass
class RoutedTask:
    """A task with the role and model alias that will carry it out, and why."""

    task: Task
    role: str
    alias: str
    reason: str


def _model_for(role: str, config: Config) -> tuple[str, str]:
    for key in (role, "backend", "planner"):
        if alias := config.roles.get(key):
            if config.model(alias) is None:
                raise RoutingError(
                    f"[roles] {key} names {alias!r}, which is not a configured model "
                    f"(known: {', '.join(config.aliases) or 'none'})"
                )
            why = f"model from [roles] {key}"
            return alias, why if key == role else f"{why} (no [roles] {role})"
    if not config.models:
        raise RoutingError("no model is configured to carry out tasks")
    return config.models[0].name, f"model is the first configured one (no [roles] {role}, backend or planner)"


def route(
    tasks: Sequence[Task],
    config: Config,
    overrides: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> list[RoutedTask]:
    """Decide the role and model of each task.

    Args:
        tasks: the tasks, in any order (the result keeps it).
        config: the merged config (``[roles]`` and the models).
        overrides: task id to ``(role, alias)``; ``None`` in either place keeps the usual rule.

    Raises:
        RoutingError: an override names an unknown task, role or alias, or there is no model to use.
    """
    overrides = dict(overrides or {})
    ids = {t.id for t in tasks}
    for task_id, (role, alias) in overrides.items():
        if task_id not in ids:
            raise RoutingError(f"override for {task_id!r}: no such task (tasks: {', '.join(sorted(ids))})")
        if role is not None and role not in TASK_ROLES:
            raise RoutingError(f"override for {task_id!r}: unknown role {role!r} (roles: {', '.join(TASK_ROLES)})")
        if alias is not None and config.model(alias) is None:
            raise RoutingError(
                f"override for {task_id!r}: {alias!r} is not a configured model "
                f"(known: {', '.join(config.aliases) or 'none'})"
            )
    routed = []
    for task in tasks:
        role_over, alias_over = overrides.get(task.id, (None, None))
        if role_over is not None:
            role, role_why = role_over, "chosen by override"
        elif task.role is not None:
            role, role_why = task.role, "given by the planner"
        else:
            role, role_why = explain_role(task.files, task.title, task.description)
        if alias_over is not None:
            alias, model_why = alias_over, MODEL_OVERRIDE
        else:
            alias, model_why = _model_for(role, config)
        routed.append(RoutedTask(task, role, alias, f"role {role} {role_why}; {model_why}"))
    return routed
