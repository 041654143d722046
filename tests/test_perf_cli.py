"""``moot perf``: the JSON document, the human view, ``--watch``, and ``moot perf bench`` against the stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import sql
from moot.cli import perf_cmd
from moot.cli.main import main
from moot.core.perf.bench import CASES, bench_messages
from moot.core.perf.store import PerfStore, Sample
from moot.core.storage import Store
from standins.ollama_server import OllamaStandIn

TAG = "qwen2.5-coder:7b"
SIZE = 4_683_087_332


@pytest.fixture
def server():
    with OllamaStandIn(version="0.9.3") as s:
        s.add_model(TAG, pieces=["ok"] * 40)
        yield s


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_config, server: OllamaStandIn) -> Path:
    user_config(f"""
[[models]]
name = "coder"
model = "ollama/{TAG}"

[[models]]
name = "gpt"
model = "openai/gpt-4o"

[ollama]
host = "{server.url}"
""")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def seed(url: str) -> None:
    with Store() as store:
        perf = PerfStore(store)
        for i, rate in enumerate([10, 20, 30, 40, 50]):
            perf.record(Sample(host=url, model=f"ollama/{TAG}", prompt_eval_count=100 * rate,
                               prompt_eval_ns=1_000_000_000, eval_count=rate, eval_ns=1_000_000_000,
                               load_ns=[3_000_000_000, 0, 0, 0, 0][i], created_at=1000.0 + i))


def test_json_document_shape(project: Path, server: OllamaStandIn, capsys) -> None:
    server.load(TAG, size_vram=SIZE, context_length=8192)
    seed(server.url)
    assert main(["perf", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"hosts", "models", "pools", "outcomes"} and doc["pools"] == []
    assert doc["outcomes"] == {"models": [], "runs": []}
    ollama, embedded = doc["hosts"]
    assert set(ollama) == {"host", "reachable", "version", "loaded"}
    assert (ollama["host"], ollama["reachable"], ollama["version"]) == (server.url, True, "0.9.3")
    [loaded] = ollama["loaded"]
    assert set(loaded) == {"model", "size", "size_vram", "processor", "context_length", "expires_in_s"}
    assert (loaded["model"], loaded["size"], loaded["processor"], loaded["context_length"]) == (
        TAG, SIZE, "100% GPU", 8192)
    assert 0 < loaded["expires_in_s"] <= 300
    assert embedded["host"] == "embedded" and set(embedded) == set(ollama)
    [model] = doc["models"]
    assert model == {
        "model": f"ollama/{TAG}",
        "host": ollama["host"],
        "samples": 5,
        "eval_rate": {"median": 30.0, "p5": 12.0, "p95": 48.0},
        "prompt_eval_rate": {"median": 3000.0, "p5": 1200.0, "p95": 4800.0},
        "load_s": {"median": 0.0, "p5": 0.0, "p95": 2.4},
    }


def test_configured_models_without_figures_are_listed(project: Path, capsys) -> None:
    assert main(["perf", "--json"]) == 0
    [model] = json.loads(capsys.readouterr().out)["models"]
    host = model.pop("host")
    assert host.startswith("http://127.0.0.1:")
    assert model == {"model": f"ollama/{TAG}", "samples": 0, "eval_rate": None, "prompt_eval_rate": None,
                     "load_s": None}


def test_human_view_and_a_host_down(project: Path, server: OllamaStandIn, capsys) -> None:
    server.load(TAG, size_vram=0)
    seed(server.url)
    assert main(["perf"]) == 0
    out = capsys.readouterr().out
    assert f"{server.url}  up (version 0.9.3)" in out
    assert TAG in out and "100% CPU" in out and "4.7 GB" in out
    assert "30.0 (12.0–48.0)" in out  # eval rate, median (p5–p95)
    server.stop()
    assert main(["perf"]) == 0
    out = capsys.readouterr().out
    assert f"{server.url}  unreachable: Ollama is not reachable at {server.url}" in out


def test_watch_refreshes_until_interrupted(project: Path, server: OllamaStandIn, capsys, monkeypatch) -> None:
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 1:
            server.load(TAG)  # the next refresh shows it
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(perf_cmd, "_pause", pause)
    assert main(["perf", "--watch", "--json"]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert pauses == [2.0, 2.0]
    assert first["hosts"][0]["loaded"] == [] and second["hosts"][0]["loaded"][0]["model"] == TAG


def test_bench_runs_every_case_and_stores_a_profile(project: Path, server: OllamaStandIn, capsys) -> None:
    assert main(["perf", "bench", "coder"]) == 0
    out = capsys.readouterr()
    chats = server.requests_to("/api/chat")
    assert len(chats) == len(CASES) == 6
    assert [c.body["options"]["num_predict"] for c in chats] == [case.max_tokens for case in CASES]
    assert all(c.body["options"]["temperature"] == 0.0 for c in chats)
    with Store() as store:
        samples = PerfStore(store).samples(f"ollama/{TAG}", server.url)
        sources = {s.source for s in samples}
        labels = [r["label"] for r in sql(store, "SELECT label FROM calls WHERE phase = 'bench' ORDER BY id")]
    assert len(samples) == 6 and sources == {"bench"}
    assert labels == [c.name for c in CASES]
    # the stand-in's derived figures: 10 ms a piece, 1 ms a prompt word
    assert {s.eval_rate for s in samples} == {100.0} and {s.prompt_eval_rate for s in samples} == {1000.0}
    assert "Bench of coder" in out.out and "Profile over 6 bench samples" in out.out
    assert "moot: bench small-short: 100.0 tok/s eval" in out.err


def test_bench_prompts_grow_with_their_case() -> None:
    words = [sum(len(m["content"].split()) for m in bench_messages(c)) for c in CASES]
    assert words[0] < words[2] < words[4]
    assert bench_messages(CASES[0], 0) != bench_messages(CASES[0], 1)  # no prompt cache shared between cases


def test_bench_json(project: Path, server: OllamaStandIn, capsys) -> None:
    assert main(["perf", "bench", "coder", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["alias"], doc["model"], doc["host"], doc["ok"]) == ("coder", f"ollama/{TAG}", server.url, True)
    assert [c["case"] for c in doc["cases"]] == [c.name for c in CASES]
    assert doc["profile"]["samples"] == 6 and doc["profile"]["eval_rate"]["median"] == 100.0


def test_bench_unknown_or_hosted_model_is_usage_error(project: Path, capsys) -> None:
    assert main(["perf", "bench", "nope"]) == 2
    assert "unknown model 'nope' (known: coder, gpt)" in capsys.readouterr().err
    assert main(["perf", "bench", "gpt"]) == 2
    assert "not a local model" in capsys.readouterr().err


def test_bench_of_a_model_not_pulled_fails(project: Path, server: OllamaStandIn, capsys) -> None:
    del server.models[TAG]
    assert main(["perf", "bench", "coder"]) == 1
    out = capsys.readouterr()
    assert "not_found" in out.err and len(server.requests_to("/api/chat")) == 1


def test_bench_stops_at_a_mid_stream_error(project: Path, server: OllamaStandIn, capsys) -> None:
    script = server.models[TAG]
    script.fail, script.fail_times, script.fail_after = "error_mid_stream", 1, 1
    assert main(["perf", "bench", "coder", "--json"]) == 1
    [row] = json.loads(capsys.readouterr().out)["cases"]
    assert not row["ok"] and row["error"].startswith("server: Ollama failed while answering")
