"""A discussion round of six models streaming into the workbench: does typing stay responsive?

Six participants on the OpenAI stand-in (a child process, like a real server) each stream N tokens at 500 tok/s
(default 600 = 1.2 s) through the real hosted backend into the discussion screen, headless at 160x40, for the
first answers (``/open``) and one more round (``/next``, whose prompts hold the first round). While each round
streams, a key is typed into the discussion's prompt every 50 ms and timed as in ``tui_streaming.py``: to the
prompt's value changing ("handled") and to the frame that shows it ("painted"); target p95 < 50 ms. Also the
round's wall time over one stream's (the round is the six in parallel).

Run: .venv/bin/python bench/tui_discussion.py [rounds] [tokens]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tui_streaming as ts  # noqa: E402  (its stamping of frames and keys, its stand-in server)

from moot.core.config import load_config  # noqa: E402
from moot.core.discovery import ModelStatus  # noqa: E402
from moot.core.providers.base import Availability, close_backends  # noqa: E402
from moot.core.storage import Store  # noqa: E402
from moot.tui.app import MootApp  # noqa: E402
from moot.tui.screens.discussion import DiscussionScreen  # noqa: E402
from moot.tui.widgets.prompt import PromptInput  # noqa: E402


async def typed_round(app: MootApp, line: str, handled: list[float], painted: list[float]) -> float:
    """Send ``line`` to the discussion, type while its round streams; the round's wall time."""
    screen = app.screen
    assert isinstance(screen, DiscussionScreen)
    prompt = screen.query_one(PromptInput)
    prompt.value = line
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    ts.send_key(app, "enter", "\r")
    while not screen.busy:
        await asyncio.sleep(0.002)
    changed: list[asyncio.Future[float]] = [loop.create_future()]

    def stamp() -> None:  # the moment the prompt's value changed
        if not changed[0].done():
            changed[0].set_result(time.perf_counter())

    screen.watch(prompt, "value", stamp, init=False)
    next_at = time.perf_counter()
    while screen.busy:
        changed[0] = loop.create_future()
        frame: asyncio.Future[float] = loop.create_future()
        ts.PAINTS.append((prompt, prompt.value + "x", frame))
        k0 = time.perf_counter()
        ts.send_key(app, "x", "x")
        handled.append(await ts.timed(changed[0], k0))
        painted.append(await ts.timed(frame, k0))
        next_at += ts.KEY_EVERY_S
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    wall = time.perf_counter() - t0
    prompt.value = ""
    return wall


async def one(loaded, handled: list[float], painted: list[float]) -> list[float]:
    statuses = [ModelStatus(m, Availability(True)) for m in loaded.config.models]
    store = Store()
    store.set_pref(str(loaded.project_dir), "plan", {"strategy": "bench"})
    app = MootApp(loaded, store, statuses)
    async with app.run_test(size=(160, 40)) as pilot:
        await asyncio.wait_for(app.workers_warm.wait(), 60)
        prompt = app.screen.query_one(PromptInput)
        prompt.value = "/open which parser?"
        await pilot.press("enter")
        while not isinstance(app.screen, DiscussionScreen):
            await asyncio.sleep(0.005)
        screen = app.screen
        while screen.busy or screen.engine is None:  # the first answers: typed through too, below
            await asyncio.sleep(0.005)
        walls = [await typed_round(app, "/next", handled, painted) for _ in range(2)]
        await pilot.press("escape")
    store.close()
    return walls


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


async def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    replies = [ts.plan_text(n, i) for i in range(ts.PANES)]
    spec = {f"p{i}": (ts.split_tokens(r), 1 / ts.RATE) for i, r in enumerate(replies)}
    spec |= {f"w{i}": (ts.split_tokens(r), 1 / ts.RATE) for i, r in enumerate(replies)}
    spec["judge"] = (ts.split_tokens("## Agreed\n\nOne parser.\n"), 0.0)
    handled: list[float] = []
    painted: list[float] = []
    walls: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen([sys.executable, "-c", ts.SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, cwd=ts.ROOT / "tests")
        assert server.stdin is not None and server.stdout is not None
        try:
            server.stdin.write(json.dumps(spec) + "\n")
            server.stdin.flush()
            if not (url := server.stdout.readline().strip()):
                sys.exit("the stand-in server did not start")
            cfg, project = Path(tmp) / "config.toml", Path(tmp) / "project"
            cfg.write_text(ts.config_text(url, list(spec)))
            project.mkdir()
            os.environ.update(MOOT_CONFIG=str(cfg), MOOT_HOME=str(Path(tmp) / "home"), MOOT_BENCH_KEY="sk-bench",
                              OLLAMA_HOST="http://127.0.0.1:9")
            os.chdir(project)
            loaded = load_config(project)
            await one(loaded, [], [])  # untimed: first-use imports and caches
            for r in range(rounds):
                w = await one(loaded, handled, painted)
                walls += w
                print(f"discussion {r + 1}: rounds {', '.join(f'{x:.2f} s' for x in w)}, {len(handled)} keys so far")
            await close_backends()
        finally:
            server.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=5)
            server.kill()
    nominal = n / ts.RATE
    print(f"\n6 participants x {n} tokens at {ts.RATE:.0f} tok/s ({nominal:.1f} s nominal), {len(walls)} rounds")
    print(f"round wall / one stream: median {statistics.median(walls) / nominal:.3f}")
    print(f"key handled:     p50 {pct(handled, 0.5):.1f} ms, p95 {pct(handled, 0.95):.1f} ms over {len(handled)} keys")
    print(f"key to painted:  p50 {pct(painted, 0.5):.1f} ms, p95 {pct(painted, 0.95):.1f} ms   (target p95 < 50 ms)")


if __name__ == "__main__":
    asyncio.run(main())
