"""Selection quality: does the scoped context contain the files a real change touched?

For each of the last N non-merge commits of a git repository (default: this one, 50 commits), the commit message
is the task and the parent commit is the repository: the parent's files are extracted to a temporary folder
(a clone sharing its objects, checked out at the parent, so the history up to the parent and nothing after it is
there; the repository itself is not touched), indexed, and scoped for the task at budgets of 2k, 4k
and 8k tokens. For each commit, of the files it changed that already existed in the parent:

* shown: the share the context shows whole or outlined;
* named: the share it names at all (shown, or in the compact tree of the rest);
* commits with a hit (at least one changed file shown), tokens used (never above the budget: checked), and
  seconds per query on the indexed tree.

Files the commit created cannot be in any context and are not counted; commits that only created files are
skipped. The figures are the mean over commits (each commit weighs the same) and the share over all files.

Run: .venv/bin/python bench/context_quality.py [REPO] [--commits N] [--budgets 2000,4000,8000] [--no-history]
     [--set CO_MASS=0 ...] [--aider PYTHON]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def commits(repo: Path, n: int) -> list[tuple[str, str, list[str]]]:
    """(sha, message, files changed that existed in the parent), newest first."""
    found = []
    for sha in git(repo, "rev-list", "--no-merges", "--max-count", str(4 * n), "HEAD").split():
        parents = git(repo, "rev-list", "--parents", "-n", "1", sha).split()[1:]
        if len(parents) != 1:
            continue  # the root commit has no parent to read
        changed = []
        for line in git(repo, "diff", "--name-status", "--no-renames", parents[0], sha).splitlines():
            status, _, path = line.partition("\t")
            if status in ("M", "D"):
                changed.append(path)
        if changed:
            found.append((sha, git(repo, "log", "-1", "--format=%B", sha).strip(), changed))
        if len(found) == n:
            break
    return found


def extract(repo: Path, sha: str, into: Path, history: bool = True) -> None:
    """The parent commit checked out in a repository of its own: a clone sharing the objects (the history up to
    the parent, nothing after it), or with ``history=False`` the parent's files alone in a new repository."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull}
    if history:
        subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(repo), str(into)], check=True, env=env)
        subprocess.run(["git", "-C", str(into), "checkout", "-q", "--detach", f"{sha}^"], check=True, env=env)
        return
    data = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", f"{sha}^"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    subprocess.run(["git", "init", "-q", str(into)], check=True, env=env)
    subprocess.run(["git", "-C", str(into), "add", "-A"], check=True, env=env)


def other_map(python: str, tree: Path, task: str, budgets: list[int]) -> dict[str, dict]:
    """The other tool's map of ``tree`` for ``task`` at each budget (bench/aider_map.py in its environment)."""
    request = json.dumps({"root": str(tree), "task": task, "budgets": budgets})
    out = subprocess.run([python, str(ROOT / "bench" / "aider_map.py")], input=request, capture_output=True,
                         text=True, timeout=600)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo", nargs="?", default=str(ROOT))
    parser.add_argument("--commits", type=int, default=50)
    parser.add_argument("--budgets", default="2000,4000,8000")
    parser.add_argument("--no-history", action="store_true",
                        help="extract each parent without its history (the history signals then have nothing)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="set one of the ranking's constants (moot.context.rank), to measure a signal on its own")
    parser.add_argument("--aider", metavar="PYTHON",
                        help="a Python with aider-chat installed (its own environment): measure its map side by side")
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    budgets = [int(b) for b in args.budgets.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MOOT_HOME"] = str(Path(tmp) / "home")
        from moot.context import rank
        from moot.context.cache import TagCache, build_index
        from moot.context.files import list_files
        from moot.context.scope import scope

        for setting in args.set:
            name, _, value = setting.partition("=")
            setattr(rank, name, type(getattr(rank, name))(value))
            print(f"rank.{name} = {getattr(rank, name)}")

        picked = commits(repo, args.commits)
        print(f"{repo.name}: {len(picked)} commits with files changed that existed before them")
        shown: dict[int, list[float]] = {b: [] for b in budgets}
        named: dict[int, list[float]] = {b: [] for b in budgets}
        totals = {b: [0, 0, 0] for b in budgets}  # shown, named, changed
        hits = {b: 0 for b in budgets}  # commits with at least one changed file shown
        tokens: dict[int, list[int]] = {b: [] for b in budgets}
        seconds: dict[int, list[float]] = {b: [] for b in budgets}
        other: dict[int, list[float]] = {b: [] for b in budgets}  # the other map's shown share, per commit
        other_tokens: dict[int, list[int]] = {b: [] for b in budgets}
        first: list[float] = []  # seconds of the first query on each commit's fresh index
        started = time.perf_counter()
        cache = TagCache()
        for i, (sha, message, changed) in enumerate(picked):
            tree = Path(tmp) / f"c{i}"
            extract(repo, sha, tree, history=not args.no_history)
            index = build_index(tree, files=list_files(tree, sniff=False), cache=cache)
            row = []
            theirs = other_map(args.aider, tree, message, budgets) if args.aider else {}
            t0 = time.perf_counter()  # the first query on a fresh index also works out what every task shares
            scope(index, message, budgets[0])
            first.append(time.perf_counter() - t0)
            for budget in budgets:
                t0 = time.perf_counter()
                result = scope(index, message, budget)
                seconds[budget].append(time.perf_counter() - t0)
                tokens[budget].append(result.total_tokens)
                assert result.total_tokens <= budget, (sha, budget, result.total_tokens)
                in_items = {path for item in result.items if item.kind in ("full", "outline") for path in item.covers}
                in_tree = {path for item in result.items if item.kind == "tree" for path in item.covers}
                s = sum(path in in_items for path in changed)
                n = sum(path in in_items or path in in_tree for path in changed)
                shown[budget].append(s / len(changed))
                hits[budget] += s > 0
                named[budget].append(n / len(changed))
                totals[budget][0] += s
                totals[budget][1] += n
                totals[budget][2] += len(changed)
                row.append(f"{budget // 1000}k {s}/{len(changed)}")
                if theirs:
                    got = theirs[str(budget)]
                    o = sum(path in got["shown"] for path in changed)
                    other[budget].append(o / len(changed))
                    other_tokens[budget].append(got["tokens"])
                    row[-1] += f" (other {o})"
            print(f"  {sha[:8]} {message.splitlines()[0][:60]:60}  " + "  ".join(row))
        cache.close()
        print(f"\n{len(picked)} commits in {time.perf_counter() - started:.0f} s; the first query on a fresh index "
              f"{statistics.mean(first):.2f} s (max {max(first):.2f}), later ones as below")
        for budget in budgets:
            s, n, c = totals[budget]
            print(f"budget {budget:>5}: shown whole or outlined: mean {statistics.mean(shown[budget]):.0%} per commit, "
                  f"{s}/{c} files ({s / c:.0%});  named at all: mean {statistics.mean(named[budget]):.0%}, "
                  f"{n}/{c} ({n / c:.0%})")
            print(f"              commits with a hit {hits[budget]}/{len(picked)}, tokens used mean "
                  f"{statistics.mean(tokens[budget]):.0f} (max {max(tokens[budget])}), "
                  f"{statistics.mean(seconds[budget]):.2f} s per query (max {max(seconds[budget]):.2f}; warm index)")
            if other[budget]:
                over = sum(t > budget for t in other_tokens[budget])
                print(f"              the other map: shown mean {statistics.mean(other[budget]):.0%} per commit, tokens "
                      f"mean {statistics.mean(other_tokens[budget]):.0f} (max {max(other_tokens[budget])}, over the "
                      f"budget {over}/{len(other_tokens[budget])})")


if __name__ == "__main__":
    main()
