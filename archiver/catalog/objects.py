"""Stored objects in the catalog: every key the archiver wrote, with the hash, size and store
version id it was confirmed with (what `verify` re-hashes against)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from archiver.catalog.rows import Rows, Transaction


@dataclass(frozen=True)
class ObjectRow:
    """One stored object; `kind` names its writer ("blob", "warc", "manifests", "hold", "disposition")."""

    key: str
    sha256: str
    size: int
    version_id: str | None
    kind: str
    stored_at: str


class ObjectRows(Rows):
    def object(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM objects WHERE key = ?", (key,)).fetchone()

    def has_object(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM objects WHERE key = ?", (key,)).fetchone() is not None

    def objects(self, kind: str | None = None) -> Iterator[sqlite3.Row]:
        """Every object (or every object of one kind), by key."""
        if kind is None:
            yield from self.db.execute("SELECT * FROM objects ORDER BY key")
        else:
            yield from self.db.execute("SELECT * FROM objects WHERE kind = ? ORDER BY key", (kind,))

    def object_totals(self) -> tuple[int, int]:
        """(objects, bytes) the catalog knows stored."""
        count, size = self.db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects").fetchone()
        return count, size

    def add_objects(self, tx: Transaction, rows: Iterable[ObjectRow]) -> None:
        """Objects just stored; a key already known keeps its row (content-addressed, or the same bytes
        written again by a rerun)."""
        tx.executemany("INSERT OR IGNORE INTO objects(key, sha256, size, version_id, kind, stored_at)"
                       " VALUES (?, ?, ?, ?, ?, ?)",
                       [(row.key, row.sha256, row.size, row.version_id, row.kind, row.stored_at) for row in rows])

    def forget_objects(self, tx: Transaction, keys: Iterable[str]) -> None:
        """Objects deleted from the store (a disposal)."""
        tx.executemany("DELETE FROM objects WHERE key = ?", [(key,) for key in keys])

    def set_version_ids(self, version_ids: Iterable[tuple[str, str | None]]) -> None:
        """(key, version id) the store gave objects uploaded late (from the spool); only objects that
        have none yet."""
        with self.transaction() as tx:
            tx.executemany("UPDATE objects SET version_id = ? WHERE key = ? AND version_id IS NULL",
                           [(version_id, key) for key, version_id in version_ids])
