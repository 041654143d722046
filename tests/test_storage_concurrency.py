"""Several moot processes opening one brand-new MOOT_HOME at the same moment: each migrates or waits for the
one that does, none fails, and the database comes out whole with every owner's tables, each made once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import ROOT
from table_owners import SCHEMAS

#: Each process waits for the same wall-clock moment, then opens the store and the tag cache.
OPENER = textwrap.dedent("""
    import sys, time
    start = float(sys.argv[1])
    from moot.context.cache import TagCache
    from moot.core.storage import Store
    from table_owners import SCHEMAS
    time.sleep(max(0.0, start - time.time()))
    with Store() as store:
        for schema in SCHEMAS:  # each owner's tables are made the first time it asks: by every process at once
            store.tables(schema)
    TagCache().close()
    print("ok")
""")

PROCESSES = 8
ROUNDS = 3


def open_at_once(home: Path) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "MOOT_HOME": str(home), "PYTHONPATH": str(ROOT / "tests")}
    start = time.time() + 4.0  # time enough for every process to import before the moment comes
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(start)], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(PROCESSES)]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def test_processes_opening_a_fresh_home_at_once_all_succeed(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        home = tmp_path / f"home-{round_}"
        results = open_at_once(home)
        failed = [r.stderr.strip().splitlines()[-1:] for r in results if r.returncode != 0 or r.stdout != "ok\n"]
        assert failed == [], f"round {round_}: {failed}"
        db = sqlite3.connect(home / "moot.db")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT name FROM _migrations ORDER BY id").fetchall()
        assert rows == [(name,) for schema in SCHEMAS for name, _ in schema.migrations]
        db.close()
        cache = sqlite3.connect(home / "context-cache.db")
        assert cache.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        cache.close()
