"""Catalog schema versions: forward migrations in one transaction, and a newer catalog refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from archiver.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog, Migration, statements
from archiver.catalog import schema as catalog_module
from archiver.errors import SunshineError
from tests.archiver.prev_release import archive_again, extract
from tests.e2e.conftest import sunshine


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def _tables(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows, sorted (what a migration must keep)."""
    db = sqlite3.connect(path)
    try:
        names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                             " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {name: sorted(db.execute(f"SELECT * FROM {name}").fetchall(), key=repr) for name in names}
    finally:
        db.close()


def test_migrations_are_numbered_one_by_one_and_each_is_complete_sql() -> None:
    assert [step.version for step in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert MIGRATIONS[-1].version == SCHEMA_VERSION
    for step in MIGRATIONS:
        found = statements(step.sql)
        assert found, step
        assert all(sqlite3.complete_statement(statement) for statement in found)


def test_a_new_catalog_has_the_current_version_and_is_a_context_manager(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        assert catalog.count("records") == 0
    with pytest.raises(sqlite3.ProgrammingError):  # closed on leaving the block
        catalog.db.execute("SELECT 1")
    assert _user_version(path) == SCHEMA_VERSION
    assert "dispositions" in _tables(path)


def test_the_previous_release_catalog_upgrades_in_place_and_verifies(tmp_path: Path) -> None:
    config = extract(tmp_path / "archive")
    path = config.parent / "catalog.sqlite"
    before = _tables(path)
    assert _user_version(path) == 0 and "dispositions" not in before

    with Catalog(path):
        pass

    assert _user_version(path) == SCHEMA_VERSION
    after = _tables(path)
    assert {name: rows for name, rows in after.items() if name in before} == before  # nothing lost or changed
    assert after["dispositions"] == []
    result = sunshine("verify", "-c", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_archive_run_on_the_upgraded_catalog_adds_no_duplicate_versions(tmp_path: Path) -> None:
    config = extract(tmp_path / "archive")
    path = config.parent / "catalog.sqlite"
    versions = _tables(path)["versions"]

    result = archive_again(config.parent)

    assert result.returncode == 0, result.stdout + result.stderr
    assert _user_version(path) == SCHEMA_VERSION
    assert _tables(path)["versions"] == versions
    assert "new 0, edited 0, hidden 0, deleted 0, restored 0" in result.stdout
    verified = sunshine("verify", "-c", str(config))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_catalog_newer_than_the_code_is_refused_without_change(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = _tables(path)

    with pytest.raises(SunshineError) as refused:
        Catalog(path)

    assert str(path) in str(refused.value) and f"schema version {SCHEMA_VERSION + 1}" in str(refused.value)
    assert _user_version(path) == SCHEMA_VERSION + 1 and _tables(path) == before
    config = tmp_path / "sunshine.toml"
    config.write_text('[storage]\npath = "store"\n', encoding="utf-8")
    cli = sunshine("hold", "list", "-c", str(config))
    assert cli.returncode == 2 and "newer release" in cli.stderr and "Traceback" not in cli.stderr


def test_a_failing_migration_leaves_the_catalog_as_it_was(tmp_path: Path, monkeypatch) -> None:
    config = extract(tmp_path / "archive")
    path = config.parent / "catalog.sqlite"
    before = _tables(path)
    broken = Migration(SCHEMA_VERSION + 1, "a step that fails half way",
                       "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);")
    monkeypatch.setattr(catalog_module, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(catalog_module, "SCHEMA_VERSION", broken.version)

    with pytest.raises(sqlite3.OperationalError):
        Catalog(path)

    assert _user_version(path) == 0 and _tables(path) == before  # not even the earlier steps stayed
