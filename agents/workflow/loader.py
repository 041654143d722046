"""Finding and reading workflow files: the shipped ones, the user's and the project's, by name.

A workflow named ``NAME`` is ``NAME.yaml`` (or ``.yml``) in, from the first looked at to the last: the package's
``shipped/`` folder, the config directory's ``workflows/`` (beside ``config.toml``) and the project's
``.moot/workflows/``. A later one of the same name takes the place of an earlier one. A mistake in a file is a
``ConfigError`` naming the file, the line and the key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from moot.core.config import ConfigError
from moot.core.config.loader import dotted_key, friendly_error, user_config_path

from .model import PHASE_TYPES, RoutedPhase, SinglePhase, Workflow

SUFFIXES = (".yaml", ".yml")
WHERE = re.compile(r"phases\[(\d+)\](?:\.(\w+))?:\s*")


@dataclass(frozen=True)
class Found:
    """A workflow as read, and where from."""

    workflow: Workflow
    path: str
    source: str
    """``shipped``, ``user`` or ``project``."""


def folders(project_dir: Path | None) -> list[tuple[str, Any]]:
    """(source, folder) in the order they are read; a later folder's workflow wins."""
    out: list[tuple[str, Any]] = [("shipped", resources.files(__package__).joinpath("shipped")),
                                  ("user", user_config_path().parent / "workflows")]
    if project_dir is not None:
        out.append(("project", Path(project_dir) / ".moot" / "workflows"))
    return out


def available(project_dir: Path | None) -> tuple[dict[str, Found], list[ConfigError]]:
    """Every workflow by name (the last read of each name), and the mistakes of the files that do not read."""
    found: dict[str, Found] = {}
    errors: list[ConfigError] = []
    for source, folder in folders(project_dir):
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(SUFFIXES) or not entry.is_file():
                continue
            try:
                wf = parse(entry.read_text(encoding="utf-8"), str(entry))
            except ConfigError as e:
                errors.append(e)
                continue
            except (OSError, UnicodeDecodeError) as e:
                errors.append(ConfigError(f"cannot read: {e}", file=str(entry)))
                continue
            found[wf.name] = Found(wf, str(entry), source)
    return found, errors


#: The workflow ``moot run TASK`` runs when neither ``--workflow`` nor ``[agents] workflow`` names one.
DEFAULT_WORKFLOW = "feature-build"


def find(name: str, project_dir: Path | None) -> Found:
    """The workflow ``name``; a ``ConfigError`` when there is none, or when its own file has a mistake."""
    found, errors = available(project_dir)
    if name in found:
        return found[name]
    for e in errors:
        if e.file and Path(e.file).stem == name:
            raise e
    known = ", ".join(sorted(found)) or "none"
    raise ConfigError(f"there is no workflow {name!r} (known: {known})")


def read(path: Path) -> Workflow:
    """The workflow in the file ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", file=str(path)) from None
    return parse(text, str(path))


def parse(text: str, file: str) -> Workflow:
    """``text`` (YAML) as a workflow; ``file`` names it in errors."""
    import yaml
    from pydantic import ValidationError

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"not valid YAML: {problem}", file=file,
                          line=mark.line + 1 if mark is not None else None) from None
    if not isinstance(data, dict):
        raise ConfigError("a workflow is a mapping with name, description and phases", file=file, line=1)
    try:
        return Workflow.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = [part for part in first["loc"] if part not in PHASE_TYPES or not _is_tag(first["loc"], part)]
        message = _friendly(first)
        if first["type"] == "union_tag_invalid":
            loc.append("type")  # the type that is wrong, not the phase
        if not loc and (m := WHERE.match(message)):  # the workflow's own checks say where in their message
            loc = ["phases", int(m.group(1)), *([m.group(2)] if m.group(2) else [])]
            message = message[m.end():]
        line = line_of(node, loc)
        key = dotted_key(loc)
        raise ConfigError(message, file=file, line=line, key=key or None) from None


def _is_tag(loc: Sequence[Any], part: Any) -> bool:
    """Whether ``part`` in ``loc`` is the discriminator pydantic adds (the phase's type), not a key."""
    i = list(loc).index(part)
    return i > 0 and isinstance(loc[i - 1], int)


def _friendly(err: Any) -> str:
    kind = err.get("type")
    if kind == "union_tag_invalid":
        return f"unknown phase type (known: {', '.join(PHASE_TYPES)})"
    if kind == "union_tag_not_found":
        return f"a phase needs a type ({', '.join(PHASE_TYPES)})"
    return friendly_error(err).removeprefix("Value error, ")


def line_of(node: Any, loc: Sequence[Any]) -> int | None:
    """The line (1-based) of the deepest part of ``loc`` written in the YAML ``node``."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        if isinstance(part, int) and getattr(node, "tag", "").endswith(":seq") and part < len(node.value):
            child = node.value[part]
        elif isinstance(part, str) and getattr(node, "tag", "").endswith(":map"):
            for key, value in node.value:
                if key.value == part:
                    line = key.start_mark.line + 1
                    child = value
                    break
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1 if not isinstance(part, str) else line
    return line



def plan_phase(workflow: Workflow) -> str | None:
    """The phase whose output is the plan the workflow's first routed phase carries out (``moot run --plan FILE``
    gives it): the input of the task list phase that feeds the routed one, else that phase itself. None when the
    workflow carries nothing out."""
    routed = next((p for p in workflow.phases if isinstance(p, RoutedPhase)), None)
    if routed is None or not routed.input:
        return None
    source = workflow.phase(routed.input[0].split(".", 1)[0])
    if isinstance(source, SinglePhase) and source.format == "tasks" and source.input:
        return source.input[0].split(".", 1)[0]
    return source.name if source is not None else None
