"""`moot --help` wall time (target under 0.3 s), and proof that litellm is not imported on that path.

Run: .venv/bin/python bench/startup.py [runs]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    exe = shutil.which("moot", path=str(Path(sys.executable).parent)) or "moot"
    subprocess.run([exe, "--help"], capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    probe = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from moot.cli.main import main\ntry: main(['--help'])\nexcept SystemExit: pass"],
        capture_output=True, text=True,
    )
    heavy = sorted({line.split("|")[-1].strip().split(".")[0] for line in probe.stderr.splitlines()
                    if line.split("|")[-1].strip().split(".")[0] in ("litellm", "pydantic", "textual", "ollama")})
    print(f"moot --help: median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over {runs} runs (target < 300 ms)")
    print(f"heavy modules imported on that path: {heavy or 'none'}")


if __name__ == "__main__":
    main()
