"""The catalog's schema and its forward migrations (`PRAGMA user_version`).

Opening a catalog applies the `MIGRATIONS` it lacks, all in one transaction, and refuses one newer
than this code. A released step is never edited; a change is a new step.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from archiver.errors import SunshineError

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
    Migration(4, "incremental runs: per-source crawl state (feed high-water mark, open walk, rotating revisit, "
                 "retries, pause, daily quota), posts by source and time, and media a run skipped or could "
                 "not fetch, with the reason", """
CREATE TABLE source_state (
    source TEXT PRIMARY KEY,
    high_water TEXT,
    walk_run TEXT,
    revisit_after TEXT,
    revisited_at TEXT,
    retry TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'complete',
    detail TEXT NOT NULL DEFAULT '',
    quota_day TEXT,
    quota_used INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT
);
CREATE INDEX records_source_kind_created ON records(source, kind, created_at);
CREATE TABLE media_problems (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
"""),
    Migration(5, "clerk accounts (argon2 hashes only, failed-login lockout, a session epoch that ends old sessions "
                 "on a reset or disable), disposition runs awaiting a records manager's approval (the dry run's "
                 "list, run exactly as approved), and the audit trail by time, actor and action", """
CREATE TABLE users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    session_epoch INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    last_login_at TEXT
);
CREATE TABLE disposition_approvals (
    approval_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    due TEXT NOT NULL,
    due_sha256 TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT,
    outcome TEXT
);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_actor ON audit(actor, at);
"""),
    Migration(6, "redactions: each redaction of a record (whole, a text span or media, with its legal basis; "
                 "removed ones kept), and every revision of a record's redaction state with its store document "
                 "and ledger entry; versions by WARC member, to find every record a redacted capture holds", """
CREATE TABLE redactions (
    redaction_id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    target TEXT,
    basis TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL,
    removed_at TEXT,
    removed_by TEXT
);
CREATE INDEX redactions_record ON redactions(record_id);
CREATE TABLE redaction_log (
    record_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    action TEXT NOT NULL,
    redaction_id TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    document TEXT NOT NULL,
    ledger_index INTEGER,
    PRIMARY KEY (record_id, revision)
);
CREATE INDEX versions_warc_member ON versions(warc_key, warc_offset);
"""),
    Migration(7, "public-records requests: number, description, dates, status, the searches that defined the "
                 "scope and the records they resolved to when saved, and the 'pending request' hold keeping them",
              """
CREATE TABLE requests (
    number TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    received TEXT NOT NULL,
    due TEXT,
    status TEXT NOT NULL,
    searches TEXT NOT NULL,
    hold_id TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    closed_at TEXT,
    closed_by TEXT
);
CREATE TABLE request_records (
    number TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (number, record_id)
);
"""),
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
