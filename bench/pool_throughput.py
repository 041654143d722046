"""Host pools: 12 concurrent proposals over three hosts against the best single host.

Three stand-in Ollama servers (tests/standins) each answer one call at a time, as Ollama does with its default
parallelism, at their own speed. After one call to each (so the perf store has their figures), 12 calls go at
once to the best host alone, then to the pool of three; the figures are the wall times, the ratio of
throughputs and each host's share. A second round uses hosts of very different speeds, to show the fastest
getting most of the calls, and a third kills one host while the calls run.

Run: .venv/bin/python bench/pool_throughput.py [--calls 12] [--pieces 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

TAG = "qwen2.5-coder:7b"
MESSAGES = [{"role": "user", "content": "Propose a plan."}]


async def round_of(speeds: dict[str, float], calls: int, pieces: int, kill: str | None = None) -> None:
    from moot.core.calls import CallContext, run_call
    from moot.core.config.models import ModelConfig
    from moot.core.perf import pool
    from moot.core.providers.base import Params, close_backends
    from moot.core.storage import Store
    from standins.ollama_server import OllamaStandIn

    pool.LIVE.__init__()  # type: ignore[misc]
    servers = {}
    for name, rate in speeds.items():
        delay = 1 / rate
        s = OllamaStandIn(parallel=1).start()
        eval_ns = int(pieces * delay * 1e9)
        s.add_model(TAG, pieces=[f"w{i} " for i in range(pieces)], delay_s=delay,
                    figures={"prompt_eval_count": 5, "prompt_eval_duration": 5_000_000, "eval_count": pieces,
                             "eval_duration": eval_ns, "total_duration": eval_ns + 6_000_000})
        servers[name] = s
    store = Store()
    names = {s.url: n for n, s in servers.items()}

    def model(*urls: str) -> ModelConfig:
        return ModelConfig(name="coder", model=f"ollama/{TAG}", api_base=list(urls), retries=1, timeout_s=60)

    try:
        for s in servers.values():  # each host measured once
            await run_call(model(s.url), MESSAGES, Params(retries=0), ctx=CallContext(store))
        best = servers[max(speeds, key=lambda n: speeds[n])]
        t0 = time.perf_counter()
        single = await asyncio.gather(*(run_call(model(best.url), MESSAGES, Params(), ctx=CallContext(store))
                                        for _ in range(calls)))
        single_s = time.perf_counter() - t0
        pooled = model(*(s.url for s in servers.values()))
        t0 = time.perf_counter()
        jobs = [asyncio.create_task(run_call(pooled, MESSAGES, Params(), ctx=CallContext(store))) for _ in range(calls)]
        if kill:
            await asyncio.sleep(single_s / calls * 1.5)
            servers[kill].stop()
        results = await asyncio.gather(*jobs)
        pool_s = time.perf_counter() - t0
        share = Counter(names[r.host] for r in results if r.ok and r.host)
        failed = [r for r in results if not r.ok]
        speeds_text = ", ".join(f"{n} {v:.0f} tok/s" for n, v in speeds.items())
        print(f"hosts: {speeds_text}" + (f"; {kill} killed during the run" if kill else ""))
        print(f"  {calls} calls on the best host alone: {single_s:.2f} s ({sum(r.ok for r in single)} answered)")
        print(f"  {calls} calls on the pool of {len(servers)}:     {pool_s:.2f} s ({calls - len(failed)} answered, "
              f"{len(failed)} failed after their text began)")
        print(f"  throughput against the best host: {single_s / pool_s:.2f}x;  share: "
              + ", ".join(f"{n} {share[n]}" for n in speeds))
        handed = sum(len(r.hosts_tried) > 1 for r in results)
        if kill:
            print(f"  calls handed to another host before any text: {handed}")
    finally:
        for s in servers.values():
            s.stop()
        await close_backends()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=12)
    parser.add_argument("--pieces", type=int, default=40, help="tokens per answer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MOOT_HOME"] = str(Path(tmp) / "home")
        asyncio.run(round_of({"a": 100, "b": 95, "c": 90}, args.calls, args.pieces))
        asyncio.run(round_of({"fast": 100, "medium": 50, "slow": 25}, args.calls, args.pieces))
        asyncio.run(round_of({"a": 100, "b": 95, "c": 90}, args.calls, args.pieces, kill="a"))


if __name__ == "__main__":
    main()
