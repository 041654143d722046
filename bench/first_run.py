"""The first ten minutes on the embedded default: a new user's first task, from Enter to a plan, then to an edit.

Each round is a first run: a fresh data folder (no perf figures, no history), no config (so the embedded model
is the only one), a fresh git repository holding a small ``app.py``. The real workbench runs headless at 120x34
with its model worker process, exactly as ``moot`` starts it. The bench types the task and presses Enter, then:

* plan: Enter until the synthesis is finished (or failed), and until the first proposal token is on screen;
  every proposal that failed is counted (target: median under 60 s, first token under 5 s, none failed);
* carry out: F5 accepts the synthesis, F10 splits it into tasks, Enter carries them out on ``moot/<run-id>``,
  and Enter opens the diff review; from F10 until the review screen is shown (target: median under 3 min),
  with whether an edit was applied and committed on the run's branch.

Run: .venv/bin/python bench/first_run.py [rounds]
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

TASK = "Add a greet(name) function to app.py that returns a greeting"
APP = '''"""A tiny command-line calculator."""


def add(a, b):
    return a + b


def main():
    print(add(1, 2))


if __name__ == "__main__":
    main()
'''
PLAN_LIMIT_S = 300.0
RUN_LIMIT_S = 600.0


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(APP)
    (repo / "README.md").write_text("# calc\n\nA tiny calculator.\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    return repo


async def wait_for(check, limit: float) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


async def one_round(n: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="moot-first-run-"))
    repo = make_repo(root)
    os.environ["MOOT_HOME"] = str(root / "home")
    os.environ["MOOT_CONFIG"] = os.devnull  # no user config: the defaults
    os.chdir(repo)
    from moot.core.providers.base import close_backends
    from moot.core.providers.process import stop_worker
    from moot.tui.app import MootApp
    from moot.tui.screens.main import MainScreen
    from moot.tui.screens.review import ReviewScreen
    from moot.tui.screens.run import RunScreen
    from moot.tui.widgets.prompt import PromptInput
    from moot.tui.widgets.proposals import ProposalsArea
    from moot.tui.widgets.synthesis import SynthesisPane

    out: dict = {"round": n}
    app = MootApp(cursor_blink=False)
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.pause(0.5)  # the user reads the screen, then types
        prompt = app.screen.query_one(PromptInput)
        prompt.value = TASK
        main = app.screen
        assert isinstance(main, MainScreen)
        t0, t0_wall = time.monotonic(), time.time()
        await pilot.press("enter")
        first: list[float] = []

        def progress() -> bool:
            area = main.query_one(ProposalsArea)
            if not first and any(p.tokens for p in area.panes):
                first.append(time.monotonic() - t0)
            return main.query_one(SynthesisPane).state in ("done", "failed") and not main.running

        finished = await wait_for(progress, PLAN_LIMIT_S)
        out["plan_s"] = time.monotonic() - t0 if finished else None
        out["first_token_s"] = first[0] if first else None
        result = main.result
        out["failed"] = [f"{p.proposer.variant}: {p.error}" for p in (result.proposals if result else [])
                         if p.status != "done"]
        out["proposers"] = len(result.proposals) if result else 0
        shape = getattr(main.ensemble, "shape", None) if main.ensemble else None
        out["shape"] = shape.note if shape else None
        out["synthesis"] = bool(result and result.synthesis)
        calls = app.store.calls(result.run_id) if result else []
        if calls:  # where the time to the first token goes: before the first call, then the call itself
            out["first_call_s"] = calls[0]["started_at"] - t0_wall
            out["first_ttft_s"] = calls[0]["ttft_s"]
        if not finished or not result or not result.plan.strip():
            out["run_s"] = None
            return out
        await pilot.press("f5")
        t1 = time.monotonic()
        await pilot.press("f10")
        run_screen: list[RunScreen] = []

        def screen_is(kind: type, phase: str | None = None) -> bool:
            s = app.screen
            if isinstance(s, kind) and (phase is None or getattr(s, "phase", None) == phase):
                if isinstance(s, RunScreen):
                    run_screen[:] = [s]
                return True
            return isinstance(s, RunScreen) and s.phase == "failed"

        await wait_for(lambda: screen_is(RunScreen, "confirm"), RUN_LIMIT_S)
        out["split_s"] = time.monotonic() - t1
        if isinstance(app.screen, RunScreen) and app.screen.phase == "confirm":
            out["tasks"] = len(app.screen.routed)
            await pilot.press("enter")
            await wait_for(lambda: isinstance(app.screen, RunScreen) and app.screen.phase == "done", RUN_LIMIT_S)
            if isinstance(app.screen, RunScreen) and app.screen.phase == "done":
                run_id = app.screen.run_id
                await pilot.press("enter")
                if await wait_for(lambda: isinstance(app.screen, ReviewScreen), 60):
                    out["run_s"] = time.monotonic() - t1
                branch = subprocess.run(["git", "branch", "--list", "moot/*"], cwd=repo, capture_output=True,
                                        text=True).stdout.split()
                out["branch"] = branch[-1] if branch else None
                if out["branch"]:
                    diff = subprocess.run(["git", "diff", "--stat", "main", out["branch"]], cwd=repo,
                                          capture_output=True, text=True).stdout.strip()
                    out["diff"] = diff.splitlines()[-1] if diff else ""
                out["run_id"] = run_id
        out.setdefault("run_s", None)
        await pilot.press("ctrl+q")
    await stop_worker()
    await close_backends()
    return out


def fmt(x: float | None) -> str:
    return f"{x:6.1f} s" if x is not None else "   —   "


async def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = []
    for n in range(1, rounds + 1):
        r = await one_round(n)
        results.append(r)
        print(f"round {n}: first token {fmt(r['first_token_s'])}  plan {fmt(r['plan_s'])}  "
              f"proposers {r['proposers']}  failed {len(r['failed'])}  synthesis {'yes' if r['synthesis'] else 'no'}"
              f"  |  split {fmt(r.get('split_s'))}  F10 to review {fmt(r.get('run_s'))}  tasks {r.get('tasks')}  "
              f"diff: {r.get('diff') or '(none)'}", flush=True)
        if r.get("first_call_s") is not None:
            print(f"         first call sent {r['first_call_s']:.1f} s after Enter, its first token "
                  f"{r['first_ttft_s'] or 0:.1f} s after that")
        if r.get("shape"):
            print(f"         {r['shape']}")
        for f in r["failed"]:
            print(f"         failed: {f}")

    def med(key: str) -> float | None:
        vals = [r[key] for r in results if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    print()
    print(f"plan (Enter to synthesis): median {fmt(med('plan_s'))}  (target < 60 s)")
    print(f"first token:               median {fmt(med('first_token_s'))}  (target < 5 s)")
    print(f"proposals failed:          {sum(len(r['failed']) for r in results)} of "
          f"{sum(r['proposers'] for r in results)}  (target 0)")
    print(f"F10 to the diff review:    median {fmt(med('run_s'))}  (target < 180 s)")
    print(f"rounds with an applied edit on moot/<run-id>: {sum(1 for r in results if r.get('diff'))} of {rounds}")


if __name__ == "__main__":
    asyncio.run(main())
