"""The prompts of carrying out a plan: decomposing it into tasks, a task's agent, the debug cycle, the reviewer.

The texts are Markdown files beside this module (``decompose_system.md``, ``agent_system.md``, ...), with
``$name`` placeholders filled here; the functions below build the chats. Parsing the answers lives next to the
code that needs it (``tasks.parse_task_list``, ``review.parse_review``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from string import Template

from moot.core.config.models import TASK_ROLES
from moot.core.providers.base import Message

__all__ = ["TASK_ROLES", "agent_system", "decompose_messages", "decompose_retry_message", "review_messages",
           "task_messages", "text"]


@cache
def text(name: str, **values: str) -> str:
    """The prompt file ``name``, its ``$placeholders`` filled with ``values``."""
    raw = resources.files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8").rstrip("\n")
    return Template(raw).substitute(values) if values else raw


_ROLES = ", ".join(TASK_ROLES)
DECOMPOSE_SYSTEM = text("decompose_system")
DECOMPOSE_FORMAT = text("decompose_format", roles=_ROLES)
DECOMPOSE_POSITIONAL = text("decompose_positional", roles=_ROLES)
EDIT_FORMAT = text("edit_format")
DEBUG_PROMPT = text("debug")
"""With ``$title``, ``$command``, ``$outcome`` and ``$tail`` (see ``testing.debug_prompt``)."""
REVIEW_SYSTEM = text("review_system")
REVIEW_FORMAT = text("review_format")
REVIEW_JSON = text("review_json")


def decompose_messages(plan: str, context_text: str = "", *, positional: bool = False,
                       brief: str = "") -> list[Message]:
    """The chat that asks the planner to split ``plan`` into tasks; ``positional`` asks for the short form
    (no ids, no dependencies) that a local engine is held to by its schema; ``brief`` tells it what the local
    models can do, so that it sizes the tasks for them."""
    user = f"Plan:\n{plan.strip()}"
    if brief.strip():
        user += f"\n\n{brief.strip()}"
    if context_text.strip():
        user += f"\n\nRelevant parts of the repository:\n{context_text.strip()}"
    user += f"\n\n{DECOMPOSE_POSITIONAL if positional else DECOMPOSE_FORMAT}"
    return [{"role": "system", "content": DECOMPOSE_SYSTEM}, {"role": "user", "content": user}]


def decompose_retry_message(error: str) -> Message:
    """What the planner is told when its task list did not validate."""
    return {
        "role": "user",
        "content": f"That task list is not valid: {error}\n\nAnswer again with the whole corrected task list, "
        "as JSON only, in the form asked for above.",
    }


# ---------------------------------------------------------------------------------------- a task's agent


def agent_system(role: str) -> str:
    """The system prompt of the agent that carries out a task in ``role``."""
    return text("agent_system", role=role, edit_format=EDIT_FORMAT)


def task_messages(
    role: str,
    title: str,
    description: str = "",
    files: Sequence[str] = (),
    plan: str = "",
    context_text: str = "",
    *,
    terse: bool = False,
) -> list[Message]:
    """The chat that hands one task to its agent; ``terse`` leaves out the plan and the longer brief (a shape a
    small local model may do better with)."""
    if terse:
        plan = ""
    user = f"Task: {title.strip()}"
    if description.strip():
        user += f"\n\n{description.strip()}"
    if files:
        user += "\n\nFiles this task is expected to touch: " + ", ".join(files)
    if plan.strip():
        user += f"\n\nThe whole plan, for reference (do only this task):\n{plan.strip()}"
    if context_text.strip():
        user += f"\n\nRelevant parts of the repository:\n{context_text.strip()}"
    if terse:
        user += "\n\nGive the SEARCH/REPLACE blocks only."
        system = f"You change code in a repository as its {role} engineer.\n\n{EDIT_FORMAT}"
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]
    user += "\n\nExplain your change in a sentence or two, then give the SEARCH/REPLACE blocks."
    return [{"role": "system", "content": agent_system(role)}, {"role": "user", "content": user}]


# ------------------------------------------------------------------------------------------- the reviewer


def review_messages(plan: str, diff: str, note: str = "", *, json_form: bool = False) -> list[Message]:
    """The chat that asks the reviewer for a verdict on ``diff``; ``json_form`` asks for the JSON a local
    engine is held to by its schema."""
    user = f"Plan:\n{plan.strip()}\n\nDiff:\n```diff\n{diff.rstrip()}\n```"
    if note:
        user += f"\n\n{note}"
    user += f"\n\n{REVIEW_JSON if json_form else REVIEW_FORMAT}"
    return [{"role": "system", "content": REVIEW_SYSTEM}, {"role": "user", "content": user}]
