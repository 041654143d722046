"""The real embedded engine: SmolLM2-135M through llama-cpp-python (needs the 'local' extra)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moot.core.config import ModelConfig
from moot.core.events import Done, Perf, TextDelta, Usage
from moot.core.providers.base import Params
from moot.core.providers.embedded import engine_installed, shipped_model_path
from moot.core.providers.stream import stream

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(not (engine_installed() and shipped_model_path()),
                       reason="the embedded engine is not installed (pip install 'moot[local]')"),
]
SMOL = ModelConfig(name="smollm2", model="local/smollm2", num_ctx=2048)


async def test_streams_text_usage_and_perf() -> None:
    events = [e async for e in stream(SMOL, [{"role": "user", "content": "Say hello."}], Params(max_tokens=16))]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    usage = next(e for e in events if isinstance(e, Usage))
    perf = next(e for e in events if isinstance(e, Perf))
    assert text.strip()
    assert usage.prompt_tokens > 5 and 0 < usage.completion_tokens <= 16
    assert perf.prompt_eval_count > 0 and perf.prompt_eval_duration > 0
    assert perf.eval_count > 0 and perf.eval_rate > 1.0 and perf.ttft_s > 0
    assert perf.total_duration >= perf.eval_duration
    assert isinstance(events[-1], Done)


async def test_cancel_stops_the_engine() -> None:
    import asyncio

    got: list[str] = []

    async def consume() -> None:
        async for e in stream(SMOL, [{"role": "user", "content": "Count to one thousand."}], Params(max_tokens=2000)):
            if isinstance(e, TextDelta):
                got.append(e.text)

    task = asyncio.create_task(consume())
    while len(got) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # the engine is free again at once: a new call completes
    events = [e async for e in stream(SMOL, [{"role": "user", "content": "Hi"}], Params(max_tokens=4))]
    assert isinstance(events[-1], Done)


def test_moot_plan_end_to_end(tmp_path: Path) -> None:
    """`moot plan` with nothing configured: the embedded model proposes under three variants and judges."""
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[models]]\nname = "smollm2"\nmodel = "local/smollm2"\nmax_tokens = 48\nnum_ctx = 4096\n'
                   "[ensemble]\nembedded_target_s = 100000\n")  # room for all three, however busy the machine
    env = {**os.environ, "MOOT_CONFIG": str(cfg)}
    r = subprocess.run([sys.executable, "-m", "moot.cli.main", "plan", "Add a --verbose flag", "--json"],
                       cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["strategy"] == "role-based"
    assert sorted(p["variant"] for p in doc["proposals"]) == ["architect", "security-engineer", "test-engineer"]
    assert [p["label"] for p in doc["proposals"]] == ["A", "B", "C"]  # by letter, as the synthesis names them
    assert all(p["status"] == "done" and p["perf"]["eval_rate"] > 0 for p in doc["proposals"])
    assert doc["judge"]["model"] == "smollm2" and doc["judge"]["text"]
    assert doc["plan"].strip()


async def test_decodes_under_a_schema_and_refuses_a_broken_grammar_without_crashing() -> None:
    from moot.core.events import Error

    huge = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 5000}}, "required": ["a"]}
    events = [e async for e in stream(SMOL, [{"role": "user", "content": "Hi"}], Params(max_tokens=40, schema=huge))]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert isinstance(events[-1], Done) and text.startswith('{"a": "')
    broken = [e async for e in stream(SMOL, [{"role": "user", "content": "Hi"}],
                                      Params(max_tokens=8, grammar="root ::= missing-rule", retries=0))]
    assert isinstance(broken[-1], Error) and broken[-1].kind == "bad_request"
    after = [e async for e in stream(SMOL, [{"role": "user", "content": "Hi"}], Params(max_tokens=4))]
    assert isinstance(after[-1], Done)  # the engine is still there


def test_bounds_past_the_engines_limit_are_taken_off() -> None:
    from moot.core.providers.embedded import REPEAT_LIMIT, bounded

    schema = {"type": "array", "maxItems": 5000, "minItems": 2,
              "items": {"type": "string", "maxLength": 20_000, "minLength": 3000}}
    assert bounded(schema) == {"type": "array", "minItems": 2,
                               "items": {"type": "string", "minLength": REPEAT_LIMIT}}
