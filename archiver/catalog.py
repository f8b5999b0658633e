"""The catalog: the archiver's private write-side state, in SQLite (DESIGN §1).

It records what the object store holds (records, versions, objects with their hashes and store
version ids), crawl progress, the ledger's write-ahead entries, holds and the audit trail. The store
stays the system of record; the catalog is what lets a run decide quickly whether a capture is new,
and what `verify` compares stored bytes against. One writer at a time (WAL mode); the portal never
opens it.

The schema has a version (`PRAGMA user_version`); opening a catalog applies the forward
`MIGRATIONS` it lacks, all in one transaction, and refuses one newer than this code.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.errors import SunshineError

log = logging.getLogger(__name__)

# The schema of the first release (version 1). `IF NOT EXISTS` because catalogs written before
# schema versions (user_version 0) already hold these tables. A change goes into MIGRATIONS, never here.
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    record_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    platform TEXT NOT NULL,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    native_id TEXT NOT NULL,
    url TEXT NOT NULL,
    author TEXT NOT NULL,
    author_is_department INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    text TEXT NOT NULL,
    parent_id TEXT,
    thread_id TEXT NOT NULL,
    media TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    latest_version INTEGER NOT NULL,
    latest_sha256 TEXT NOT NULL,
    last_seen_run TEXT,
    indexed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS records_source ON records(source, status);
CREATE INDEX IF NOT EXISTS records_unindexed ON records(indexed) WHERE indexed = 0;
CREATE TABLE IF NOT EXISTS versions (
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    captured_at TEXT NOT NULL,
    status TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    warc_key TEXT NOT NULL,
    warc_offset INTEGER NOT NULL,
    warc_length INTEGER NOT NULL,
    ledger_index INTEGER,
    store_version_id TEXT,
    text TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (record_id, version)
);
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    version_id TEXT,
    kind TEXT NOT NULL,
    stored_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
    url TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    mime TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS record_media (
    record_id TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (record_id, url)
);
CREATE INDEX IF NOT EXISTS record_media_url ON record_media(url);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    stats TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS threads_done (
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    root_native_id TEXT NOT NULL,
    PRIMARY KEY (run_id, source, root_native_id)
);
CREATE TABLE IF NOT EXISTS failed_captures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    error TEXT NOT NULL,
    warc_key TEXT,
    captured_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    idx INTEGER PRIMARY KEY,
    entry BLOB NOT NULL,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS holds (
    hold_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    query TEXT NOT NULL,
    placed_at TEXT NOT NULL,
    placed_by TEXT NOT NULL,
    released_at TEXT
);
CREATE TABLE IF NOT EXISTS hold_records (
    hold_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (hold_id, record_id)
);
CREATE TABLE IF NOT EXISTS disposed (
    record_id TEXT PRIMARY KEY,
    disposed_at TEXT NOT NULL,
    certificate TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Migration:
    """One forward step of the schema: `sql` (one or more statements) takes a catalog from
    `version - 1` to `version`. Steps are never edited once released; a change is a new step."""

    version: int
    why: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the first release's tables", SCHEMA),
    Migration(2, "retention disposals: 'pending' with the intent certificate's bytes until every object it "
                 "lists is deleted, then 'complete'; index_pending until its records left the index", """
CREATE TABLE dispositions (
    disposition_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    intent BLOB NOT NULL,
    started_at TEXT NOT NULL,
    certificate TEXT,
    completed_at TEXT,
    index_pending INTEGER NOT NULL DEFAULT 1
);
"""),
    Migration(3, "a hold resolves whole threads: records by thread without a full scan",
              "CREATE INDEX records_thread ON records(thread_id);"),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def statements(script: str) -> list[str]:
    """The statements of an SQL script, one by one (`executescript` would commit the transaction)."""
    found, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if pending.strip() and not pending.strip().startswith("--"):
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:80]!r}")
    return found


def migrate(db: sqlite3.Connection, path: Path) -> int:
    """Bring the catalog at `path` to `SCHEMA_VERSION` in one transaction; the version it had.

    Refuses a catalog newer than this code (it may hold what this code would misread or lose).
    The version is read again under the write lock, so two processes opening an old catalog at
    once migrate it once.
    """
    if _version(db) == SCHEMA_VERSION:
        return SCHEMA_VERSION
    db.execute("BEGIN IMMEDIATE")
    try:
        found = _version(db)
        if found > SCHEMA_VERSION:
            raise SunshineError(
                f"catalog {path} has schema version {found}, but this sunshine knows versions up to "
                f"{SCHEMA_VERSION}: it was written by a newer release; upgrade sunshine to use it")
        for step in MIGRATIONS:
            if step.version > found:
                for statement in statements(step.sql):
                    db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return found


def _version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


@dataclass(frozen=True)
class LatestVersion:
    """What a run needs to know about a record to classify a new capture of it."""

    version: int
    sha256: str
    status: str


class Catalog:
    """The SQLite catalog. Use `transaction()` for every write so a crash leaves no half state."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        try:
            found = migrate(self.db, self.path)
        except BaseException:
            self.db.close()
            raise
        if found != SCHEMA_VERSION:
            log.info("catalog %s: schema version %d migrated to %d", self.path, found, SCHEMA_VERSION)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- reads -----------------------------------------------------------------------------------

    def latest_version(self, record_id: str) -> LatestVersion | None:
        """A record's latest committed version (a primary-key lookup, so a run's memory stays flat)."""
        row = self.db.execute("SELECT latest_version, latest_sha256, status FROM records WHERE record_id = ?",
                              (record_id,)).fetchone()
        return LatestVersion(row[0], row[1], row[2]) if row else None

    def known_native_ids(self, source: str, exclude_seen_in: str | None = None) -> frozenset[str]:
        """Native ids of a source's records that are not deleted (and not yet seen in a resumed run)."""
        rows = self.db.execute(
            "SELECT native_id FROM records WHERE source = ? AND status != 'deleted'"
            " AND (last_seen_run IS NULL OR last_seen_run IS NOT ?)",
            (source, exclude_seen_in),
        )
        return frozenset(row[0] for row in rows)

    def threads_done(self, run_id: str, source: str) -> frozenset[str]:
        rows = self.db.execute(
            "SELECT root_native_id FROM threads_done WHERE run_id = ? AND source = ?", (run_id, source)
        )
        return frozenset(row[0] for row in rows)

    def object(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM objects WHERE key = ?", (key,)).fetchone()

    def has_object(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM objects WHERE key = ?", (key,)).fetchone() is not None

    def objects(self) -> Iterator[sqlite3.Row]:
        yield from self.db.execute("SELECT * FROM objects ORDER BY key")

    def count(self, table: str) -> int:
        if table not in ("records", "versions", "objects", "ledger", "failed_captures", "runs"):
            raise ValueError(table)
        return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def unfinished_run(self) -> str | None:
        row = self.db.execute(
            "SELECT run_id FROM runs WHERE status = 'running' ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def record_rows(self, record_ids: Iterable[str]) -> list[sqlite3.Row]:
        ids = list(record_ids)
        rows: list[sqlite3.Row] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows.extend(self.db.execute(f"SELECT * FROM records WHERE record_id IN ({marks})", chunk))
        return rows

    def version_rows(self, record_ids: Iterable[str]) -> dict[str, list[sqlite3.Row]]:
        ids = list(record_ids)
        found: dict[str, list[sqlite3.Row]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT * FROM versions WHERE record_id IN ({marks}) ORDER BY record_id, version", chunk
            ):
                found.setdefault(row["record_id"], []).append(row)
        return found

    def media_hashes(self, urls: Iterable[str]) -> dict[str, tuple[str, str]]:
        found = {}
        for url in set(urls):
            row = self.db.execute("SELECT sha256, mime FROM media WHERE url = ?", (url,)).fetchone()
            if row:
                found[url] = (row[0], row[1])
        return found

    def unindexed_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT record_id FROM records WHERE indexed = 0")]

    def all_record_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT record_id FROM records ORDER BY record_id")]

    def next_counter(self, conn: sqlite3.Connection, name: str) -> int:
        """Allocate the next number of a named sequence inside the caller's transaction."""
        row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = (row[0] + 1) if row else 0
        conn.execute("INSERT OR REPLACE INTO counters(name, value) VALUES (?, ?)", (name, value))
        return value

    def ledger_size(self) -> int:
        row = self.db.execute("SELECT MAX(idx) FROM ledger").fetchone()
        return 0 if row[0] is None else row[0] + 1

    def unpublished_ledger(self) -> tuple[int, list[bytes]]:
        """The first unpublished ledger index and the entries from there on, in order."""
        rows = self.db.execute("SELECT idx, entry FROM ledger WHERE published = 0 ORDER BY idx").fetchall()
        if not rows:
            return self.ledger_size(), []
        return rows[0][0], [bytes(row[1]) for row in rows]

    def audit(self, conn: sqlite3.Connection, at: str, actor: str, action: str, details: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO audit(at, actor, action, details) VALUES (?, ?, ?, ?)",
            (at, actor, action, json.dumps(details, sort_keys=True)),
        )
