"""Each package owns its tables: one module declares a table's schema and one module alone names it in SQL."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from conftest import ROOT
from moot.core.storage import Store
from table_owners import SCHEMAS

FOLDERS = {"core": "moot.core", "context": "moot.context", "agents": "moot.agents", "cli": "moot.cli",
           "tui": "moot.tui", "themes": "moot.themes"}


def _modules() -> dict[str, str]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path.read_text(encoding="utf-8")
    return found


def _sql_names(source: str, table: str) -> bool:
    """Whether ``source`` names ``table`` in an SQL statement."""
    return re.search(rf"\b(FROM|INTO|UPDATE|JOIN|TABLE|EXISTS)\s+{table}\b", source) is not None


def test_every_table_and_migration_has_one_owner() -> None:
    tables = [t for s in SCHEMAS for t in s.tables]
    names = [n for s in SCHEMAS for n, _ in s.migrations]
    assert len(tables) == len(set(tables)), tables
    assert len(names) == len(set(names)), names
    modules = _modules()
    for schema in SCHEMAS:
        assert schema.owner in modules, f"{schema.owner} is not a module"


def test_no_module_but_the_owner_names_a_table_in_sql() -> None:
    modules = _modules()
    strays = []
    for schema in SCHEMAS:
        for table in schema.tables:
            for name, source in modules.items():
                if not _sql_names(source, table) or name == schema.owner:
                    continue
                declares = any(table in sql for _, sql in schema.migrations) and f'"{table}"' in source
                if not declares:  # the module that holds the schema's migrations may name it there
                    strays.append(f"{name} names {table} (owned by {schema.owner})")
    assert strays == []


def test_the_check_sees_a_stray() -> None:
    assert _sql_names("x = db.run('SELECT id FROM exec_tasks WHERE 1')", "exec_tasks")
    assert not _sql_names("exec_tasks = []", "exec_tasks")


def test_only_the_store_runs_raw_sql() -> None:
    assert not hasattr(Store, "execute")
    callers = [name for name, source in _modules().items()
               if "._run_sql(" in source and name != "moot.core.storage.db"]
    assert callers == []


def test_an_owner_s_tables_are_made_when_it_first_asks(moot_env: Path) -> None:
    with Store() as store:
        def names() -> set[str]:
            return {r[0] for r in store._run_sql("SELECT name FROM sqlite_master WHERE type = 'table'", ())}

        assert "runs" in names() and "exec_runs" not in names()
        agents = next(s for s in SCHEMAS if "exec_runs" in s.tables)
        tables = store.tables(agents)
        assert "exec_runs" in names()
        assert store.tables(agents) is tables


def test_an_upgraded_database_runs_nothing_twice(moot_env: Path) -> None:
    with Store() as store:
        for schema in SCHEMAS:
            store.tables(schema)
    db = sqlite3.connect(moot_env / "moot.db")
    before = db.execute("SELECT count(*) FROM _migrations").fetchone()[0]
    db.close()
    with Store() as store:
        for schema in SCHEMAS:
            store.tables(schema)
    db = sqlite3.connect(moot_env / "moot.db")
    assert db.execute("SELECT count(*) FROM _migrations").fetchone()[0] == before
    db.close()


def test_a_second_schema_for_one_owner_is_refused(moot_env: Path) -> None:
    from moot.core.storage import Schema

    with Store() as store:
        store.tables(SCHEMAS[1])
        with pytest.raises(ValueError, match="two schemas"):
            store.tables(Schema(SCHEMAS[1].owner, ("x",), (("x001", "CREATE TABLE x (a)"),)))
