"""Ensemble overhead: 4 proposers against the stand-in Ollama server, each answer taking a fixed time T.
Reports the proposal phase's wall time / T (target <= 1.10): ideal concurrency gives 1.0.

Run: .venv/bin/python bench/ensemble_overhead.py [T seconds] [rounds]
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
from moot.core.ensemble import Ensemble, PlanOptions, Progress, Step  # noqa: E402
from moot.core.events import TextDelta  # noqa: E402
from moot.core.providers.base import close_backends  # noqa: E402
from moot.core.providers.stream import stream  # noqa: E402
from standins.ollama_server import OllamaStandIn  # noqa: E402

PIECES = 50
PROPOSERS = 4


async def one_round(loaded, t_nominal: float) -> tuple[float, float]:
    marks: dict[str, float] = {}

    def progress(p: Progress) -> None:
        if p.step == Step.JUDGING:
            marks.setdefault("judge", time.perf_counter())

    ens = Ensemble(loaded, None, loaded.config.aliases, on_progress=progress)
    t0 = time.perf_counter()
    result = await ens.plan("bench task", PlanOptions(strategy="bench"))
    assert all(p.status == "done" for p in result.proposals), [p.error for p in result.proposals]
    propose_wall = marks["judge"] - t0
    # one proposer alone, through the same path: the real T including HTTP
    t1 = time.perf_counter()
    async for ev in stream(loaded.config.model("p0"), [{"role": "user", "content": "x"}]):  # type: ignore[arg-type]
        _ = isinstance(ev, TextDelta)
    single = time.perf_counter() - t1
    return propose_wall, single


async def main() -> None:
    t_nominal = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with OllamaStandIn() as server, tempfile.TemporaryDirectory() as tmp:
        for i in range(PROPOSERS):
            server.add_model(f"p{i}", pieces=[f" w{n}" for n in range(PIECES)], delay_s=t_nominal / PIECES)
        server.add_model("judge", pieces=["## Plan", "\nok"])
        models = "".join(f'[[models]]\nname = "p{i}"\nmodel = "ollama/p{i}"\napi_base = "{server.url}"\n\n'
                         for i in range(PROPOSERS))
        models += f'[[models]]\nname = "judge"\nmodel = "ollama/judge"\napi_base = "{server.url}"\n\n'
        members = ", ".join(f'{{ model = "p{i}" }}' for i in range(PROPOSERS))
        cfg = Path(tmp) / "config.toml"
        cfg.write_text(models + f'[roles]\njudge = "judge"\n[strategies.bench]\nmembers = [{members}]\n')
        os.environ["MOOT_CONFIG"] = str(cfg)
        loaded = load_config(Path(tmp))
        await one_round(loaded, t_nominal)  # warm-up: connections, imports
        walls, singles = [], []
        for _ in range(rounds):
            w, s = await one_round(loaded, t_nominal)
            walls.append(w)
            singles.append(s)
        await close_backends()
    w, s = statistics.median(walls), statistics.median(singles)
    print(f"{PROPOSERS} proposers, T = {t_nominal:.2f} s nominal ({PIECES} streamed pieces each), {rounds} rounds")
    print(f"proposal phase wall: median {w:.3f} s; one proposer alone: {s:.3f} s")
    print(f"wall / T nominal: {w / t_nominal:.3f}   wall / T measured alone: {w / s:.3f}   (target <= 1.10)")


if __name__ == "__main__":
    asyncio.run(main())
