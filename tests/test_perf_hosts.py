"""Host snapshots against the stand-in Ollama server: versions, loaded models, hosts going down and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from moot.core.config.models import Config
from moot.core.perf import hosts
from moot.core.perf.analyse import Analyser
from moot.core.perf.hosts import PerfMonitor, expires_in, ollama_hosts, processor, snapshot
from moot.core.perf.store import PerfStore, Sample
from moot.core.providers import base
from moot.core.storage import Store
from standins.ollama_server import OllamaStandIn

TAG = "qwen2.5-coder:7b"
SIZE = 4_683_087_332
NOW = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def clock() -> float:
    return NOW


@pytest.fixture
def server():
    with OllamaStandIn(version="0.9.3") as s:
        s.add_model(TAG)
        s.add_model("llama3.2:1b", size=1_321_098_329)
        yield s


def config(*urls: str, ollama_host: str | None = None) -> Config:
    models = [{"name": f"m{i}", "model": f"ollama/{TAG}", "api_base": u} for i, u in enumerate(urls)]
    return Config.model_validate({"models": models, "ollama": {"host": ollama_host}})


def test_processor_split_from_size_vram() -> None:
    assert processor(SIZE, 0) == "100% CPU"
    assert processor(SIZE, SIZE) == "100% GPU"
    assert processor(SIZE, int(SIZE * 0.52)) == "48%/52% CPU/GPU"
    assert processor(1000, 255) == "75%/25% CPU/GPU"  # 74.5 % rounds half up
    assert processor(SIZE, None) == "unknown" and processor(100, 200) == "unknown"


def test_expiry_in_seconds() -> None:
    assert expires_in("2026-01-01T00:04:59.500000000Z", NOW) == 299.5
    assert expires_in("2025-12-31T23:59:00-00:00", NOW) == 0.0
    assert expires_in("2318-08-21T15:44:13.123456789+02:00", NOW) is None  # kept loaded for good
    assert expires_in(None, NOW) is None and expires_in("soon", NOW) is None


def test_hosts_in_use_from_config_without_repeats(monkeypatch) -> None:
    cfg = config("http://a:11434", "b", "http://a:11434/", ollama_host="http://a:11434")
    assert ollama_hosts(cfg) == ["http://a:11434", "http://b:11434"]
    assert ollama_hosts(Config()) == ["http://127.0.0.1:9"]  # OLLAMA_HOST, set by conftest


async def test_snapshot_reports_version_and_loaded_models(server: OllamaStandIn) -> None:
    server.load(TAG, size_vram=int(SIZE * 0.52), context_length=8192, expires_at="2026-01-01T00:04:00Z")
    server.load("llama3.2:1b", size_vram=0, expires_at="2318-08-21T15:44:13.1+00:00")
    snap = await snapshot(config(server.url, ollama_host=server.url), embedded=False, clock=clock)
    [h] = snap.hosts
    assert (h.host, h.reachable, h.version, h.error) == (server.url, True, "0.9.3", None)
    assert h.to_json() == {
        "host": server.url,
        "reachable": True,
        "version": "0.9.3",
        "loaded": [
            {"model": TAG, "size": SIZE, "size_vram": int(SIZE * 0.52), "processor": "48%/52% CPU/GPU",
             "context_length": 8192, "expires_in_s": 240.0},
            {"model": "llama3.2:1b", "size": 1_321_098_329, "size_vram": 0, "processor": "100% CPU",
             "context_length": 4096, "expires_in_s": None},
        ],
    }
    assert h.find(f"ollama/{TAG}") is not None and h.find("ollama/llama3.2:1b") is not None
    assert h.find("ollama/llama3") is None


async def test_ps_changes_are_reflected(server: OllamaStandIn) -> None:
    cfg = config(server.url, ollama_host=server.url)
    assert (await snapshot(cfg, embedded=False)).hosts[0].loaded == ()
    server.load(TAG)
    assert [m.model for m in (await snapshot(cfg, embedded=False)).hosts[0].loaded] == [TAG]
    server.load("llama3.2:1b")
    server.unload(TAG)
    assert [m.model for m in (await snapshot(cfg, embedded=False)).hosts[0].loaded] == ["llama3.2:1b"]


async def test_host_down_and_back_up(server: OllamaStandIn) -> None:
    cfg = config(server.url, ollama_host=server.url)
    server.stop()
    [down] = (await snapshot(cfg, embedded=False)).hosts
    assert not down.reachable and down.version is None and down.loaded == ()
    assert down.error is not None and server.url in down.error
    assert down.to_json() == {"host": server.url, "reachable": False, "version": None, "loaded": []}
    server.start()
    [up] = (await snapshot(cfg, embedded=False)).hosts
    assert up.reachable and up.version == "0.9.3"


async def test_one_host_down_does_not_hide_the_other(server: OllamaStandIn) -> None:
    snap = await snapshot(config(server.url), embedded=False)  # [ollama] host unset: OLLAMA_HOST, nothing there
    assert [(h.host, h.reachable) for h in snap.hosts] == [("http://127.0.0.1:9", False), (server.url, True)]


@pytest.mark.skipif(not hosts.embedded_installed(),
                    reason="the embedded engine is not installed (pip install 'moot[local]')")
async def test_embedded_engine_is_a_host(monkeypatch) -> None:
    cfg = Config.model_validate({"models": [{"name": "smol", "model": "local/smollm2"}]})
    monkeypatch.setattr(hosts, "_engine_version", lambda: "0.3.36")
    from moot.core.providers.embedded import EmbeddedBackend, model_path

    engine_less = EmbeddedBackend()  # made, nothing loaded
    monkeypatch.setattr(base, "instance", lambda key: engine_less if key == "local" else None)
    snap = await snapshot(cfg)
    assert snap.hosts[-1].to_json() == {"host": "embedded", "reachable": True, "version": "0.3.36", "loaded": []}

    path = str(model_path(cfg.models[0]))
    monkeypatch.setattr(engine_less, "loaded_engines", lambda: [(path, 8192)])
    [engine] = (await snapshot(cfg)).hosts[-1].loaded
    assert (engine.model, engine.processor, engine.context_length, engine.expires_in_s) == (
        "local/smollm2", "100% CPU", 8192, None)
    assert engine.size is not None and engine.size > 0 and engine.size_vram == 0


async def test_monitor_feeds_the_analyser(server: OllamaStandIn) -> None:
    model = f"ollama/{TAG}"
    with Store() as store:
        PerfStore(store).record(Sample(host=server.url, model=model, eval_count=40, eval_ns=1_000_000_000,
                                       num_ctx=4096, created_at=NOW - 3600))
        monitor = PerfMonitor(config(server.url, ollama_host=server.url), store, embedded=False, clock=clock)
        an = monitor.analyser
        assert an.is_loaded(model, server.url) is False  # last used an hour ago: expired
        server.load(TAG, context_length=4096)
        snap = await monitor.refresh()
        assert monitor.latest is snap and an.host_up(server.url) is True
        assert an.is_loaded(model, server.url) is True
        server.unload(TAG)
        server.load(TAG, context_length=2048)  # loaded by someone else with another size: moot's call reloads it
        await monitor.refresh()
        assert an.is_loaded(model, server.url) is False
        server.stop()
        await monitor.refresh()
        assert an.host_up(server.url) is False
        assert Analyser(store).host_up(server.url) is None  # an analyser that saw no snapshot does not know
        [stats] = snap.models
        assert (stats.host, stats.model, stats.samples) == (server.url, model, 1)
        assert [s.model for s in monitor.history(model, server.url)] == [model]
