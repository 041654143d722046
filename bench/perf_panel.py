"""The perf panel's cost: tokens/s through the workbench while six local proposals stream, panel shown vs hidden.

Six ``ollama/`` proposers on the Ollama stand-in (in a child process, like a real server, with every model listed
as loaded in ``/api/ps``) each stream N tokens at 500 tok/s (default 1500 = 3 s) through the real Ollama backend
in the model worker into the workbench, headless at 160x40, in the rounds of ``tui_streaming.py``. With the
panel shown it follows all six requests in flight, polls ``/api/ps`` every 2 s and re-reads the perf store as
each call ends; hidden, it does nothing.

Tokens/s = 6 x N tokens over the time from Enter until every pane shows its whole reply. Rounds alternate
hidden and shown (one untimed warm-up round first); the figure is the ratio of the medians, shown over hidden;
target >= 0.97.

Run: .venv/bin/python bench/perf_panel.py [rounds per side] [tokens]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tui_streaming import PANES, RATE, ROOT, WARM_TOKENS, plan_text, split_tokens, ui_round  # noqa: E402

from moot.core.config import load_config  # noqa: E402
from moot.core.storage import Store  # noqa: E402

SERVER = """import json, sys
from standins.ollama_server import OllamaStandIn
spec = json.loads(sys.stdin.readline())
with OllamaStandIn() as s:
    for tag, (pieces, delay) in spec.items():
        s.add_model(tag, pieces=pieces, delay_s=delay)
        s.load(tag, size_vram=0, context_length=4096, expires_in_s=3600)
    print(s.url, flush=True)
    sys.stdin.read()
"""
TARGET = 0.97


def config_text(url: str, names: list[str]) -> str:
    """Every model on the Ollama stand-in (a stable num_ctx, so no probing), the instant judge, and the strategies
    "bench" (p0..p5) and "warm" (w0..w5)."""
    text = "".join(f'[[models]]\nname = "{m}"\nmodel = "ollama/{m}"\napi_base = "{url}"\nnum_ctx = 4096\n\n'
                   for m in names)
    text += f'[ollama]\nhost = "{url}"\n\n[roles]\njudge = "judge"\n'
    for strategy, prefix in (("bench", "p"), ("warm", "w")):
        members = ", ".join(f'{{ model = "{prefix}{i}" }}' for i in range(PANES))
        text += f'[strategies.{strategy}]\nmembers = [{members}]\njudge = "judge"\n'
    return text


def set_panel(shown: bool) -> None:
    """Remember the panel shown or hidden: the next workbench opens with it so."""
    with Store() as store:
        store.set_pref("user", "perf_panel", shown)


async def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    replies, warm = [plan_text(n, i) for i in range(PANES)], [plan_text(WARM_TOKENS, i) for i in range(PANES)]
    spec = {f"{p}{i}": (split_tokens(r), 1 / RATE) for p, rs in (("p", replies), ("w", warm)) for i, r in enumerate(rs)}
    spec["judge"] = (split_tokens("## Plan\n\n1. Take proposal one.\n"), 0.0)
    tokens = PANES * len(split_tokens(replies[0]))
    rates: dict[bool, list[float]] = {False: [], True: []}
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
            os.environ.update(MOOT_CONFIG=str(cfg), MOOT_HOME=str(Path(tmp) / "home"), OLLAMA_HOST=url)
            os.chdir(project)
            loaded = load_config(project)
            set_panel(True)
            await ui_round(loaded, "warm", warm, typing=False)  # untimed: first-use imports and caches
            for r in range(rounds):
                for shown in (False, True) if r % 2 == 0 else (True, False):
                    set_panel(shown)
                    seconds = (await ui_round(loaded, "bench", replies, typing=False))[0]
                    if seconds is None:
                        sys.exit("a round did not complete")
                    rates[shown].append(tokens / seconds)
                    print(f"round {r + 1}, panel {'shown' if shown else 'hidden'}: {tokens / seconds:.0f} tok/s "
                          f"({seconds:.3f} s)")
        finally:
            server.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=5)
            server.kill()  # no-op once it has exited
    hidden, shown_ = statistics.median(rates[False]), statistics.median(rates[True])
    ratio = shown_ / hidden
    print(f"\n{PANES} local proposals x {n} tokens at {RATE:.0f} tok/s ({n / RATE:.1f} s nominal), {rounds} rounds each")
    print(f"panel hidden: median {hidden:.0f} tok/s through the workbench")
    print(f"panel shown:  median {shown_:.0f} tok/s through the workbench")
    print(f"ratio shown/hidden: {ratio:.3f}   (target >= {TARGET}: {'OK' if ratio >= TARGET else 'MISSED'})")


if __name__ == "__main__":
    asyncio.run(main())
