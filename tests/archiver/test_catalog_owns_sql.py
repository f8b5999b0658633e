"""The catalog owns its SQL: no module of the archiver outside `archiver/catalog/` runs a statement,
imports sqlite3 or reaches for the catalog's connection. A cheap guard over the source text."""

from __future__ import annotations

import re
from pathlib import Path

ARCHIVER = Path(__file__).resolve().parents[2] / "archiver"
CATALOG = ARCHIVER / "catalog"

_SQL_USE = re.compile(r"\.execute(?:many|script)?\(|^\s*(?:import sqlite3|from sqlite3 import)|\bsqlite3\.|\.db\b",
                      re.MULTILINE)


def sql_uses(text: str) -> list[str]:
    """The lines of `text` that run SQL or touch sqlite3 / a catalog's `db`."""
    return [line.strip() for line in text.splitlines() if _SQL_USE.search(line)]


def test_no_module_outside_the_catalog_runs_sql() -> None:
    found = {str(path.relative_to(ARCHIVER.parent)): uses
             for path in sorted(ARCHIVER.rglob("*.py")) if CATALOG not in path.parents
             if (uses := sql_uses(path.read_text(encoding="utf-8")))}
    assert found == {}


def test_the_guard_sees_each_way_of_running_sql() -> None:
    planted = ['rows = catalog.db.execute("SELECT 1")', 'conn.executemany("DELETE FROM objects", [])',
               "tx.executescript(SCHEMA)", "import sqlite3", "from sqlite3 import Row",
               "Hook = Callable[[sqlite3.Connection], None]", "cursor = self.catalog.db"]
    assert sql_uses("\n".join(planted)) == planted
    assert sql_uses("catalog.add_objects(tx, rows)\nexecute_plan(x)\nsqlite3_like = 1\ndbx = 2") == []
