"""A hostile server: it ignores ``max_tokens`` and streams without end, in small pieces or huge ones.

Each reply is capped in tokens and bytes (a few times the call's ``max_tokens``): the call is cut there, quickly,
the server stops being read (the stand-in sees the client go away), the database row says it was cut, and the
other models of a plan finish as usual.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from conftest import sql
from moot.core.calls import CallContext, run_call
from moot.core.config.models import ModelConfig
from moot.core.events import TextDelta
from moot.core.providers.base import Params, close_backends
from moot.core.providers.hosted import HostedBackend
from moot.core.providers.stream import BYTES_PER_TOKEN, MIN_REPLY_TOKENS, REPLY_CAP_FACTOR
from moot.core.storage import Store
from standins.ollama_server import OllamaStandIn
from standins.openai_server import OpenAIStandIn

pytestmark = pytest.mark.hostile

KEY = "sk-moot-test-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "Plan a tiny change"}]
MAX_TOKENS = 64
TOKEN_CAP = max(MIN_REPLY_TOKENS, REPLY_CAP_FACTOR * MAX_TOKENS)
BYTE_CAP = TOKEN_CAP * BYTES_PER_TOKEN
HUGE = "x" * 65536 + "{n}"  # one piece far past the byte cap


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    await HostedBackend().aclose()
    await close_backends()


@pytest.fixture
def openai() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as s:
        yield s


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MOOT_TEST_KEY", KEY)
    return KEY


def hosted(server: OpenAIStandIn, name: str = "gpt") -> ModelConfig:
    return ModelConfig(name=name, model=f"openai/{name}", api_base=server.url, api_key_env="MOOT_TEST_KEY",
                       max_tokens=MAX_TOKENS, retries=0, timeout_s=60)


async def gone(server: OpenAIStandIn) -> bool:
    """Whether the server saw the client go away (waited for in a thread: closing needs the event loop)."""
    return await asyncio.to_thread(server.wait_for, lambda: server.disconnects == 1, 5.0)


def last_call(store: Store) -> dict[str, object]:
    return dict(sql(store, "SELECT status, error_kind, error_message, reply, completion_tokens FROM calls"
                              " ORDER BY id DESC LIMIT 1")[0])


async def test_an_endless_hosted_reply_is_cut_at_its_token_cap(openai: OpenAIStandIn, key: str) -> None:
    openai.script("gpt", "Here it comes:", endless=" more{n}")
    store = Store()
    start = time.monotonic()
    result = await run_call(hosted(openai), MESSAGES, ctx=CallContext(store, phase="propose"))
    assert time.monotonic() - start < 20
    assert result.error is not None and result.error.message == f"the reply passed {TOKEN_CAP:,} tokens: cut"
    assert result.text.startswith("Here it comes: more0 more1") and result.usage.completion_tokens == TOKEN_CAP
    assert await gone(openai), "the server is still being read"
    row = last_call(store)
    assert row["status"] == "failed" and "cut" in str(row["error_message"])
    assert row["completion_tokens"] == TOKEN_CAP
    store.close()


async def test_a_huge_hosted_reply_is_cut_at_its_byte_cap(openai: OpenAIStandIn, key: str) -> None:
    openai.script("gpt", "Start", endless=HUGE)
    store = Store()
    result = await run_call(hosted(openai), MESSAGES, ctx=CallContext(store, phase="judge"))
    assert result.error is not None and result.error.message == f"the reply passed {BYTE_CAP:,} bytes: cut"
    assert len(result.text.encode()) == BYTE_CAP
    assert await gone(openai)
    row = last_call(store)
    assert row["status"] == "failed" and str(row["error_message"]).endswith("bytes: cut")
    assert len(str(row["reply"])) == BYTE_CAP
    store.close()


async def test_a_role_cap_passed_in_params_wins(openai: OpenAIStandIn, key: str) -> None:
    openai.script("gpt", "", endless=" verdict{n}")
    result = await run_call(hosted(openai), MESSAGES, Params(role="review", max_reply_tokens=10))
    assert result.error is not None and result.error.message == "the reply passed 10 tokens: cut"
    assert await gone(openai)


async def test_an_endless_ollama_reply_is_cut_and_the_stream_closed() -> None:
    with OllamaStandIn() as server:
        server.add_model("coder:7b", pieces=["def f():"], endless="\n    pass")
        model = ModelConfig(name="coder", model="ollama/coder:7b", api_base=server.url, max_tokens=MAX_TOKENS,
                            retries=0, timeout_s=60)
        store = Store()
        seen: list[object] = []
        start = time.monotonic()
        result = await run_call(model, MESSAGES, ctx=CallContext(store, phase="execute"), on_event=seen.append)
        assert time.monotonic() - start < 20
        assert result.error is not None and result.error.message == f"the reply passed {TOKEN_CAP:,} tokens: cut"
        assert sum(1 for e in seen if isinstance(e, TextDelta)) > 0
        assert await asyncio.to_thread(server.wait_aborted, 5), "the server is still being read"
        assert server.streams[-1].pieces_sent < TOKEN_CAP * 50  # stopped soon after the cut, not at the timeout
        row = last_call(store)
        assert row["status"] == "failed" and "cut" in str(row["error_message"])
        store.close()


async def test_a_huge_ollama_piece_is_cut_at_its_byte_cap() -> None:
    with OllamaStandIn() as server:
        server.add_model("coder:7b", pieces=[], endless=HUGE)
        model = ModelConfig(name="coder", model="ollama/coder:7b", api_base=server.url, max_tokens=MAX_TOKENS,
                            retries=0, timeout_s=60)
        result = await run_call(model, MESSAGES)
        assert result.error is not None and result.error.message == f"the reply passed {BYTE_CAP:,} bytes: cut"
        assert len(result.text) == BYTE_CAP
        assert await asyncio.to_thread(server.wait_aborted, 5)


PLAN_CONFIG = """
[[models]]
name = "flood"
model = "openai/flood"
api_base = "{url}"
api_key_env = "MOOT_TEST_KEY"
max_tokens = {max_tokens}
retries = 0
timeout_s = 60

[[models]]
name = "calm"
model = "openai/calm"
api_base = "{url}"
api_key_env = "MOOT_TEST_KEY"
max_tokens = {max_tokens}
retries = 0
timeout_s = 60

[[models]]
name = "steady"
model = "openai/steady"
api_base = "{url}"
api_key_env = "MOOT_TEST_KEY"
max_tokens = {max_tokens}
retries = 0
timeout_s = 60

[roles]
judge = "calm"

[strategies.trio]
members = [{{ model = "flood", variant = "default" }}, {{ model = "calm", variant = "default" }},
           {{ model = "steady", variant = "default" }}]
"""


def test_a_plan_with_a_flooding_model_cuts_it_and_the_others_finish(
        openai: OpenAIStandIn, key: str, user_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from moot.cli.main import main

    user_config(PLAN_CONFIG.format(url=openai.url, max_tokens=MAX_TOKENS))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    openai.script("flood", "My plan:", endless=" again{n}")
    openai.script("calm", "Change one line.")
    openai.script("steady", "Change the same line.")
    start = time.monotonic()
    code = main(["plan", "a tiny change", "--strategy", "trio", "--json"])
    assert time.monotonic() - start < 30
    out = capsys.readouterr()
    assert code == 0, out.err
    doc = json.loads(out.out)
    by_model = {p["model"]: p for p in doc["proposals"]}
    assert by_model["calm"]["status"] == "done" and by_model["calm"]["text"] == "Change one line."
    assert by_model["steady"]["status"] == "done"
    assert by_model["flood"]["status"] == "failed" and "cut" in by_model["flood"]["error"]
    assert doc["judge"]["model"] == "calm" and doc["judge"]["error"] is None
    assert openai.wait_for(lambda: openai.disconnects >= 1)


async def test_a_calls_phase_sets_its_reply_cap(scripted) -> None:
    """The phase a call belongs to is its role for the reply's cap (a ranking gets less room than a proposal)."""
    from moot.core.calls import CallContext, run_call
    from moot.core.config import ModelConfig
    from moot.core.providers.base import Params
    from moot.core.providers.stream import reply_caps

    model = ModelConfig(name="alpha", model="scripted/alpha")
    for phase in ("rank", "propose"):
        await run_call(model, [{"role": "user", "content": "x"}], Params(max_tokens=300), ctx=CallContext(phase=phase))
    rank, propose = (params for _, _, params in scripted.calls[-2:])
    assert rank.role == "rank" and propose.role == "propose"
    assert reply_caps(rank).tokens < reply_caps(propose).tokens
