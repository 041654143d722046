"""Discussion overhead: 4 participants on the stand-in Ollama server, each answer taking a fixed time T, for 3
rounds (the first answers and two more, every round in parallel). Reports the wall time / (3 x T) (target
<= 1.10): ideal concurrency, with nothing between the rounds but the transcript's assembly, gives 1.0.

Run: .venv/bin/python bench/discussion_overhead.py [T seconds] [discussions]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from moot.core.config import load_config  # noqa: E402
from moot.core.discussion import Discussion, DiscussionEngine, Status  # noqa: E402
from moot.core.providers.base import close_backends  # noqa: E402
from moot.core.providers.stream import stream  # noqa: E402
from standins.ollama_server import OllamaStandIn  # noqa: E402

PIECES = 50
PARTICIPANTS = 4
ROUNDS = 3


async def one(loaded, n: int) -> tuple[float, float]:
    names = [f"p{i}" for i in range(PARTICIPANTS)]
    d = Discussion(id=f"bench-{n}", topic="which parser?", participants=names)
    engine = DiscussionEngine(loaded.config, None, d, judge=loaded.config.model("p0"))
    t0 = time.perf_counter()
    await engine.open()
    for _ in range(ROUNDS - 1):
        await engine.next_round()
    wall = time.perf_counter() - t0
    assert all(m.status == Status.DONE for r in d.rounds for m in r.messages), [
        m.error for r in d.rounds for m in r.messages]
    t1 = time.perf_counter()  # one answer alone, through the same path: the real T including HTTP
    async for _ in stream(loaded.config.model("p0"), [{"role": "user", "content": "x"}]):  # type: ignore[arg-type]
        pass
    return wall, time.perf_counter() - t1


async def main() -> None:
    t_nominal = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with OllamaStandIn() as server, tempfile.TemporaryDirectory() as tmp:
        for i in range(PARTICIPANTS):
            server.add_model(f"p{i}", pieces=[f" w{n}" for n in range(PIECES)], delay_s=t_nominal / PIECES)
        cfg = Path(tmp) / "config.toml"
        cfg.write_text("".join(f'[[models]]\nname = "p{i}"\nmodel = "ollama/p{i}"\napi_base = "{server.url}"\n'
                               f"num_ctx = 32768\n\n" for i in range(PARTICIPANTS)))
        os.environ["MOOT_CONFIG"] = str(cfg)
        loaded = load_config(Path(tmp))
        await one(loaded, 0)  # warm-up: connections, imports, the tokenizer
        walls, singles = [], []
        for n in range(1, runs + 1):
            w, s = await one(loaded, n)
            walls.append(w)
            singles.append(s)
        await close_backends()
    w, s = statistics.median(walls), statistics.median(singles)
    print(f"{PARTICIPANTS} participants x {ROUNDS} rounds, T = {t_nominal:.2f} s nominal ({PIECES} pieces), "
          f"{runs} discussions")
    print(f"wall: median {w:.3f} s; one answer alone: {s:.3f} s")
    print(f"wall / (3 x T nominal): {w / (ROUNDS * t_nominal):.3f}   wall / (3 x T measured alone): "
          f"{w / (ROUNDS * s):.3f}   (target <= 1.10)")


if __name__ == "__main__":
    asyncio.run(main())
