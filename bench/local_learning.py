"""Local models that get better with use: 50 replayed tasks on a stand-in local model whose answers succeed or
fail by the shape of the query, shaped by moot's bandit (``core.perf.shapes``) against one fixed shape.

The stand-in model (a rule per shape, as small local models behave):
  * more than 4,000 tokens of context: it loses the task (fails);
  * an output cap over 1,000 tokens: it rambles past its edits (garbled, fails);
  * a task of several files (large) succeeds only asked file by file;
  * a medium task succeeds only when its answer is held to its format (constrained);
  * the full prompt fails 40% of the time (too long a brief for it), the terse one 10%.
Its speed: prompt 800 tokens/s, output 50 tokens/s; the limit is 30 s, so a large output cap does not fit.

Every task goes through ``choose_shape`` with the real store: the outcome of each local try is recorded, and a
task whose best sampled shape is unlikely to succeed goes to the hosted model (not local work). The fixed shape
is what moot used before: 4k context, output 1000, the full prompt, whole, constrained. The figures, per block of
ten tasks and averaged over the seeds: the success rate of local answers, the share of all tasks done locally
(and successfully), and the mean predicted latency of the shapes chosen (with the worst).

Run: .venv/bin/python bench/local_learning.py [--tasks 50] [--seeds 20]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
from pathlib import Path

LIMIT_S = 30.0
PROMPT_RATE, EVAL_RATE = 800.0, 50.0
#: The replayed tasks' kinds: (files, context tokens), as sized by moot.
KINDS = {"small": (1, 500), "medium": (2, 1500), "large": (4, 5000)}


def succeeds(kind: str, shape, rng: random.Random) -> bool:  # type: ignore[no-untyped-def]
    if shape.context > 4000 or shape.output > 1000:
        return False
    if kind == "large" and not shape.split:
        return False
    if kind == "medium" and not shape.constrained:
        return False
    return rng.random() >= (0.4 if shape.prompt == "full" else 0.1)


def predicted(shape, context: int) -> float:  # type: ignore[no-untyped-def]
    return (300 + min(shape.context, context)) / PROMPT_RATE + shape.output / EVAL_RATE


def replay(tasks: int, seed: int, learn: bool) -> list[tuple[bool | None, float | None]]:
    """Per task: True/False for a local answer that succeeded or failed, None for a task sent to the hosted
    model; and the chosen shape's predicted seconds."""
    from moot.core.config.models import ModelConfig
    from moot.core.perf import shapes as sh
    from moot.core.storage import Store

    rng = random.Random(seed)
    order = [rng.choice(("small", "small", "small", "small", "medium", "medium", "medium", "large", "large",
                         "large")) for _ in range(tasks)]
    fixed = sh.Shape(4000, 1000, "full")
    model = ModelConfig(name="qwen", model=f"ollama/bench-{seed}-{int(learn)}", num_ctx=16384)
    out: list[tuple[bool | None, float | None]] = []
    with Store() as store:
        for i, kind in enumerate(order):
            files, context = KINDS[kind]
            size = sh.size_task(store, "backend", files=files, context_tokens=context)
            if learn:
                choice = sh.choose_shape(store, model, "backend", size, predict=lambda s, c=context: predicted(s, c),
                                         limit_s=LIMIT_S, rng=rng)
                if not choice.local:
                    out.append((None, None))
                    continue
                shape = choice.shape
            else:
                shape = fixed
            ok = succeeds(kind, shape, rng)
            sh.record_outcome(store, sh.Outcome(model.model, "bench", "backend", shape.key, size.bucket,
                                                run_id=f"b{seed}-{i}", parsed=True, applied=ok))
            out.append((ok, predicted(shape, context)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    block = 10
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MOOT_HOME"] = str(Path(tmp) / "home")
        results = {learn: [replay(args.tasks, seed, learn) for seed in range(args.seeds)] for learn in (False, True)}
    print(f"{args.tasks} tasks x {args.seeds} seeds; limit {LIMIT_S:.0f} s; blocks of {block} tasks")
    print(f"{'tasks':>8}  {'fixed: success':>15} {'local share':>12}   {'learned: success':>17} {'local share':>12} "
          f"{'predicted s (max)':>18}")
    finals = {}
    for start in range(0, args.tasks, block):
        row = []
        for learn in (False, True):
            local = [ok for run in results[learn] for ok, _ in run[start:start + block] if ok is not None]
            done = [ok is True for run in results[learn] for ok, _ in run[start:start + block]]
            secs = [s for run in results[learn] for _, s in run[start:start + block] if s is not None]
            rate = sum(local) / len(local) if local else 0.0
            share = sum(done) / len(done) if done else 0.0
            row.append((rate, share, secs))
            finals[learn] = (rate, share)
        (fr, fs, _), (lr, ls, secs) = row
        print(f"{start + 1:>3}-{start + block:<4}  {fr:>15.0%} {fs:>12.0%}   {lr:>17.0%} {ls:>12.0%} "
              f"{statistics.mean(secs):>11.1f} ({max(secs):.1f})")
    (fr, fs), (lr, ls) = finals[False], finals[True]
    print(f"last block: success {lr:.0%} against the fixed shape's {fr:.0%} ({(lr - fr) * 100:+.0f} points); "
          f"local share {ls:.0%} against {fs:.0%} ({(ls - fs) * 100:+.0f} points)")


if __name__ == "__main__":
    main()
