"""Decomposition: the planner splits an accepted plan into tasks, as JSON that is validated before use.

The task list is asked for with its JSON schema. A local engine decodes under it, so its answer is a task list
by construction: the schema it gets has no ids and no dependencies (the tasks run in the order given), names
only the repository's files when there are few enough of them, and bounds every field, so that anything it
allows, even cut short by the token cap, reads as a valid list. Other models get the full form and the
schema as a request; an invalid reply is sent back once with the validation error, and a second invalid reply
fails with a message that names the model and what was wrong.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from moot.core.calls import CallContext, EventSink, run_call
from moot.core.config.models import ModelConfig
from moot.core.providers.base import Message, Params
from moot.core.structured import IncompleteJson, complete_json, decodes_schema

from . import prompts
from .prompts import TASK_ROLES


class TaskListError(ValueError):
    """A task list that is not valid; ``str()`` says exactly what is wrong, in words a model can act on."""


class DecomposeError(Exception):
    """Decomposing a plan failed: the call failed, or the model gave no valid task list after one retry."""


class InvalidTaskListError(DecomposeError):
    """The planner answered, but twice with no valid task list (small models often cannot write one)."""


class Task(BaseModel):
    """One task of a plan, carried out as one commit."""

    model_config = ConfigDict(strict=True, extra="ignore")

    id: str
    """Short unique id (``t1``), used by ``depends_on``."""
    title: str
    """What to do, in a few words."""
    role: str | None = None
    """Who should do it: frontend, backend, tests, docs or reviewer; inferred from the files when unset."""
    description: str = ""
    """What to change and why."""
    files: list[str] = Field(default_factory=list)
    """Repository paths the task creates or changes."""
    depends_on: list[str] = Field(default_factory=list)
    """Ids of tasks that must be finished first."""

    @field_validator("id", "title")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("is empty")
        return v

    @field_validator("role")
    @classmethod
    def _known_role(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        role = v.strip().lower()
        if role not in TASK_ROLES:
            raise ValueError(f"{v!r} is not a role; use one of {', '.join(TASK_ROLES)}, or leave it out")
        return role

    @field_validator("files", "depends_on")
    @classmethod
    def _strip_items(cls, v: list[str]) -> list[str]:
        return [s.strip() for s in v if s.strip()]


class TaskList(BaseModel):
    """The planner's tasks, checked as a whole: unique ids, known dependencies, no cycles."""

    model_config = ConfigDict(strict=True, extra="ignore")

    tasks: list[Task]

    @model_validator(mode="after")
    def _check(self) -> TaskList:
        check_tasks(self.tasks)
        return self


def check_tasks(tasks: Sequence[Task]) -> None:
    """Raise ``ValueError`` naming the first problem across ``tasks`` (the per-task fields are checked by
    ``Task`` itself)."""
    if not tasks:
        raise ValueError("the task list is empty; give at least one task")
    seen: dict[str, int] = {}
    for i, t in enumerate(tasks):
        if t.id in seen:
            raise ValueError(f"tasks[{i}].id {t.id!r} is used by tasks[{seen[t.id]}] too; ids must be unique")
        seen[t.id] = i
    for i, t in enumerate(tasks):
        for dep in t.depends_on:
            if dep == t.id:
                raise ValueError(f"tasks[{i}].depends_on names the task's own id {dep!r}")
            if dep not in seen:
                raise ValueError(f"tasks[{i}].depends_on names {dep!r}, which is not a task id")
    if cycle := _find_cycle(tasks):
        raise ValueError("the tasks depend on each other in a cycle: " + " -> ".join(cycle))


def _find_cycle(tasks: Sequence[Task]) -> list[str] | None:
    deps = {t.id: t.depends_on for t in tasks}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in deps.get(node, []):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep in deps and dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node] = 2
        return None

    for t in tasks:
        if t.id not in state and (found := visit(t.id)):
            return found
    return None


def ordered(tasks: Sequence[Task]) -> list[Task]:
    """``tasks`` in dependency order, keeping the planner's order wherever the dependencies allow.

    Raises ``TaskListError`` on a cycle or a dependency on an unknown id.
    """
    try:
        check_tasks(tasks)
    except ValueError as e:
        raise TaskListError(str(e)) from None
    done: set[str] = set()
    left = list(tasks)
    out: list[Task] = []
    while left:
        i = next(i for i, t in enumerate(left) if all(d in done for d in t.depends_on))
        task = left.pop(i)
        out.append(task)
        done.add(task.id)
    return out


# ---------------------------------------------------------------------------------------------- parsing

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_MAX_STARTS = 200


def find_json(text: str, want: Sequence[str] = ()) -> Any:
    """The JSON value in a model's reply: bare, inside a code fence, or surrounded by prose.

    When several values decode, the first object that has one of the keys in ``want`` (or the first list) wins,
    else the first value. Raises ``TaskListError`` saying why nothing could be read.
    """
    fenced = [m.group(2) for m in _FENCE.finditer(text)]
    candidates: list[Any] = []
    errors: list[str] = []
    for blocks in (fenced, [text]):
        for block in blocks:
            candidates += _values_in(block, errors)
        if candidates:
            break
    for value in candidates:
        if isinstance(value, dict) and any(k in value for k in want):
            return value
    for value in candidates:
        if isinstance(value, list) and value:
            return value
    if errors:  # what decoded is a fragment of the broken JSON: report why the whole did not
        raise TaskListError(errors[0])
    if candidates:
        return candidates[0]
    raise TaskListError("no JSON found in the reply; answer with JSON only")


def _values_in(block: str, errors: list[str]) -> list[Any]:
    """The JSON values in ``block``: all of it, else each value that starts at a bracket. The error of the
    first attempt that looked like JSON goes to ``errors``."""
    stripped = block.strip()
    if not stripped:
        return []
    try:
        return [json.loads(stripped)]
    except json.JSONDecodeError as e:
        if stripped[0] in "[{":
            errors.append(_json_error(e))
    decoder = json.JSONDecoder()
    values: list[Any] = []
    end = 0
    for n, m in enumerate(re.finditer(r"[\[{]", block)):
        if n >= _MAX_STARTS:
            break
        if m.start() < end:  # inside a value already read
            continue
        try:
            value, end = decoder.raw_decode(block, m.start())
        except json.JSONDecodeError as e:
            if not values and n == 0:
                errors.append(_json_error(e, block, m.start()))
            continue
        values.append(value)
    return values


def _json_error(e: json.JSONDecodeError, block: str | None = None, pos: int = 0) -> str:
    line, col = e.lineno, e.colno
    if block is not None:  # raw_decode counts from the start of the block: make it relative to the JSON
        line = block.count("\n", pos, e.pos) + 1
        col = e.pos - (block.rfind("\n", 0, e.pos) + 1) + 1 if line > 1 else e.pos - pos + 1
    return f"not valid JSON at line {line} column {col}: {e.msg}"


def parse_task_list(text: str) -> TaskList:
    """Read and validate the task list in a planner's reply (``{"tasks": [...]}`` or a bare list of tasks).

    Raises ``TaskListError`` whose message says exactly what is wrong.
    """
    data = find_json(text, want=("tasks",))
    if isinstance(data, list):
        data = {"tasks": data}
    elif not isinstance(data, dict):
        raise TaskListError(f'expected a JSON object {{"tasks": [...]}}, got {type(data).__name__}')
    elif "tasks" not in data:
        keys = ", ".join(repr(k) for k in data) or "none"
        raise TaskListError(f'the JSON object has no "tasks" key (its keys: {keys})')
    try:
        return TaskList.model_validate(data)
    except ValidationError as e:
        raise TaskListError(_friendly(e)) from None


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _friendly(e: ValidationError) -> str:
    messages = []
    for err in e.errors():
        msg = str(err["msg"]).removeprefix("Value error, ")
        where = _loc(err["loc"])
        if err["type"] == "missing":
            msg = "is missing"
        elif err["type"].endswith("_type") and "input" in err:
            msg = f"{msg.rstrip('.').lower()}, got {json.dumps(err['input'])[:60]}"
        messages.append(f"{where} {msg}" if where else msg)
    return "; ".join(messages[:5]) + (f" (and {len(messages) - 5} more)" if len(messages) > 5 else "")


# ---------------------------------------------------------------------------------------------- schema

MAX_TASKS = 8
"""The most tasks a planner may give."""
KNOWN_FILES_ENUM = 300
"""Up to this many repository files, a local planner's "files" may name only them."""
_TITLE_CHARS, _DESCRIPTION_CHARS, _FILES_PER_TASK, _PATH_CHARS = 80, 600, 6, 200


def task_list_schema(known_files: Sequence[str] = (), *, positional: bool = False) -> dict[str, Any]:
    """The JSON schema of a task list.

    Args:
        known_files: the repository's files; with ``positional`` and at most ``KNOWN_FILES_ENUM`` of them,
            a task's files may only be these.
        positional: the form for engines that decode under the schema: no ``id`` and no ``depends_on`` (ids
            follow the order, and the tasks run in that order), so that every answer it allows is valid.
    """
    path: dict[str, Any] = {"type": "string", "maxLength": _PATH_CHARS}
    if positional and 0 < len(known_files) <= KNOWN_FILES_ENUM:
        path = {"enum": sorted(set(known_files))}
    task: dict[str, Any] = {
        "title": {"type": "string", "minLength": 1, "maxLength": _TITLE_CHARS},
        "role": {"enum": list(TASK_ROLES)},
        "description": {"type": "string", "maxLength": _DESCRIPTION_CHARS},
        "files": {"type": "array", "items": path, "maxItems": _FILES_PER_TASK},
    }
    required = ["title", "role", "description", "files"]
    if not positional:
        task = {"id": {"type": "string"}, **task, "depends_on": {"type": "array", "items": {"type": "string"}}}
        required = ["id", "title", "description", "files"]
    items = {"type": "object", "properties": task, "required": required}
    return {
        "type": "object",
        "properties": {"tasks": {"type": "array", "items": items, "minItems": 1, "maxItems": MAX_TASKS}},
        "required": ["tasks"],
    }


def positional_task_list(text: str) -> TaskList:
    """The task list in an answer decoded under the positional schema (possibly cut short): ids by position,
    no dependencies, a blank title made from the description, a task that repeats an earlier one dropped.

    Raises ``TaskListError`` when not one task could be read.
    """
    try:
        data = complete_json(text)
    except IncompleteJson as e:
        raise TaskListError(str(e)) from None
    items = data.get("tasks") if isinstance(data, dict) else data
    tasks: list[Task] = []
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        description = str(item.get("description") or "").strip()
        files = list(dict.fromkeys(f.strip() for f in item.get("files") or [] if isinstance(f, str) and f.strip()))
        title = " ".join(str(item.get("title") or "").split()) or " ".join(description.split()[:8])
        key = (title.lower(), description.lower(), tuple(files))
        if not (title or description) or key in seen:
            continue
        seen.add(key)
        role = item.get("role") if item.get("role") in TASK_ROLES else None
        tasks.append(Task(id=f"t{len(tasks) + 1}", title=title or f"Task {len(tasks) + 1}", role=role,
                          description=description, files=files))
    if not tasks:
        raise TaskListError("the answer holds no task")
    return TaskList(tasks=tasks)


# ------------------------------------------------------------------------------------------- decompose


async def decompose(
    plan: str,
    model: ModelConfig,
    *,
    ctx: CallContext | None = None,
    context_text: str = "",
    on_event: EventSink | None = None,
    known_files: Sequence[str] = (),
    brief: str = "",
) -> TaskList:
    """Ask ``model`` (the planner) to split ``plan`` into tasks, with the task list's JSON schema.

    Args:
        plan: the accepted plan.
        model: the planner.
        ctx: where the calls are logged; their phase is ``decompose``.
        context_text: repository context to show the planner.
        on_event: receives every event of both calls.
        known_files: the repository's files (a local planner may only name these when they are few).
        brief: what the local models can do (``landing.local_brief_for``), for a hosted planner to size tasks by.

    Returns:
        The validated task list.

    Raises:
        DecomposeError: the call failed, or the reply was invalid twice.
    """
    base = dataclasses.replace(ctx or CallContext(), phase="decompose")
    positional = decodes_schema(model)
    messages: list[Message] = prompts.decompose_messages(plan, context_text, positional=positional, brief=brief)
    params = Params(schema=task_list_schema(known_files, positional=positional))
    read = positional_task_list if positional else parse_task_list
    error = ""
    for attempt in range(2):
        call_ctx = base if attempt == 0 else dataclasses.replace(base, label=base.label or "retry")
        result = await run_call(model, messages, params, ctx=call_ctx, on_event=on_event)
        if not result.ok:
            assert result.error is not None
            raise DecomposeError(
                f"decomposing the plan with {model.name} failed: {result.error.kind}: {result.error.message}"
            )
        try:
            found = read(result.text)
        except TaskListError as e:
            error = str(e)
        else:
            _kept(base, model, plan, parsed=True, retried=attempt > 0, output_tokens=result.usage.completion_tokens)
            return found
        messages = [
            *messages,
            {"role": "assistant", "content": result.text},
            prompts.decompose_retry_message(error),
        ]
    _kept(base, model, plan, parsed=False, retried=True)
    raise InvalidTaskListError(f"{model.name} gave no valid task list after one retry: {error}")


def _kept(ctx: CallContext, model: ModelConfig, plan: str, *, parsed: bool, retried: bool,
          output_tokens: int = 0) -> None:
    """A local planner's task list is an outcome too: read or not, at the first try or after one retry."""
    if not model.is_local or ctx.store is None:
        return
    from moot.core.perf.shapes import USUAL, Outcome, bucket_of, record_outcome
    from moot.core.perf.store import host_of

    record_outcome(ctx.store, Outcome(model.model, host_of(model), "decompose", USUAL.key,
                                      bucket_of(1, len(plan) // 4 + output_tokens), run_id=ctx.run_id,
                                      parsed=parsed, retried=retried, output_tokens=output_tokens))


def whole_plan_task(plan: str) -> Task:
    """The plan as one task, for when the planner cannot split it: the agent is handed the whole plan."""
    lines = (re.sub(r"^\s*(?:[#*>-]+|\d+[.)])\s*", "", line).strip(" *`") for line in plan.splitlines())
    title = next((line for line in lines if line), "")[:60].rstrip() or "Carry out the plan"
    return Task(id="t1", title=title, description=plan.strip())
