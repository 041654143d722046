"""The workflow engine's own overhead: a five-phase workflow (single → ensemble → discussion → parallel →
single with an output and its provenance files) on the stand-in Ollama server answering at once, in a small git
repository. The engine's overhead is the wall time not spent inside the phases themselves (their model calls,
repository context and the ensemble's and discussion's own work): storing each phase, composing inputs, the
checkpoints and writing the outputs. Target: under 5% of the run's wall time.

Run: .venv/bin/python bench/workflow_overhead.py [runs]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from moot.agents.workflow.engine import WorkflowEngine  # noqa: E402
from moot.agents.workflow.loader import parse  # noqa: E402
from moot.core.config import load_config  # noqa: E402
from moot.core.providers.base import close_backends  # noqa: E402
from moot.core.storage import Store  # noqa: E402
from standins.ollama_server import OllamaStandIn  # noqa: E402

MODELS = ("a", "b", "c")
WORKFLOW = """\
name: five
phases:
  - name: approach
    type: single
    model: a
  - name: plan
    type: ensemble
    models: [a, b]
    judge: c
    input: approach.output
  - name: talk
    type: discussion
    participants: [a, b]
    rounds: 1
    judge: c
    input: plan.output
  - name: checks
    type: parallel
    input: [plan.output, talk.output]
    phases:
      - {name: one, type: single, model: a}
      - {name: two, type: single, model: b}
  - name: summary
    type: single
    model: c
    input: [plan.output, checks.outputs]
    output: out/{feature}/summary.md
"""


async def one(loaded, repo: Path, store: Store) -> tuple[float, float]:
    engine = WorkflowEngine(loaded, store, list(MODELS), repo, parse(WORKFLOW, "five.yaml"))
    inside = 0.0
    carry_out = engine._carry_out

    async def timed(phase, text, scope):  # type: ignore[no-untyped-def]
        nonlocal inside
        t = time.perf_counter()
        try:
            return await carry_out(phase, text, scope)
        finally:
            if phase in engine.workflow.phases:  # the top-level phases (sub-phases are inside their parent)
                inside += time.perf_counter() - t

    engine._carry_out = timed  # type: ignore[method-assign]
    t0 = time.perf_counter()
    result = await engine.run("Add a greet(name) function")
    wall = time.perf_counter() - t0
    assert result.state == "done", result.error
    return wall, inside


async def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with OllamaStandIn() as server, tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            server.add_model(name, pieces=["Use ", "a ", "table."], delay_s=0.0)
        cfg = Path(tmp) / "config.toml"
        cfg.write_text("".join(f'[[models]]\nname = "{m}"\nmodel = "ollama/{m}"\napi_base = "{server.url}"\n'
                               f"num_ctx = 8192\n\n" for m in MODELS) + '[roles]\njudge = "c"\nplanner = "c"\n')
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "app.py").write_text("def add(a, b):\n    return a + b\n")
        for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "x"]):
            subprocess.run(["git", *args], cwd=repo, check=True)
        os.environ.update(MOOT_CONFIG=str(cfg), MOOT_HOME=str(Path(tmp) / "home"))
        loaded = load_config(repo)
        store = Store()
        await one(loaded, repo, store)  # warm-up: connections, imports, the tokenizer, the tag cache
        walls, overheads = [], []
        for _ in range(runs):
            wall, inside = await one(loaded, repo, store)
            walls.append(wall)
            overheads.append(wall - inside)
        store.close()
        await close_backends()
    w, o = statistics.median(walls), statistics.median(overheads)
    print(f"five phases (single, ensemble of 2 + judge, discussion of 2 x 2 rounds + conclusion, parallel of 2, "
          f"single with provenance) on instant stand-ins, {runs} runs")
    print(f"wall: median {w * 1000:.0f} ms; the engine's own time: median {o * 1000:.1f} ms "
          f"= {100 * o / w:.1f}% of the wall time   (target < 5%)")


if __name__ == "__main__":
    asyncio.run(main())
