"""A snapshot of the perf panel beside the proposals, at 120x34, with fixed data: a stand-in Ollama host with
two loaded models, the embedded engine with the shipped model, fixed samples and routing decisions in the
perf store, and frozen clocks."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from moot.core.perf import hosts
from moot.core.perf.router import Decision, record_decision
from moot.core.perf.store import PerfStore, Sample
from moot.tui.widgets.perf import PerfPanel, requests
from standins.ollama_server import OllamaStandIn

NOW = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
HOST = "http://127.0.0.1:11434"
"""The host the config names; the stand-in answers for it (its own port changes from run to run)."""
QWEN, LLAMA = "qwen2.5-coder:7b", "llama3.2:1b"
CONFIG = f"""
[[models]]
name = "alpha"
model = "scripted/alpha"

[[models]]
name = "qwen"
model = "ollama/{QWEN}"
api_base = "{HOST}"
num_ctx = 8192

[[models]]
name = "llama"
model = "ollama/{LLAMA}"
api_base = "{HOST}"
num_ctx = 4096

[[models]]
name = "smol"
model = "local/smollm2"

[ollama]
host = "{HOST}"

[roles]
judge = "alpha"
"""


def fill_store(perf: PerfStore) -> None:
    """Twelve calls of qwen (the tenth a reload), six of llama, four of smol, two routing decisions."""
    for i in range(12):
        perf.record(Sample(
            host=HOST, model=f"ollama/{QWEN}", num_ctx=8192, prompt_tokens=900, output_tokens=300,
            prompt_eval_count=900, prompt_eval_ns=1_000_000_000 + 40_000_000 * (i % 5),
            eval_count=300, eval_ns=7_000_000_000 + 150_000_000 * ((i * 7) % 6),
            load_ns=3_200_000_000 if i == 9 else 12_000_000, ttft_s=1.18, created_at=NOW - 900 + 60 * i,
        ))
    for i in range(6):
        perf.record(Sample(
            host=HOST, model=f"ollama/{LLAMA}", num_ctx=4096, prompt_eval_count=400,
            prompt_eval_ns=180_000_000 + 10_000_000 * i, eval_count=200, eval_ns=1_900_000_000 + 60_000_000 * (i % 3),
            load_ns=9_000_000, ttft_s=0.24, created_at=NOW - 1700 + 120 * i,
        ))
    for i in range(4):
        perf.record(Sample(
            host="embedded", model="local/smollm2", num_ctx=4096, prompt_eval_count=300,
            prompt_eval_ns=500_000_000 - 20_000_000 * i, eval_count=120, eval_ns=2_000_000_000 + 100_000_000 * i,
            load_ns=2_000_000, ttft_s=0.55, created_at=NOW - 400 + 60 * i,
        ))
    record_decision(PerfStore(perf.store, clock=lambda: NOW - 130), Decision(
        "backend", "qwen", "qwen", "alpha", 12.4, 30.0, "backend → ollama/qwen2.5-coder:7b: predicted 12 s ≤ 30 s"))
    record_decision(PerfStore(perf.store, clock=lambda: NOW - 40), Decision(
        "tests", "alpha", "llama", "alpha", 41.0, 30.0,
        "tests → scripted/alpha: ollama/llama3.2:1b predicted 41 s > 30 s"))


@pytest.fixture
def fixed_hosts(monkeypatch):
    """The stand-in with two loaded models answers for HOST; the embedded engine is installed (version and model
    size fixed); the panel's clocks are frozen at NOW."""
    with OllamaStandIn(version="0.9.3") as server:
        server.add_model(QWEN)
        server.add_model(LLAMA, size=1_321_098_329)
        server.load(QWEN, size_vram=int(4_683_087_332 * 0.52), context_length=8192, expires_at="2026-01-01T00:04:00Z")
        server.load(LLAMA, context_length=4096, expires_at="2026-01-01T00:01:30Z")
        real = hosts.ollama_status

        async def status(host: str, **kw) -> hosts.HostStatus:
            return replace(await real(server.url, **kw), host=host) if host == HOST else await real(host, **kw)

        monkeypatch.setattr(hosts, "ollama_status", status)
        monkeypatch.setattr(hosts, "embedded_installed", lambda: True)
        monkeypatch.setattr(hosts, "_engine_version", lambda: "0.3.16")
        monkeypatch.setattr(hosts, "_file_size", lambda model: 105_142_688)
        monkeypatch.setattr(requests, "wall", lambda: NOW)
        monkeypatch.setattr(requests, "clock", lambda: 1000.0)
        yield server


async def polled(pilot) -> PerfPanel:  # type: ignore[no-untyped-def]
    """The perf panel once its first poll is drawn."""
    panel = pilot.app.screen.query_one(PerfPanel)
    for _ in range(250):
        if panel.snapshot is not None:
            break
        await asyncio.sleep(0.02)
    await pilot.pause(0.2)
    return panel


def test_perf_panel(workbench, fixed_hosts, snap_compare) -> None:
    """The idle workbench with the perf panel open on the right (remembered from last time), titled "Perf",
    the proposals' hint beside it. Local models first: qwen (qwen2.5-coder:7b, last used 4 min ago) with its
    last eval rate (38.7 tok/s) and prompt rate (865 tok/s) each beside a sparkline of its twelve calls, its last
    load time (0.01 s) and first-token time (1.2 s), and in orange that it reloaded 6 min ago (load 3.20 s
    against a warm 0.01 s, last used 60 s before); then llama (99.0 and 1739 tok/s). A scrollbar: further down
    are smol, the hosts (127.0.0.1:11434 v0.9.3 with qwen2.5-coder:7b at 48%/52% CPU/GPU, ctx 8192, 4m 00s
    left, and llama3.2:1b at 100% GPU; the embedded engine in the model worker on the CPU with local/smollm2)
    and the two routing decisions with their reasons."""
    app = workbench(CONFIG)
    app.store.set_pref("user", "perf_panel", True)
    fill_store(PerfStore(app.store))

    async def run_before(pilot) -> None:
        await polled(pilot)

    assert snap_compare(app, terminal_size=(120, 34), run_before=run_before)


def fill_outcomes(store) -> None:  # type: ignore[no-untyped-def]
    """Twenty backend tasks of qwen, failing at first and learning (the later ones at the 2k terse shape), and
    six runs whose local share grew."""
    from moot.core.perf import shapes as sh

    terse, big = sh.SHAPES[1], sh.SHAPES[4]
    for i in range(20):
        shape = big if i < 6 else terse
        ok = i >= 6 and i % 7 != 0
        sh.record_outcome(store, sh.Outcome(f"ollama/{QWEN}", HOST, "backend", shape.key,
                                            "small" if i % 3 else "medium", applied=ok, parsed=True,
                                            created_at=NOW - 2000 + 60 * i))
    for i, (tasks, local) in enumerate([(4, 1), (5, 2), (4, 2), (6, 4), (5, 4), (4, 4)]):
        sh.record_share(store, f"run-{i}", tasks, local, "alpha")


def test_perf_panel_outcomes(workbench, fixed_hosts, snap_compare) -> None:
    """The perf panel scrolled to its end: under the routing decisions, "Local outcomes": qwen2.5-coder:7b as
    backend, 12 of 20 tasks (60%) with a rising sparkline, by size (medium 5/7 · small 7/13), its best shape
    (2k context, terse, output 600), the two shapes tried with their own trends (2k terse 600: 12/14 rising,
    4k full 1000: 0/6); and the local share per run rising from 25% to 100%, the last 4/4."""
    app = workbench(CONFIG)
    app.store.set_pref("user", "perf_panel", True)
    fill_store(PerfStore(app.store))
    fill_outcomes(app.store)

    async def run_before(pilot) -> None:
        panel = await polled(pilot)
        text = panel.text()
        assert f"{QWEN} · backend · 12/20 (60%)" in text and "best: 2k context, terse, output 600" in text
        assert "medium 5/7 · small 7/13" in text and "last 4/4" in text
        assert "2k terse 600: 12/14" in text and "4k full 1000: 0/6" in text  # each shape with its own trend
        panel.scroll_end(animate=False)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 34), run_before=run_before)
