"""Tasks routed on measured speed: the role's local model (the Ollama stand-in) when its prediction fits
``[router] local_max_latency_s``, the hosted alternative (a scripted model) otherwise or when it is down; each
decision stored with its run and task, and a close call shrunk before it is sent."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from gitrepo import git, hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.agents import events as xe
from moot.agents import execute as x
from moot.agents import runs
from moot.agents.routing import route
from moot.agents.speed import EXPECTED_OUTPUT_TOKENS, prompt_tokens
from moot.agents.tasks import Task
from moot.core.config.models import Config
from moot.core.perf.store import PerfStore, Sample
from moot.core.providers.base import close_backends
from moot.core.storage import Store
from standins.ollama_server import OllamaStandIn

TAG = "coder:1b"
LOCAL = f"ollama/{TAG}"
EDIT = "x.txt\n<<<<<<< SEARCH\nno\n=======\nok\n>>>>>>> REPLACE\n"


@pytest.fixture
async def server():
    with OllamaStandIn() as s:
        s.add_model(TAG, pieces=["Done.\n\n", EDIT])
        yield s
        await close_backends()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"x.txt": "no\n", "src/app.py": "def f():\n    return 1\n" * 40})


@pytest.fixture
def store():
    with Store() as s:
        yield s


def make_config(url: str, *, limit: float = 30.0, hosted: bool = True, **roles: str) -> Config:
    data: dict[str, Any] = {
        "models": [
            {"name": "coder", "model": LOCAL, "api_base": url, "timeout_s": 30, "retries": 0},
            {"name": "alpha", "model": "scripted/alpha", "timeout_s": 30},
        ],
        "roles": {"backend": "coder", **roles},
        "router": {"local_max_latency_s": limit, "hosted": {"backend": "alpha"} if hosted else {},
                   "learn_shapes": False},  # the speed rules alone (shapes: tests/test_shapes.py)
        "context": {"default_budget": 2000},
    }
    return Config.model_validate(data)


def measured(store: Store, host: str, *, prompt_rate: float, eval_rate: float) -> None:
    """Four warm calls at exact rates, just now (so the model counts as loaded)."""
    perf = PerfStore(store)
    for _ in range(4):
        perf.record(Sample(host=host, model=LOCAL, prompt_tokens=100, output_tokens=100,
                           prompt_eval_count=int(prompt_rate), prompt_eval_ns=1_000_000_000,
                           eval_count=int(eval_rate), eval_ns=1_000_000_000, num_ctx=4096))


async def carry_out(config: Config, store: Store, repo: Path, events: list[Any], **task: Any) -> runs.ExecRun:
    run_id = x.begin(store, repo, "make x ok", "the plan: make x ok")
    spec = {"id": "t1", "title": "make x ok", "role": "backend", "files": ["x.txt"], **task}
    return await x.execute(config, store, run_id, route([Task(**spec)], config), on_progress=events.append)


def trailer(repo: Path, run: runs.ExecRun) -> str:
    c = run.candidate(0)
    assert c is not None
    return git(repo, "log", "-1", "--format=%(trailers:key=Moot-Model,valueonly)", c.branch).strip()


def decisions(store: Store) -> list[dict[str, Any]]:
    return PerfStore(store).decisions()


async def test_a_slow_local_model_hands_the_task_to_the_hosted_one(server, scripted, repo, store) -> None:
    measured(store, server.url, prompt_rate=200.0, eval_rate=5.0)  # 1024 tokens at 5 tok/s: over 200 s
    scripted.enqueue("alpha", "Done.\n\n" + EDIT)
    events: list[Any] = []
    run = await carry_out(make_config(server.url), store, repo, events)
    assert run.ok and trailer(repo, run) == "alpha"
    assert server.requests_to("/api/chat") == []  # the local model was never asked
    [d] = decisions(store)
    assert (d["run_id"], d["task_id"], d["role"], d["chosen"]) == (run.run_id, "t1", "backend", "alpha")
    assert d["reason"].startswith(f"backend → scripted/alpha: {LOCAL} predicted ") and "> 30 s" in d["reason"]
    assert d["output_tokens"] == EXPECTED_OUTPUT_TOKENS and d["prompt_tokens"] > 0
    [routed] = [e for e in events if isinstance(e, xe.TaskRouted)]
    assert (routed.task_id, routed.model, routed.reason) == ("t1", "alpha", d["reason"])
    [task] = runs.load(store, run.run_id).candidate(0).tasks  # type: ignore[union-attr]
    assert task.model_alias == "alpha"


async def test_a_fast_local_model_keeps_the_task(server, scripted, repo, store) -> None:
    measured(store, server.url, prompt_rate=2000.0, eval_rate=400.0)
    run = await carry_out(make_config(server.url), store, repo, [])
    assert run.ok and trailer(repo, run) == "coder" and scripted.calls == []
    [d] = decisions(store)
    assert d["chosen"] == "coder" and "≤ 30 s" in d["reason"] and d["adjustments"] is None
    [chat] = server.requests_to("/api/chat")
    assert chat.body["options"]["num_predict"] == 4096  # not shrunk


async def test_without_measurements_local_runs_and_produces_them(server, scripted, repo, store) -> None:
    run = await carry_out(make_config(server.url), store, repo, [])
    assert run.ok and trailer(repo, run) == "coder"
    assert decisions(store)[0]["reason"] == f"backend → {LOCAL}: no measurements yet"
    assert len(PerfStore(store).samples(LOCAL, server.url)) == 1


async def test_a_local_host_that_is_down_goes_hosted(scripted, repo, store) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed
    scripted.enqueue("alpha", "Done.\n\n" + EDIT)
    run = await carry_out(make_config(url), store, repo, [])
    assert run.ok and trailer(repo, run) == "alpha"
    assert decisions(store)[0]["reason"] == f"backend → scripted/alpha: {LOCAL} is down"


async def test_a_close_prediction_shrinks_the_request(server, scripted, repo, store) -> None:
    """Eval at 40 tok/s: 1024 tokens take 25.6 s, within 30 s but past 24 s (80 %): the output is capped."""
    measured(store, server.url, prompt_rate=1_000_000.0, eval_rate=40.0)
    run = await carry_out(make_config(server.url), store, repo, [])
    assert run.ok and trailer(repo, run) == "coder"
    [d] = decisions(store)
    assert "close to the limit" in d["reason"] and "output capped at" in d["reason"]
    cap = d["adjustments"]["output_tokens"]
    assert EXPECTED_OUTPUT_TOKENS // 2 <= cap < EXPECTED_OUTPUT_TOKENS
    [chat] = server.requests_to("/api/chat")
    assert chat.body["options"]["num_predict"] == cap


async def test_a_chosen_model_and_roles_without_alternatives_are_left_alone(server, scripted, repo, store) -> None:
    """The user's override keeps its model; a hosted role model with no local one is not the router's."""
    measured(store, server.url, prompt_rate=200.0, eval_rate=5.0)
    config = make_config(server.url, hosted=False, docs="alpha")
    run_id = x.begin(store, repo, "t", "p")
    tasks = [Task(id="t1", title="make x ok", role="backend", files=["x.txt"]),
             Task(id="t2", title="docs", role="docs", files=["README.md"], depends_on=["t1"])]
    scripted.enqueue("alpha", "Done.\n\nREADME.md\n<<<<<<< SEARCH\n=======\nhi\n>>>>>>> REPLACE\n")
    run = await x.execute(config, store, run_id, route(tasks, config, {"t1": (None, "coder")}))
    assert run.ok and decisions(store) == []


def test_prompt_tokens_are_counted_exactly() -> None:
    msgs = [{"role": "system", "content": "You edit code."}, {"role": "user", "content": "make x ok"}]
    assert prompt_tokens(msgs, LOCAL) == (4 + 4) + (3 + 4)  # cl100k: "You edit code." 4, "make x ok" 3; 4 each
