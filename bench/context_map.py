"""Repo-map index figures on a large real code base: cold build, warm rebuild, rebuild after one edit.

The tree (default: this Python's standard library, ~2,300 files once ``site-packages`` and caches are left
out) is copied to a temporary folder first, so a file can be edited; it is not a git repository, so the
folder walk is what lists it. Every phase runs in a fresh process with its own ``MOOT_HOME`` so peak memory
(max RSS) is the phase's own.

Targets: warm rebuild with nothing changed < 0.2 s, rebuild after one file changed < 0.3 s.

Run: .venv/bin/python bench/context_map.py [PATH] [--parallel]   (--parallel also times threads vs processes)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, resource, statistics, sys, time
from pathlib import Path
from moot.context.cache import TagCache, build_index, read_file
from moot.context.files import list_files

def rss_mb(who):
    return resource.getrusage(who).ru_maxrss / 1024

def main():
    phase, root = sys.argv[1], Path(sys.argv[2])
    out = {}
    if phase.startswith("cold"):
        workers = {"cold-serial": 1, "cold-threads": 1}.get(phase)
        if phase == "cold-threads":  # parse with a thread pool instead of processes
            from concurrent.futures import ThreadPoolExecutor
            import moot.context.cache as c
            def threaded(jobs, total, workers):
                with ThreadPoolExecutor(os.cpu_count()) as pool:
                    return list(pool.map(read_file, jobs, chunksize=16))
            c._read_all = threaded
        t = time.perf_counter()
        index = build_index(root, workers=workers)
        out["seconds"] = time.perf_counter() - t
        out["stats"] = vars(index.stats)
        out["tags"] = sum(len(i.tags) for i in index.files.values())
    else:
        t = time.perf_counter()
        files = list_files(root, sniff=False)
        out["list"] = time.perf_counter() - t
        cache = TagCache()
        t = time.perf_counter()
        index = build_index(root, cache=cache)
        out["start"] = time.perf_counter() - t
        out["start_parsed"] = index.stats.parsed
        warm = []
        for _ in range(7):
            t = time.perf_counter()
            index = build_index(root, cache=cache)
            warm.append(time.perf_counter() - t)
            assert index.stats.parsed == 0, index.stats
        out["warm"] = statistics.median(warm)
        biggest = sorted((f for f in files if f.rel.endswith(".py")), key=lambda f: f.size)
        edits = []
        picked = [biggest[len(biggest) // 3], biggest[len(biggest) // 2], biggest[-1]]
        for f in picked:
            with open(f.path, "a") as fh:
                fh.write("\n\ndef added_by_bench() -> int:\n    return 1\n")
            t = time.perf_counter()
            index = build_index(root, cache=cache)
            edits.append(time.perf_counter() - t)
            assert index.stats.parsed == 1 and "added_by_bench" in {o.name for o in index.files[f.rel].outline}
        out["edit"] = statistics.median(edits)
        out["edits"] = [(f.size, s) for f, s in zip(picked, edits)]
        f = biggest[0]
        st = f.path.stat()
        os.utime(f.path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        t = time.perf_counter()
        index = build_index(root, cache=cache)
        out["touch"] = time.perf_counter() - t
        assert index.stats.parsed == 0
        cache.close()
    for name, who in (("cpu", resource.RUSAGE_SELF), ("children_cpu", resource.RUSAGE_CHILDREN)):
        usage = resource.getrusage(who)
        out[name] = usage.ru_utime + usage.ru_stime
    out["rss_mb"] = rss_mb(resource.RUSAGE_SELF)
    out["children_rss_mb"] = rss_mb(resource.RUSAGE_CHILDREN)
    print(json.dumps(out))

main()
"""


def run(phase: str, root: Path, home: Path) -> dict:
    env = {**os.environ, "MOOT_HOME": str(home), "MOOT_NO_WATCH": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, phase, str(root)], env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    source = Path(args[0]) if args else Path(sysconfig.get_paths()["stdlib"])
    from moot.context.files import SKIP_DIRS

    with tempfile.TemporaryDirectory(prefix="moot-map-") as tmp:
        root = Path(tmp) / "tree"
        t = time.perf_counter()
        shutil.copytree(source, root, symlinks=True, ignore=shutil.ignore_patterns(*SKIP_DIRS))
        print(f"copied {source} -> {root} in {time.perf_counter() - t:.1f} s")
        home = Path(tmp) / "home"
        cold = run("cold", root, home)
        s = cold["stats"]
        print(f"cold build ({os.cpu_count()} CPUs, default workers): {cold['seconds']:.2f} s for {s['files']} files,"
              f" {cold['tags']:,} tags; peak RSS {cold['rss_mb']:.0f} MB (largest worker"
              f" {cold['children_rss_mb']:.0f} MB); CPU {cold['cpu']:.1f} s here + {cold['children_cpu']:.1f} s"
              " in workers")
        if "--parallel" in sys.argv:
            for phase in ("cold-serial", "cold-threads"):
                other = run(phase, root, Path(tmp) / phase)
                print(f"  {phase:13}: {other['seconds']:.2f} s, CPU {other['cpu']:.1f} s,"
                      f" peak RSS {other['rss_mb']:.0f} MB")
        warm = run("warm", root, home)
        print(f"list files (walk, stat only): {warm['list'] * 1000:.0f} ms")
        print(f"warm start in a new process (from SQLite): {warm['start']:.3f} s, parsed {warm['start_parsed']}")
        print(f"warm rebuild, nothing changed: {warm['warm'] * 1000:.0f} ms (target < 200 ms)"
              f" {'OK' if warm['warm'] < 0.2 else 'MISSED'}")
        edits = ", ".join(f"{size / 1000:.0f} KB: {sec * 1000:.0f} ms" for size, sec in warm["edits"])
        print(f"rebuild after one file changed: median {warm['edit'] * 1000:.0f} ms (target < 300 ms)"
              f" {'OK' if warm['edit'] < 0.3 else 'MISSED'}; by size of the edited file: {edits}")
        print(f"rebuild after a touch without change (hash check): {warm['touch'] * 1000:.0f} ms")
        print(f"peak RSS of the warm process: {warm['rss_mb']:.0f} MB;"
              f" cache file {(home / 'context-cache.db').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
