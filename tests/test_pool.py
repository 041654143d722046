"""Host pools against three stand-in Ollama servers of different speeds, each answering one call at a time:
the order by predicted latency and load, calls spread, hosts down or killed mid-run, the record of it all."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from moot.core.calls import CallContext, run_call
from moot.core.config import ConfigError, load_config
from moot.core.config.models import Config, ModelConfig
from moot.core.perf import pool
from moot.core.providers.base import Params, close_backends
from moot.core.storage import Store
from standins.ollama_server import OllamaStandIn

TAG = "qwen2.5-coder:7b"
PIECES = ["one ", "two ", "three ", "four ", "five ", "six ", "seven ", "eight"]
MESSAGES = [{"role": "user", "content": "count to eight"}]
#: Seconds per piece: the fast host 100 tokens/s, the others 50 and 25 (reported and real alike).
SPEEDS = {"fast": 0.01, "medium": 0.02, "slow": 0.04}


def figures(delay: float) -> dict[str, int]:
    eval_ns = int(len(PIECES) * delay * 1e9)
    return {"prompt_eval_count": 4, "prompt_eval_duration": 4_000_000, "eval_count": len(PIECES),
            "eval_duration": eval_ns, "total_duration": eval_ns + 5_000_000}


@pytest.fixture(autouse=True)
def fresh_pool():
    pool.LIVE.__init__()  # type: ignore[misc]
    yield
    pool.LIVE.__init__()  # type: ignore[misc]


@pytest.fixture
async def hosts():
    servers = {}
    for name, delay in SPEEDS.items():
        s = OllamaStandIn(parallel=1).start()
        s.add_model(TAG, pieces=list(PIECES), delay_s=delay, figures=figures(delay))
        servers[name] = s
    yield servers
    for s in servers.values():
        s.stop()
    await close_backends()


def pooled(hosts: dict[str, OllamaStandIn]) -> ModelConfig:
    return ModelConfig(name="coder", model=f"ollama/{TAG}", api_base=[s.url for s in hosts.values()],
                       retries=1, timeout_s=20)


def name_of(hosts: dict[str, OllamaStandIn], url: str | None) -> str:
    return next(n for n, s in hosts.items() if s.url == url)


async def warm(hosts: dict[str, OllamaStandIn], store: Store) -> None:
    """One call to each host on its own, so the perf store has each one's figures."""
    for s in hosts.values():
        r = await run_call(ModelConfig(name="coder", model=f"ollama/{TAG}", api_base=s.url), MESSAGES,
                           Params(retries=0), ctx=CallContext(store))
        assert r.ok, r.error


# ------------------------------------------------------------------------------------------------- config


def test_a_list_of_api_bases_or_a_hosts_group_is_a_pool(tmp_path, user_config) -> None:
    m = ModelConfig(name="q", model="ollama/q", api_base=["http://a:11434", "http://b:11434", "http://a:11434"])
    assert m.api_base == "http://a:11434" and m.pool == ["http://a:11434", "http://b:11434"]
    c = Config.model_validate({"hosts": {"gpu": ["http://g1:8000/v1", "http://g2:8000/v1"]},
                               "models": [{"name": "v", "model": "openai/qwen", "hosts": "gpu"}]})
    assert c.models[0].pool == ["http://g1:8000/v1", "http://g2:8000/v1"] and c.models[0].api_base.endswith("g1:8000/v1")
    path = user_config('[[models]]\nname = "v"\nmodel = "openai/qwen"\nhosts = "gpux"\n')
    with pytest.raises(ConfigError, match="names no \\[hosts\\] group") as e:
        load_config(tmp_path)
    assert str(path) in str(e.value)


def test_a_project_file_cannot_add_hosts_until_trusted(tmp_path, user_config) -> None:
    user_config('[[models]]\nname = "q"\nmodel = "ollama/q"\n')
    (tmp_path / ".moot").mkdir()
    (tmp_path / ".moot" / "config.toml").write_text('[hosts]\nevil = ["http://attacker:11434"]\n')
    loaded = load_config(tmp_path)
    assert loaded.config.hosts == {} and any("hosts" in i.key for i in loaded.project_trust.ignored)


# -------------------------------------------------------------------------------------------------- order


async def test_the_order_follows_predicted_latency_load_and_failures(hosts) -> None:
    store = Store()
    await warm(hosts, store)
    model = pooled(hosts)
    picks = await pool.order(model, store, prompt_tokens=10, output_tokens=8)
    assert [name_of(hosts, p.host) for p in picks] == ["fast", "medium", "slow"]
    assert "predicted" in picks[0].reason and "100.0 tok/s" in picks[0].reason and "0 in flight" in picks[0].reason
    pool.LIVE.in_flight[hosts["fast"].url] = 3  # busy: its turn comes after three calls
    picks = await pool.order(model, store, prompt_tokens=10, output_tokens=8)
    assert name_of(hosts, picks[0].host) == "medium" and "3 in flight" in picks[-1].reason
    pool.LIVE.in_flight.clear()
    pool.LIVE.failed(hosts["fast"].url)
    picks = await pool.order(model, store, prompt_tokens=10, output_tokens=8)
    assert name_of(hosts, picks[-1].host) == "fast" and "failed in the last" in picks[-1].reason


async def test_a_host_holding_the_model_loaded_is_preferred(hosts) -> None:
    store = Store()
    for s in hosts.values():
        s.models[f"{TAG}"].load_ns = 2_000_000_000  # a cold load takes 2 s
    await warm(hosts, store)
    for s in hosts.values():
        s.unload(TAG)
    hosts["slow"].load(TAG, context_length=4096)
    picks = await pool.order(pooled(hosts), store, prompt_tokens=10, output_tokens=8)
    assert name_of(hosts, picks[0].host) == "slow" and "model loaded" in picks[0].reason
    assert "model not loaded" in picks[1].reason


# ---------------------------------------------------------------------------------------------- running


async def test_concurrent_calls_spread_and_the_fastest_gets_most(hosts) -> None:
    store = Store()
    await warm(hosts, store)
    results = await asyncio.gather(*(run_call(pooled(hosts), MESSAGES, Params(), ctx=CallContext(store))
                                     for _ in range(12)))
    assert all(r.ok and r.text == "".join(PIECES) for r in results)
    share = Counter(name_of(hosts, r.host) for r in results)
    assert share["fast"] > share["medium"] >= share["slow"] and share["slow"] >= 1, share
    rows = {(r["host"], r["answered"]) for r in pool.summary(store)}
    assert all(r["wall_tokens_per_s"] for r in pool.summary(store))
    assert {(hosts[n].url, share[n]) for n in share} <= rows
    assert all(r.hosts_tried and "predicted" in r.hosts_tried[0] for r in results)


async def test_a_host_that_is_down_hands_the_call_to_the_next(hosts) -> None:
    store = Store()
    await warm(hosts, store)
    hosts["fast"].stop()
    r = await run_call(pooled(hosts), MESSAGES, Params(), ctx=CallContext(store))
    assert r.ok and name_of(hosts, r.host) == "medium" and len(r.hosts_tried) == 2
    rows = {row["host"]: row for row in pool.summary(store)}
    assert rows[hosts["fast"].url]["failures"] == 1 and rows[hosts["fast"].url]["failovers"] == 1
    again = await pool.order(pooled(hosts), store, prompt_tokens=10, output_tokens=8)
    assert name_of(hosts, again[-1].host) == "fast"  # tried last while it is down


async def test_a_failure_after_text_is_the_call_s(hosts) -> None:
    """Text already shown cannot be taken back: an error mid-stream fails the call, on its host."""
    store = Store()
    await warm(hosts, store)
    hosts["fast"].models[TAG].fail = "error_mid_stream"
    r = await run_call(pooled(hosts), MESSAGES, Params(), ctx=CallContext(store))
    assert not r.ok and r.text == "one " and len(r.hosts_tried) == 1 and name_of(hosts, r.host) == "fast"


async def test_a_host_killed_mid_run_loses_no_call(hosts) -> None:
    """Twelve calls at once; the fast host dies while they run. Each call either answers (on another host if
    the dead one had shown nothing) or fails clearly after text it had shown; none hangs."""
    store = Store()
    await warm(hosts, store)
    for s in hosts.values():
        s.models[TAG].delay_s *= 3
    calls = [asyncio.create_task(run_call(pooled(hosts), MESSAGES, Params(), ctx=CallContext(store)))
             for _ in range(12)]
    await asyncio.sleep(0.3)
    hosts["fast"].stop()
    results = await asyncio.wait_for(asyncio.gather(*calls), 60)
    answered = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    assert len(answered) + len(failed) == 12 and len(answered) >= 9
    assert all(r.text and r.error is not None and r.error.kind == "connection" for r in failed)
    assert any(len(r.hosts_tried) > 1 for r in answered)  # waiting on the dead host, then handed on


async def test_moot_perf_shows_the_pool(hosts, capsys, user_config) -> None:
    """``moot perf --json`` carries each host's share, speed and failures; the table view lists them."""
    import json

    from moot.cli.main import main

    store = Store()
    await warm(hosts, store)
    for _ in range(3):
        assert (await run_call(pooled(hosts), MESSAGES, Params(), ctx=CallContext(store))).ok
    store.close()
    urls = ", ".join(f'"{s.url}"' for s in hosts.values())
    user_config(f'[[models]]\nname = "coder"\nmodel = "ollama/{TAG}"\napi_base = [{urls}]\n')
    assert await asyncio.to_thread(main, ["perf", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sum(p["answered"] for p in doc["pools"]) == 3 and {p["host"] for p in doc["pools"]} <= {
        s.url for s in hosts.values()}
    assert {h["host"] for h in doc["hosts"]} >= {s.url for s in hosts.values()}  # every host of the pool is asked
    assert await asyncio.to_thread(main, ["perf"]) == 0
    out = capsys.readouterr().out
    assert "Pools (each model's calls by host)" in out and "last chosen: http://127.0.0.1:" in out


async def test_a_pool_is_usable_while_any_host_is(hosts, user_config, tmp_path) -> None:
    from moot.core.discovery import model_statuses

    urls = ", ".join(f'"{s.url}"' for s in hosts.values())
    user_config(f'[[models]]\nname = "coder"\nmodel = "ollama/{TAG}"\napi_base = [{urls}]\n')
    hosts["fast"].stop()
    (status,) = [s for s in await model_statuses(load_config(tmp_path)) if s.model.name == "coder"]
    assert status.usable and "2 of 3 hosts usable" in status.availability.reason
    hosts["medium"].stop()
    hosts["slow"].stop()
    (status,) = [s for s in await model_statuses(load_config(tmp_path)) if s.model.name == "coder"]
    assert not status.usable and "no host of the pool is usable" in status.availability.reason
