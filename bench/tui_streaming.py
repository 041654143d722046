"""Six proposals streaming into the workbench at once: does the screen keep up, and does typing stay responsive?

Six proposers on the OpenAI stand-in (in a child process, like a real server) each stream N tokens at 500 tok/s
(default 1500 = 3 s) through the real hosted backend (litellm, ``api_base``) into the workbench, headless at
160x40; the judge answers at once with a short plan, so only the proposals count.

* display ratio: Enter until every pane shows its whole reply on screen (the text is in the pane, rendered, and
  a screen refresh has followed), over the raw stream time (the same six streams consumed concurrently by
  ``providers.stream.stream`` with no UI, request to last token); target <= 1.15. Measured in rounds without
  typing, and again in the typing rounds.
* done ratio: Enter until every pane says "done", over the raw streams' time to their last ``Done``. A stream
  ends some time after its last token: the hosted client assembles the whole response for its own accounting
  before it hands over the usage figures.
* key latency while the six stream: a printable key every ~50 ms into the prompt, from sending the key event (as
  ``Pilot.press`` sends it) to the prompt's value changing ("handled") and to the compositor rendering the prompt
  with the new character ("painted": the frame that shows it is composed and handed to the driver); target p95
  < 50 ms. Both are stamped where they happen, not when this script's coroutine next gets to run. ``await pilot.press`` is not the clock: its ``wait_for_idle`` takes >= 60 ms even when idle.

litellm's one-time import (about 3 s) is excluded by a tiny warm-up call; one short untimed UI round warms the rest.
A round still incomplete after max(60 s, 40x nominal) is cancelled and reported as such (a slow UI makes this long).

Run: .venv/bin/python bench/tui_streaming.py [rounds] [tokens]
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

importlib.import_module("moot.tui").use_workbench_frame_rate()  # before Textual is imported
from textual import events  # noqa: E402
from textual.screen import Screen  # noqa: E402

from moot.core.config import load_config  # noqa: E402
from moot.core.discovery import ModelStatus  # noqa: E402
from moot.core.events import Error, TextDelta  # noqa: E402
from moot.core.providers.base import Availability, close_backends  # noqa: E402
from moot.core.providers.stream import stream  # noqa: E402
from moot.core.storage import Store  # noqa: E402
from moot.tui.app import MootApp  # noqa: E402
from moot.tui.widgets.prompt import PromptInput  # noqa: E402
from moot.tui.widgets.proposals import ProposalPane  # noqa: E402
from moot.tui.widgets.proposals.streamed import StreamedMarkdown  # noqa: E402
from moot.tui.widgets.synthesis import SynthesisPane  # noqa: E402
from standins.openai_server import split_tokens  # noqa: E402

PANES, RATE, KEY_EVERY_S, KEY_LIMIT_S, WARM_TOKENS = 6, 500.0, 0.05, 10.0, 100
SERVER = """import json, sys
from standins.openai_server import OpenAIStandIn
spec = json.loads(sys.stdin.readline())
with OpenAIStandIn() as s:
    for name, (tokens, delay) in spec.items():
        s.script(name, tokens=tokens, token_delay_s=delay)
    print(s.url, flush=True)
    sys.stdin.read()
"""


def plan_text(n: int, seed: int) -> str:
    """A Markdown plan (headings, paragraphs, lists, inline code) of exactly ``n`` stand-in tokens."""
    words = ["read", "the", "module", "then", "change", "its", "loader", "keep", "tests", "green", "and", "note",
             "every", "migration", "step"]
    parts = []
    for k in range(n // 40 + 1):
        body = " ".join(words[(k * 7 + seed + j) % len(words)] for j in range(18))
        items = "\n".join(f"- `step_{k}_{j}` {' '.join(words[(j + seed) % 9:(j + seed) % 9 + 4])}" for j in range(3))
        parts.append(f"## {k + 1}. Step {k + 1}\n\n{body.capitalize()}.\n\n{items}\n")
    return "".join(split_tokens("\n".join(parts))[:n])


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, round(q * (len(xs) - 1)))]


async def raw_streams(loaded) -> tuple[float, float]:
    """The six streams consumed concurrently with no UI: seconds from the requests to the last token, and to
    the last stream's end (``Done``, after litellm's end-of-stream work)."""
    t0 = time.perf_counter()

    async def one(name: str) -> tuple[float, float]:
        last = t0
        async for ev in stream(loaded.config.model(name), [{"role": "user", "content": "bench"}]):
            if isinstance(ev, TextDelta):
                last = time.perf_counter()
            elif isinstance(ev, Error):
                raise RuntimeError(f"{name}: {ev.kind}: {ev.message}")
        return last, time.perf_counter()

    ends = await asyncio.gather(*(one(f"p{i}") for i in range(PANES)))
    return max(e[0] for e in ends) - t0, max(e[1] for e in ends) - t0


async def timed(awaitable: asyncio.Future[float], since: float) -> float:
    """Seconds from ``since`` to the time ``awaitable`` gives (when the thing happened, not when this coroutine
    got to run again); infinity after KEY_LIMIT_S."""
    try:
        return await asyncio.wait_for(awaitable, KEY_LIMIT_S) - since
    except TimeoutError:
        return math.inf


PAINTS: list[tuple[PromptInput, str, asyncio.Future[float]]] = []
"""(prompt, value, future): resolved with the time the frame that shows the prompt holding that value is
complete (composed and handed to the driver)."""
_RENDERED: list[asyncio.Future[float]] = []
_prompt_line = PromptInput.render_line


def _painting_line(self: PromptInput, y: int):  # type: ignore[no-untyped-def]
    for entry in list(PAINTS):
        prompt, value, future = entry
        if prompt is self and self.value == value:
            PAINTS.remove(entry)
            _RENDERED.append(future)
    return _prompt_line(self, y)


def _stamping(method):  # type: ignore[no-untyped-def]
    """Wrap a screen method that composes a frame: prompts rendered in it count as painted when it returns."""

    def frame(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return method(self, *args, **kwargs)
        finally:
            now = time.perf_counter()
            while _RENDERED:
                future = _RENDERED.pop()
                future.done() or future.set_result(now)

    return frame


PromptInput.render_line = _painting_line  # type: ignore[method-assign]
Screen._compositor_refresh = _stamping(Screen._compositor_refresh)  # type: ignore[method-assign]
Screen._refresh_layout = _stamping(Screen._refresh_layout)  # type: ignore[method-assign]


def send_key(app: MootApp, key: str, char: str | None) -> None:
    """Post a key event through the driver, the way ``Pilot.press`` does, without its idle waits."""
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)  # type: ignore[union-attr]


async def ui_round(loaded, strategy: str, replies: list[str], typing: bool) -> tuple[float | None, list, list]:
    """(seconds from Enter until every pane shows its whole reply, or None after the time limit; seconds until
    every pane is done; key-handled latencies; key-to-refresh latencies)."""
    statuses = [ModelStatus(m, Availability(True)) for m in loaded.config.models]
    store = Store()
    store.set_pref(str(loaded.project_dir), "plan", {"strategy": strategy})
    app = MootApp(loaded, store, statuses)
    handled, refreshed = [], []
    limit = max(60.0, 40 * len(split_tokens(replies[0])) / RATE)
    async with app.run_test(size=(160, 40)) as pilot:
        await asyncio.wait_for(app.workers_warm.wait(), 60)  # a user types meanwhile: not part of the figure
        await pilot.press(*"plan it")
        prompt = app.screen.query_one(PromptInput)
        loop = asyncio.get_running_loop()
        changed: list[asyncio.Future[float]] = [loop.create_future()]

        def value_changed() -> None:  # stamps the moment the prompt's value changed
            if not changed[0].done():
                changed[0].set_result(time.perf_counter())

        app.screen.watch(prompt, "value", value_changed, init=False)
        t0 = time.perf_counter()
        send_key(app, "enter", "\r")
        await asyncio.wait_for(changed[0], 10)  # the prompt was cleared: the run has started
        while len(panes := sorted(app.screen.query(ProposalPane), key=lambda p: p.index)) < PANES:
            await asyncio.sleep(0.005)  # queried only until mounted: a query walks every Markdown block

        finished: list[float] = []

        async def until_complete() -> float | None:
            bodies = [p.query_one(StreamedMarkdown) for p in panes]
            while not all(len(p.text) == len(r) for p, r in zip(panes, replies, strict=True)) or \
                    any(b.behind for b in bodies):
                if time.perf_counter() - t0 > limit:
                    shown = sum(len(p.text) for p in panes) / sum(map(len, replies))
                    print(f"  not complete after {limit:.0f} s: {shown:.0%} of the text shown; cancelling")
                    return None
                await asyncio.sleep(0.005)
            painted = asyncio.get_running_loop().create_future()
            app.call_after_refresh(lambda: painted.done() or painted.set_result(None))
            await painted
            shown = time.perf_counter() - t0
            while not all(p.state == "done" for p in panes) and time.perf_counter() - t0 < limit:
                await asyncio.sleep(0.005)
            finished.append(time.perf_counter() - t0)
            return shown

        done = asyncio.create_task(until_complete())
        if typing:
            while not any(p.state == "streaming" for p in panes):
                await asyncio.sleep(0.005)
            next_at = time.perf_counter()
            while not done.done():
                changed[0] = loop.create_future()
                painted: asyncio.Future[float] = loop.create_future()
                PAINTS.append((prompt, prompt.value + "x", painted))
                k0 = time.perf_counter()
                send_key(app, "x", "x")
                handled.append(await timed(changed[0], k0))
                refreshed.append(await timed(painted, k0))
                next_at += KEY_EVERY_S
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        display = await done
        if display is None:
            send_key(app, "escape", None)
        synthesis, deadline = app.screen.query_one(SynthesisPane), time.perf_counter() + 60
        while (app.screen.running or synthesis.state not in ("done", "failed")) and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)  # the instant judge (or the cancel), and the result shown: then exit
    return display, (finished[0] if finished and display is not None else None), handled, refreshed


def config_text(url: str, names: list[str]) -> str:
    """Every scripted model on the stand-in, the instant judge, and the strategies "bench" (p0..p5), "warm" (w0..w5)."""
    text = "".join(f'[[models]]\nname = "{m}"\nmodel = "openai/{m}"\napi_base = "{url}"\n'
                   f'api_key_env = "MOOT_BENCH_KEY"\n\n' for m in names) + '[roles]\njudge = "judge"\n'
    for strategy, prefix in (("bench", "p"), ("warm", "w")):
        members = ", ".join(f'{{ model = "{prefix}{i}" }}' for i in range(PANES))
        text += f'[strategies.{strategy}]\nmembers = [{members}]\njudge = "judge"\n'
    return text


def report(n: int, fig: dict[str, list]) -> None:
    raw = statistics.median(fig["raw"])
    print(f"\n{PANES} panes x {n} tokens at {RATE:.0f} tok/s ({n / RATE:.1f} s nominal), {len(fig['raw'])} rounds")
    print(f"raw streams, no UI:        median {raw:.3f} s to the last token (min {min(fig['raw']):.3f}, max "
          f"{max(fig['raw']):.3f}); {statistics.median(fig['done']):.3f} s to the last Done")
    for label, xs in (("display ratio", fig["plain"]), ("display ratio, typing", fig["typed"])):
        m = math.inf if None in xs else statistics.median(xs)
        figure = f"{xs.count(None)} of {len(xs)} rounds incomplete" if None in xs else \
            f"median {m / raw:.3f} (UI {m:.3f} s; worst {max(xs) / raw:.3f})"
        print(f"{label + ':':26} {figure}   (target <= 1.15: {'OK' if m / raw <= 1.15 else 'MISSED'})")
    if None not in fig["finished"]:
        done = statistics.median(fig["done"])
        print(f"{'done ratio:':26} median {statistics.median(fig['finished']) / done:.3f} "
              f"(every pane done {statistics.median(fig['finished']):.3f} s; raw last Done {done:.3f} s)")
    ms = lambda x: f"{x * 1000:.1f} ms" if math.isfinite(x) else f"> {KEY_LIMIT_S:.0f} s"  # noqa: E731
    for label, xs in (("key handled", fig["handled"]), ("key to painted", fig["refreshed"])):
        p95 = pct(xs, 0.95)
        print(f"{label + ':':26} p50 {ms(pct(xs, 0.5))}, p95 {ms(p95)}, max {ms(max(xs))} over {len(xs)} keys   "
              f"(target p95 < 50 ms: {'OK' if p95 < 0.05 else 'MISSED'})")


async def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    replies, warm = [plan_text(n, i) for i in range(PANES)], [plan_text(WARM_TOKENS, i) for i in range(PANES)]
    spec = {f"{p}{i}": (split_tokens(r), 1 / RATE) for p, rs in (("p", replies), ("w", warm)) for i, r in enumerate(rs)}
    spec["judge"] = (split_tokens("## Plan\n\n1. Take proposal one.\n"), 0.0)
    fig: dict[str, list] = {k: [] for k in ("raw", "done", "plain", "typed", "finished", "handled", "refreshed")}
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, cwd=ROOT / "tests")
        assert server.stdin is not None and server.stdout is not None
        try:
            server.stdin.write(json.dumps(spec) + "\n")
            server.stdin.flush()
            if not (url := server.stdout.readline().strip()):
                sys.exit("the stand-in server did not start")
            cfg, project = Path(tmp) / "config.toml", Path(tmp) / "project"
            cfg.write_text(config_text(url, list(spec)))
            project.mkdir()
            os.environ.update(MOOT_CONFIG=str(cfg), MOOT_HOME=str(Path(tmp) / "home"), MOOT_BENCH_KEY="sk-bench",
                              OLLAMA_HOST="http://127.0.0.1:9")
            os.chdir(project)
            loaded = load_config(project)
            t = time.perf_counter()
            async for _ in stream(loaded.config.model("judge"), [{"role": "user", "content": "hi"}]):
                pass
            print(f"warm-up call (litellm import): {time.perf_counter() - t:.2f} s")
            await ui_round(loaded, "warm", warm, typing=False)  # untimed: first-use imports and caches
            for r in range(rounds):
                raw, raw_done = await raw_streams(loaded)
                plain, finished = (await ui_round(loaded, "bench", replies, typing=False))[:2]
                typed, _, handled, refreshed = await ui_round(loaded, "bench", replies, typing=True)
                for key, value in (("raw", [raw]), ("done", [raw_done]), ("plain", [plain]), ("typed", [typed]),
                                   ("finished", [finished]),
                                   ("handled", handled), ("refreshed", refreshed)):
                    fig[key] += value
                show = [f"{x:.3f} s" if x is not None else "incomplete" for x in (plain, typed)]
                print(f"round {r + 1}: raw {raw:.3f} s, UI {show[0]}, UI while typing {show[1]}, {len(handled)} keys")
            await close_backends()
        finally:
            server.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=5)
            server.kill()  # no-op once it has exited
    report(n, fig)


if __name__ == "__main__":
    asyncio.run(main())
