"""The discussion engine against stand-in participants that answer with a digest of what they were sent: who
sees whom, in which round, under which mode; failures, cancellation, digests of old rounds, storage."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conftest import SCRIPTED_CONFIG
from echo_model import EchoBackend
from moot.core.config import load_config
from moot.core.discussion import (
    EVENTS,
    USER,
    Discussion,
    DiscussionEngine,
    DiscussionError,
    Kind,
    Limits,
    Status,
)
from moot.core.discussion import events as ev
from moot.core.discussion import store as stored
from moot.core.storage import Store

NAMES = ["alpha", "beta", "gamma"]


@pytest.fixture
def echo():
    backend = EchoBackend.install()
    backend.echoing |= set(NAMES)
    yield backend
    EchoBackend.uninstall()


@pytest.fixture
def config(tmp_path: Path, user_config):
    user_config(SCRIPTED_CONFIG)
    return load_config(tmp_path).config


@pytest.fixture
def store():
    s = Store()
    yield s
    s.close()


def engine(config, store, *, sequential=False, context=None, limits=None, events=None, did="d1"):
    d = Discussion(id=did, topic="which parser?", participants=list(NAMES), sequential=sequential, context=context)
    sink = events.append if events is not None else None
    return DiscussionEngine.start(config, store, d, judge=config.model("alpha"), on_event=sink,
                                  limits=limits or Limits())


def texts(r) -> dict[str, str]:
    return {m.speaker: m.text for m in r.messages}


async def test_open_then_a_round_shows_everyone_the_others_first_answers(echo, config, store) -> None:
    e = engine(config, store, context="src/parse.py: def parse()")
    first = await e.open()
    assert first.kind == Kind.OPEN and first.n == 1
    assert texts(first) == {n: f"{n} r1 heard nothing context" for n in NAMES}
    second = await e.next_round()
    assert second.kind == Kind.ROUND
    for n in NAMES:  # every earlier answer, its own too, and the repository context only in the first round
        assert texts(second)[n] == f"{n} r2 heard alpha@1 beta@1 gamma@1"
    system = second.by("beta").prompt[0]["content"]
    assert "You are beta" in system and "alpha and gamma" in system


async def test_parallel_speakers_do_not_see_each_other_within_a_round(echo, config, store) -> None:
    e = engine(config, store)
    await e.open()
    r = await e.next_round()
    assert "alpha@2" not in texts(r)["gamma"]


async def test_sequential_speakers_see_the_earlier_speakers_of_the_same_round(echo, config, store) -> None:
    e = engine(config, store, sequential=True)
    r = await e.open()
    assert texts(r)["alpha"] == "alpha r1 heard nothing"
    assert texts(r)["beta"] == "beta r1 heard alpha@1"
    assert texts(r)["gamma"] == "gamma r1 heard alpha@1 beta@1"


async def test_a_mention_reaches_only_the_named_and_joins_the_transcript(echo, config, store) -> None:
    e = engine(config, store)
    await e.open()
    before = len(echo.calls)
    r = await e.mention(["beta"], "what about errors?")
    assert [c[0] for c in echo.calls[before:]] == ["beta"]
    assert r.kind == Kind.MENTION and r.messages[0].speaker == USER
    assert texts(r)["beta"] == "beta mention heard alpha@1 beta@1 gamma@1 you@2"
    nxt = await e.next_round()
    assert texts(nxt)["gamma"] == "gamma r3 heard alpha@1 beta@1 gamma@1 you@2 beta@2"


async def test_an_unknown_name_is_refused_and_nothing_is_sent(echo, config, store) -> None:
    e = engine(config, store)
    with pytest.raises(DiscussionError, match="unknown model zeta.*known: alpha, beta, gamma"):
        await e.mention(["zeta"], "hello")
    assert echo.calls == []


async def test_a_failing_participant_fails_alone_and_is_asked_again(echo, config, store) -> None:
    echo.enqueue("beta", error=("server", False))
    e = engine(config, store)
    r = await e.open()
    assert r.by("beta").status == Status.FAILED and "server" in (r.by("beta").error or "")
    assert r.by("alpha").status == Status.DONE and r.by("gamma").status == Status.DONE
    nxt = await e.next_round()
    assert texts(nxt)["beta"] == "beta r2 heard alpha@1 gamma@1"  # asked again; its failure is not heard


async def test_stopping_a_round_keeps_the_finished_answers(echo, config, store) -> None:
    echo.enqueue("gamma", hang=True)
    events: list[object] = []
    e = engine(config, store, events=events)
    job = asyncio.create_task(e.open())
    for _ in range(200):
        await asyncio.sleep(0.01)
        if sum(isinstance(x, ev.Spoke) for x in events) == 2:
            break
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    r = e.d.rounds[0]
    assert r.by("alpha").status == Status.DONE and r.by("gamma").status == Status.CANCELLED
    assert isinstance(events[-1], ev.RoundDone) and events[-1].cancelled
    again = stored.load(store, "d1")
    assert again is not None and again.rounds[0].by("gamma").status == Status.CANCELLED
    assert again.rounds[0].by("alpha").text == "alpha r1 heard nothing"


async def test_old_rounds_are_digested_when_the_window_is_reached(echo, config, store) -> None:
    for m in config.models:
        m.num_ctx = 700  # a small local window: the transcript outgrows it after a few rounds
    echo.default.update({})
    events: list[object] = []
    e = engine(config, store, events=events, limits=Limits(words=50, reply_tokens=200))
    long = " ".join(["word"] * 120)
    for n in NAMES:
        echo.enqueue(n, f"{n} says {long}")
    await e.open()
    await e.next_round()
    r3 = await e.next_round()
    digests = [x for x in events if isinstance(x, ev.Digested)]
    assert digests, "no digest although the transcript passed the window"
    d = digests[0].digest
    assert d.tokens < d.source_tokens
    assert "digest" in texts(r3)["beta"]  # round 3 was sent the digest instead of the rounds it replaces
    assert stored.load(store, "d1").digest is not None


async def test_conclusion_is_the_judge_s_and_ends_the_discussion(echo, config, store) -> None:
    e = engine(config, store)
    with pytest.raises(DiscussionError, match="nothing to conclude"):
        await e.conclude()
    await e.open()
    said = await e.conclude()
    assert said.speaker == "alpha" and said.text.startswith("## Agreed")
    assert store.run("d1")["status"] == "done"
    again = stored.load(store, "d1")
    assert again.conclusion is not None and again.conclusion.text == said.text


async def test_a_stored_discussion_is_continued(echo, config, store) -> None:
    await engine(config, store).open()
    d = stored.load(store, "d1")
    assert d is not None and [r.kind for r in d.rounds] == [Kind.OPEN]
    again = DiscussionEngine(config, store, d, judge=config.model("alpha"))
    r = await again.next_round()
    assert r.n == 2 and texts(r)["alpha"] == "alpha r2 heard alpha@1 beta@1 gamma@1"
    assert store.run("d1")["kind"] == "discussion" and store.run("d1")["status"] == "open"


async def test_events_are_a_closed_set(echo, config, store) -> None:
    events: list[object] = []
    e = engine(config, store, events=events)
    await e.open()
    assert {type(x) for x in events} <= set(EVENTS)
    assert {ev.RoundStarted, ev.Speaking, ev.Spoke, ev.RoundDone} <= {type(x) for x in events}


def test_one_model_under_several_variants_holds_a_roundtable(config) -> None:
    from moot.core.discussion import participants_of

    alpha, beta = config.model("alpha"), config.model("beta")
    assert participants_of([(alpha, "architect"), (alpha, "test-engineer")]) == [
        "alpha:architect", "alpha:test-engineer"]
    assert participants_of([(alpha, "default"), (beta, "default"), (alpha, "default")]) == ["alpha", "beta"]


async def test_personas_of_one_model_see_each_other(echo, config, store) -> None:
    d = Discussion(id="p1", topic="tabs?", participants=["alpha:architect", "alpha:security-engineer"])
    e = DiscussionEngine.start(config, store, d, judge=config.model("alpha"))
    await e.open()
    r = await e.next_round()
    assert texts(r)["alpha:security-engineer"] == "alpha r2 heard alpha:architect@1 alpha:security-engineer@1"
    system = r.by("alpha:architect").prompt[0]["content"]
    assert "You are alpha:architect" in system and "You speak as an architect" in system
    assert r.by("alpha:security-engineer").model == "scripted/alpha"


async def test_a_model_named_with_at_joins_and_stays(echo, config, store) -> None:
    d = Discussion(id="j1", topic="q", participants=["alpha", "beta"])
    e = DiscussionEngine.start(config, store, d, judge=config.model("alpha"))
    await e.open()
    await e.mention(["gamma"], "your view?")
    again = stored.load(store, "j1")
    assert again is not None and again.participants == ["alpha", "beta", "gamma"]
    r = await DiscussionEngine(config, store, again).next_round()
    assert [m.speaker for m in r.messages] == ["alpha", "beta", "gamma"]


def test_a_hosted_participant_s_window_is_the_one_its_client_knows() -> None:
    from moot.core.config.models import ModelConfig
    from moot.core.discussion.engine import HOSTED_WINDOW, LOCAL_WINDOW, window

    assert window(ModelConfig(name="c", model="anthropic/claude-sonnet-4-5")) == 200_000
    assert window(ModelConfig(name="g", model="openai/gpt-4o")) == 128_000
    assert window(ModelConfig(name="u", model="openai/no-such-model-anywhere")) == HOSTED_WINDOW
    assert window(ModelConfig(name="s", model="local/smollm2")) == LOCAL_WINDOW
    assert window(ModelConfig(name="n", model="anthropic/claude-sonnet-4-5", num_ctx=8000)) == 8000
