"""The catalog: the archiver's private write-side state, in SQLite (DESIGN §1).

It records what the object store holds (records, versions, objects with their hashes and store
version ids), crawl progress, the ledger's write-ahead entries, holds and the audit trail. The store
stays the system of record; the catalog is what lets a run decide quickly whether a capture is new,
and what `verify` compares stored bytes against. One writer at a time (WAL mode); the portal never
opens it.

The catalog owns its SQL: every statement is here, one module per concern (`records`, `objects`,
`ledger`, `holds`, `dispositions`, `runs`, `audit`), behind methods named for what they do; nothing
else in the archiver runs SQL (tests/archiver/test_catalog_owns_sql.py checks). A write takes the
caller's transaction (`with catalog.transaction() as tx: catalog.add_objects(tx, ...)`), so what
commits together is the caller's decision.

The schema has a version (`PRAGMA user_version`, `schema.py`); opening a catalog applies the
forward `MIGRATIONS` it lacks, all in one transaction, and refuses one newer than this code.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from archiver.catalog.approvals import ApprovalRow, ApprovalRows
from archiver.catalog.audit import AuditRows
from archiver.catalog.audit_trail import AuditEntry, AuditTrailRows
from archiver.catalog.dispositions import DispositionRows, RetentionCandidate
from archiver.catalog.holds import Hold, HoldRows
from archiver.catalog.ledger import LedgerRows, LoggedCapture, Publication, append_ledger_entry
from archiver.catalog.objects import ObjectRow, ObjectRows
from archiver.catalog.records import LatestVersion, NativeVersion, RecordRow, RecordRows, VersionRow
from archiver.catalog.redactions import Redaction, RedactionChange, RedactionRows
from archiver.catalog.requests import RecordsRequest, RequestRows
from archiver.catalog.rows import Transaction
from archiver.catalog.runs import RunRows
from archiver.catalog.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION, Migration, migrate, statements
from archiver.catalog.sources import SourceRows, SourceState
from archiver.catalog.users import UserRow, UserRows

__all__ = [
    "MIGRATIONS", "SCHEMA", "SCHEMA_VERSION", "ApprovalRow", "AuditEntry", "Catalog", "Hold", "LatestVersion", "LoggedCapture", "Migration",
    "NativeVersion", "ObjectRow", "Publication", "RecordRow", "RecordsRequest", "Redaction", "RedactionChange", "RetentionCandidate", "SourceState", "Transaction", "UserRow",
    "VersionRow", "append_ledger_entry", "migrate", "statements",
]

log = logging.getLogger(__name__)

_COUNTED = ("records", "versions", "objects", "ledger", "failed_captures", "runs")


class Catalog(RecordRows, ObjectRows, LedgerRows, HoldRows, DispositionRows, RunRows, AuditRows,
              SourceRows, UserRows, ApprovalRows, AuditTrailRows, RequestRows,
              RedactionRows):
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

    def count(self, table: str) -> int:
        if table not in _COUNTED:
            raise ValueError(table)
        return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
