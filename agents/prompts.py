"""The prompts of carrying out a plan: decomposing it into tasks, a task's agent, the debug cycle, the reviewer.

Each prompt is a system text plus a function that builds the chat; parsing the answers lives next to the code
that needs it (``tasks.parse_task_list``, ``review.parse_review``).
"""

from __future__ import annotations

from collections.abc import Sequence

from moot.core.providers.base import Message

#: The roles a task may be given (the planner and the judge do not carry out tasks).
TASK_ROLES = ("frontend", "backend", "tests", "docs", "reviewer")

# ------------------------------------------------------------------------------------------- decompose

DECOMPOSE_SYSTEM = """\
You are the lead engineer of a small team. You split an accepted implementation plan into tasks that \
engineers can carry out one at a time, each as one commit on the same branch. Each task is small enough to \
do in one go, names the files it touches, and says which tasks must be done before it."""

DECOMPOSE_FORMAT = """\
Answer with JSON only, in exactly this form:
```json
{"tasks": [
  {"id": "t1", "title": "short imperative title", "role": "backend",
   "description": "what to change and why, precisely enough to do it without the plan",
   "files": ["path/relative/to/repo.py"], "depends_on": []}
]}
```
Rules:
- "id" is a short unique string ("t1", "t2", ...); "title" is non-empty.
- "role" is one of: """ + ", ".join(TASK_ROLES) + """ (leave it out when unsure).
- "files" lists the repository paths the task creates or changes.
- "depends_on" lists ids of tasks that must be finished first; no task may depend on itself, directly \
or through others.
- Order the tasks the way you would do them."""


DECOMPOSE_POSITIONAL = """\
Answer with JSON only: {"tasks": [...]}, one object per task, in the order they are to be done, each with:
"title": what the task does, in a few words of your own, naming the function or file it changes;
"role": one of """ + ", ".join(TASK_ROLES) + """;
"description": what to change and why, in a sentence or two taken from the plan;
"files": the repository paths the task changes.
Give as few tasks as the plan needs."""


def decompose_messages(plan: str, context_text: str = "", *, positional: bool = False) -> list[Message]:
    """The chat that asks the planner to split ``plan`` into tasks; ``positional`` asks for the short form
    (no ids, no dependencies) that a local engine is held to by its schema."""
    user = f"Plan:\n{plan.strip()}"
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

EDIT_FORMAT = """\
Make every change as a SEARCH/REPLACE block:

path/to/file.py
<<<<<<< SEARCH
the exact lines to replace, copied from the file
=======
the new lines
>>>>>>> REPLACE

The path is relative to the repository root and stands alone on the line before the block. SEARCH must \
match the file exactly, including indentation; keep it short but unique. An empty SEARCH creates a new \
file. Use several blocks for several changes."""

AGENT_SYSTEM = """\
You are a careful {role} engineer carrying out one task of a larger plan in an existing repository. Change \
only what the task needs, follow the style of the surrounding code, and keep the code working.

""" + EDIT_FORMAT


def agent_system(role: str) -> str:
    """The system prompt of the agent that carries out a task in ``role``."""
    return AGENT_SYSTEM.format(role=role)


def task_messages(
    role: str,
    title: str,
    description: str = "",
    files: Sequence[str] = (),
    plan: str = "",
    context_text: str = "",
) -> list[Message]:
    """The chat that hands one task to its agent."""
    user = f"Task: {title.strip()}"
    if description.strip():
        user += f"\n\n{description.strip()}"
    if files:
        user += "\n\nFiles this task is expected to touch: " + ", ".join(files)
    if plan.strip():
        user += f"\n\nThe whole plan, for reference (do only this task):\n{plan.strip()}"
    if context_text.strip():
        user += f"\n\nRelevant parts of the repository:\n{context_text.strip()}"
    user += "\n\nExplain your change in a sentence or two, then give the SEARCH/REPLACE blocks."
    return [{"role": "system", "content": agent_system(role)}, {"role": "user", "content": user}]


# ------------------------------------------------------------------------------------------ debug cycle

DEBUG_PROMPT = """\
The project's tests fail after the changes for the task "{title}".

Command: {command}
Result: {outcome}

The last lines of its output:
```
{tail}
```

Find the cause and fix it with SEARCH/REPLACE blocks. Fix the code, not the tests, unless a test itself is \
wrong; never delete or weaken a test to make it pass."""


# ------------------------------------------------------------------------------------------- the reviewer

REVIEW_SYSTEM = """\
You are the reviewer of a team of engineers. You read the diff that carries out a plan and look for bugs, \
missing pieces, security problems and changes the plan did not ask for. You judge the diff on its merits, \
briefly and concretely."""

REVIEW_FORMAT = """\
Answer in exactly this form:
VERDICT: PASS | CONCERN | BLOCK
SUMMARY: one or two sentences
FINDINGS:
- path/to/file.py:42: what is wrong and how to fix it

PASS means the diff can be accepted as it is; CONCERN means it works but something should be looked at; \
BLOCK means it must not be accepted. Give one finding per line, with the file and line when there is one; \
write "- none" when you have nothing to report."""


REVIEW_JSON = """\
Answer with JSON only, in this form:
{"verdict": "PASS", "summary": "one or two sentences", "findings": [{"file": "path/to/file.py", "line": 42, \
"text": "what is wrong and how to fix it"}]}
"verdict" is PASS (the diff can be accepted as it is), CONCERN (it works but something should be looked at) or \
BLOCK (it must not be accepted); "findings" is empty when you have nothing to report."""


def review_messages(plan: str, diff: str, note: str = "", *, json_form: bool = False) -> list[Message]:
    """The chat that asks the reviewer for a verdict on ``diff``; ``json_form`` asks for the JSON a local
    engine is held to by its schema."""
    user = f"Plan:\n{plan.strip()}\n\nDiff:\n```diff\n{diff.rstrip()}\n```"
    if note:
        user += f"\n\n{note}"
    user += f"\n\n{REVIEW_JSON if json_form else REVIEW_FORMAT}"
    return [{"role": "system", "content": REVIEW_SYSTEM}, {"role": "user", "content": user}]
