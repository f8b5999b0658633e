"""The ledger's write-ahead table: every entry, committed with what it describes, then published
as tiles (`archiver.publish`). `published = 1` once the store holds it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from archiver.catalog.records import version_of
from archiver.catalog.rows import Rows, Transaction
from archiver.model import Version


@dataclass(frozen=True)
class LoggedCapture:
    """A catalog version and the ledger entry at the index it names (None: no entry there)."""

    version: Version
    entry: bytes | None


@dataclass(frozen=True)
class Publication:
    """How much of the catalog's ledger is published, and where the unpublished part starts."""

    published: int
    unpublished: int
    first_unpublished: int | None


def append_ledger_entry(tx: Transaction, entry: bytes) -> int:
    """Append `entry` at the end of the ledger inside the caller's transaction; its index.

    A function, not a method: clerk-event hooks get only the transaction. Inside the caller's
    IMMEDIATE transaction, so no other writer can take the same index.
    """
    row = tx.execute("SELECT MAX(idx) FROM ledger").fetchone()
    index = 0 if row[0] is None else row[0] + 1
    tx.execute("INSERT INTO ledger(idx, entry) VALUES (?, ?)", (index, entry))
    return index


class LedgerRows(Rows):
    def ledger_size(self) -> int:
        row = self.db.execute("SELECT MAX(idx) FROM ledger").fetchone()
        return 0 if row[0] is None else row[0] + 1

    def unpublished_ledger(self) -> tuple[int, list[bytes]]:
        """The first unpublished ledger index and the entries from there on, in order."""
        rows = self.db.execute("SELECT idx, entry FROM ledger WHERE published = 0 ORDER BY idx").fetchall()
        if not rows:
            return self.ledger_size(), []
        return rows[0][0], [bytes(row[1]) for row in rows]

    def publication(self) -> Publication:
        unpublished, first = self.db.execute("SELECT COUNT(*), MIN(idx) FROM ledger WHERE published = 0").fetchone()
        published = self.db.execute("SELECT COUNT(*) FROM ledger WHERE published = 1").fetchone()[0]
        return Publication(published, unpublished, first)

    def ledger_entries(self, below: int) -> Iterator[tuple[int, bytes]]:
        """(index, entry) for every entry under index `below`, in order."""
        for index, entry in self.db.execute("SELECT idx, entry FROM ledger WHERE idx < ? ORDER BY idx", (below,)):
            yield index, bytes(entry)

    def logged_captures(self) -> Iterator[LoggedCapture]:
        """Every catalog version with the entry at its ledger index, in ledger order."""
        rows = self.db.execute("SELECT v.*, l.entry FROM versions v LEFT JOIN ledger l ON l.idx = v.ledger_index"
                               " ORDER BY v.ledger_index")
        for row in rows:
            yield LoggedCapture(version_of(row), bytes(row["entry"]) if row["entry"] is not None else None)

    def capture_at(self, index: int) -> tuple[str, int] | None:
        """(record_id, version) of the capture logged at `index`, if it is one."""
        row = self.db.execute("SELECT record_id, version FROM versions WHERE ledger_index = ?", (index,)).fetchone()
        return (row[0], row[1]) if row else None

    def add_ledger_entries(self, tx: Transaction, entries: Iterable[tuple[int, bytes]], *,
                           published: bool = False) -> None:
        """Entries at the indexes the caller took (a taken index is an IntegrityError, never overwritten)."""
        tx.executemany("INSERT INTO ledger(idx, entry, published) VALUES (?, ?, ?)",
                       [(index, entry, int(published)) for index, entry in entries])

    def mark_published(self, start: int, count: int) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE ledger SET published = 1 WHERE idx >= ? AND idx < ?", (start, start + count))
