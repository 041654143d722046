"""Decomposition: reading the planner's task list, every validation error, dependency order, the retry."""

from __future__ import annotations

import json

import pytest

from moot.agents.tasks import (
    DecomposeError,
    InvalidTaskListError,
    Task,
    TaskList,
    TaskListError,
    decompose,
    ordered,
    parse_task_list,
    whole_plan_task,
)
from moot.core.calls import CallContext
from moot.core.config.models import ModelConfig
from moot.core.storage import Store

PLANNER = ModelConfig(name="planner", model="scripted/planner", retries=0)
GOOD = {
    "tasks": [
        {"id": "t1", "title": "Add the flag", "role": "backend", "description": "in cli.py", "files": ["cli.py"]},
        {"id": "t2", "title": "Test the flag", "role": "tests", "files": ["tests/test_cli.py"],
         "depends_on": ["t1"]},
    ]
}


def err(text: str) -> str:
    with pytest.raises(TaskListError) as info:
        parse_task_list(text)
    return str(info.value)


# ------------------------------------------------------------------------------------- finding the JSON


def test_bare_object() -> None:
    tl = parse_task_list(json.dumps(GOOD))
    assert [t.id for t in tl.tasks] == ["t1", "t2"]
    assert tl.tasks[1].depends_on == ["t1"]
    assert tl.tasks[0].files == ["cli.py"]
    assert tl.tasks[0].description == "in cli.py"


def test_fenced_with_prose_around() -> None:
    text = f"Here is the split:\n\n```json\n{json.dumps(GOOD, indent=2)}\n```\n\nLet me know."
    assert [t.title for t in parse_task_list(text).tasks] == ["Add the flag", "Test the flag"]


def test_prose_around_bare_json_with_stray_braces() -> None:
    text = f"I used {{braces}} in prose. {json.dumps(GOOD)} That is all [really]."
    assert len(parse_task_list(text).tasks) == 2


def test_bare_list_of_tasks() -> None:
    tl = parse_task_list(json.dumps(GOOD["tasks"]))
    assert [t.id for t in tl.tasks] == ["t1", "t2"]


def test_unknown_keys_ignored_defaults_filled() -> None:
    tl = parse_task_list('{"tasks": [{"id": "a", "title": "A", "priority": 3}], "notes": "x"}')
    task = tl.tasks[0]
    assert task.role is None and task.description == "" and task.files == [] and task.depends_on == []


def test_role_is_normalised() -> None:
    assert parse_task_list('[{"id": "a", "title": "A", "role": " Frontend "}]').tasks[0].role == "frontend"


def test_fence_without_language_and_a_second_irrelevant_fence() -> None:
    text = "```\n" + json.dumps(GOOD) + "\n```\nand an example:\n```python\nx = {1: 2}\n```"
    assert len(parse_task_list(text).tasks) == 2


# ------------------------------------------------------------------------------------------ every error


def test_invalid_json_names_line_and_column() -> None:
    message = err('Here:\n{"tasks": [\n  {"id": "t1",\n   "title": "x"\n   "files": []}]}')
    assert message.startswith("not valid JSON at line 4 column 4:")
    assert "delimiter" in message


def test_trailing_comma_is_a_json_error_not_a_fragment() -> None:
    assert err('```json\n{"tasks": [{"id": "t1", "title": "x",}]}\n```').startswith("not valid JSON at line 1")


def test_no_json_at_all() -> None:
    assert err("1. do this\n2. do that") == "no JSON found in the reply; answer with JSON only"


def test_object_without_tasks_key() -> None:
    assert err('{"steps": []}') == "the JSON object has no \"tasks\" key (its keys: 'steps')"


def test_tasks_not_a_list() -> None:
    assert err('{"tasks": "t1"}').startswith("tasks input should be a valid list")


def test_empty_list() -> None:
    assert err('{"tasks": []}') == "the task list is empty; give at least one task"


def test_missing_id_and_wrong_types() -> None:
    assert err('[{"title": "x"}]') == "tasks[0].id is missing"
    assert err('[{"id": 1, "title": "x"}]') == "tasks[0].id input should be a valid string, got 1"
    assert err('[{"id": "a", "title": "x", "files": "a.py"}]') == \
        'tasks[0].files input should be a valid list, got "a.py"'
    assert err('[{"id": "a", "title": "x", "depends_on": [2]}]') == \
        "tasks[0].depends_on[0] input should be a valid string, got 2"


def test_blank_id_and_title() -> None:
    assert err('[{"id": "  ", "title": "x"}]') == "tasks[0].id is empty"
    assert err('[{"id": "a", "title": ""}]') == "tasks[0].title is empty"


def test_duplicate_ids() -> None:
    message = err('[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "a", "title": "C"}]')
    assert message == "tasks[2].id 'a' is used by tasks[0] too; ids must be unique"


def test_unknown_dependency() -> None:
    text = '[{"id": "t1", "title": "A"}, {"id": "t2", "title": "B"}, {"id": "t3", "title": "C", "depends_on": ["t9"]}]'
    assert err(text) == "tasks[2].depends_on names 't9', which is not a task id"


def test_self_dependency() -> None:
    assert err('[{"id": "a", "title": "A", "depends_on": ["a"]}]') == \
        "tasks[0].depends_on names the task's own id 'a'"


def test_cycle() -> None:
    text = json.dumps([
        {"id": "a", "title": "A", "depends_on": ["c"]},
        {"id": "b", "title": "B", "depends_on": ["a"]},
        {"id": "c", "title": "C", "depends_on": ["b"]},
    ])
    assert err(text) == "the tasks depend on each other in a cycle: a -> c -> b -> a"


def test_unknown_role_says_which_roles_exist() -> None:
    message = err('[{"id": "a", "title": "A", "role": "devops"}]')
    assert message == "tasks[0].role 'devops' is not a role; use one of frontend, backend, tests, docs, reviewer, " \
        "or leave it out"
    assert "planner" not in err('[{"id": "a", "title": "A", "role": "planner"}]').split(";")[1]


def test_several_errors_are_all_reported() -> None:
    message = err('[{"id": 1, "title": 2}]')
    assert "tasks[0].id" in message and "tasks[0].title" in message


# -------------------------------------------------------------------------------------------- ordering


def t(id_: str, *deps: str) -> Task:
    return Task(id=id_, title=id_.upper(), depends_on=list(deps))


def test_ordered_keeps_planner_order_when_free() -> None:
    assert [x.id for x in ordered([t("c"), t("a"), t("b")])] == ["c", "a", "b"]


def test_ordered_moves_a_task_after_its_dependency() -> None:
    assert [x.id for x in ordered([t("b", "a"), t("x"), t("a")])] == ["x", "a", "b"]


def test_ordered_diamond() -> None:
    tasks = [t("d", "b", "c"), t("c", "a"), t("b", "a"), t("a")]
    assert [x.id for x in ordered(tasks)] == ["a", "c", "b", "d"]


def test_ordered_rejects_a_cycle() -> None:
    with pytest.raises(TaskListError, match="cycle: a -> b -> a"):
        ordered([t("a", "b"), t("b", "a")])


def test_tasklist_constructed_directly_is_validated() -> None:
    with pytest.raises(ValueError, match="not a task id"):
        TaskList(tasks=[t("a", "zz")])


# ------------------------------------------------------------------------------------------- decompose


@pytest.fixture
def store():
    s = Store()
    for run in ("run-1", "run-2", "run-3", "run-4"):
        s.start_run(run, "exec", "a task", None, None)
    yield s
    s.close()


async def test_decompose_success_is_logged(scripted, store) -> None:
    scripted.enqueue("planner", "Here you go:\n```json\n" + json.dumps(GOOD) + "\n```")
    events: list[object] = []
    tl = await decompose("1. add a flag\n2. test it", PLANNER, ctx=CallContext(store, "run-1"),
                         context_text="cli.py: def main()", on_event=events.append)
    assert [x.id for x in tl.tasks] == ["t1", "t2"]
    assert events  # the events reached the caller
    (name, messages, _), = scripted.calls
    assert name == "planner"
    assert "1. add a flag" in messages[-1]["content"] and "cli.py: def main()" in messages[-1]["content"]
    assert '"tasks"' in messages[-1]["content"]
    rows = store.calls("run-1")
    assert [(r["phase"], r["model_alias"], r["status"]) for r in rows] == [("decompose", "planner", "done")]


async def test_decompose_retries_once_with_the_error(scripted, store) -> None:
    scripted.enqueue("planner", '{"tasks": [{"id": "t1", "title": "A", "depends_on": ["t7"]}]}')
    scripted.enqueue("planner", json.dumps(GOOD))
    tl = await decompose("plan", PLANNER, ctx=CallContext(store, "run-2"))
    assert len(tl.tasks) == 2
    assert len(scripted.calls) == 2
    second = scripted.calls[1][1]
    assert second[-2] == {"role": "assistant",
                          "content": '{"tasks": [{"id": "t1", "title": "A", "depends_on": ["t7"]}]}'}
    assert second[-1]["role"] == "user"
    assert "tasks[0].depends_on names 't7', which is not a task id" in second[-1]["content"]
    rows = store.calls("run-2")
    assert [(r["phase"], r["label"]) for r in rows] == [("decompose", None), ("decompose", "retry")]


async def test_decompose_fails_after_two_invalid_replies(scripted, store) -> None:
    scripted.enqueue("planner", "1. first do this")
    scripted.enqueue("planner", '{"tasks": []}')
    with pytest.raises(InvalidTaskListError) as info:
        await decompose("plan", PLANNER, ctx=CallContext(store, "run-3"))
    assert str(info.value) == \
        "planner gave no valid task list after one retry: the task list is empty; give at least one task"
    assert len(scripted.calls) == 2
    assert "no JSON found" in scripted.calls[1][1][-1]["content"]
    assert len(store.calls("run-3")) == 2


def test_whole_plan_task_takes_the_first_line_as_title() -> None:
    t = whole_plan_task("\n## Add a greeting\n\n- write greet()\n")
    assert (t.id, t.title, t.role, t.depends_on) == ("t1", "Add a greeting", None, [])
    assert t.description == "## Add a greeting\n\n- write greet()"
    assert whole_plan_task("   ").title == "Carry out the plan"
    assert whole_plan_task("1. **Add** a `greet` function\n2. test it").title == "Add** a `greet` function"


async def test_decompose_call_failure(scripted, store) -> None:
    scripted.enqueue("planner", error=("auth", False))
    with pytest.raises(DecomposeError, match=r"decomposing the plan with planner failed: auth: scripted auth"):
        await decompose("plan", PLANNER, ctx=CallContext(store, "run-4"))
    rows = store.calls("run-4")
    assert [(r["phase"], r["status"], r["error_kind"]) for r in rows] == [("decompose", "failed", "auth")]


async def test_decompose_call_failure_on_the_retry(scripted) -> None:
    scripted.enqueue("planner", "no json here")
    scripted.enqueue("planner", error=("server", False))
    with pytest.raises(DecomposeError, match="failed: server"):
        await decompose("plan", PLANNER)
