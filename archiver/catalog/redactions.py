"""Redactions in the catalog: each redaction (added, maybe removed) and the log of every change.

A record's redaction state has revisions: each add or remove is the next revision of that record's
state, logged in `redaction_log` with the store document and ledger entry that record it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from archiver.catalog.rows import Rows, Transaction, chunks


@dataclass(frozen=True)
class Redaction:
    """One redaction of a record: the whole record, a text span (every occurrence of `target`,
    ignoring case) or a media item (`target` its URL; None: all its media), with its legal basis."""

    redaction_id: str
    record_id: str
    scope: str  # "record", "text" or "media"
    target: str | None
    basis: str
    note: str
    added_at: str
    added_by: str
    removed_at: str | None = None
    removed_by: str | None = None


@dataclass(frozen=True)
class RedactionChange:
    """One revision of a record's redaction state (an add or a remove), as logged."""

    record_id: str
    revision: int
    action: str  # "add" or "remove"
    redaction_id: str
    scope: str
    basis: str
    at: str
    by: str
    document: str
    ledger_index: int | None


def _redaction(row: sqlite3.Row) -> Redaction:
    return Redaction(row["redaction_id"], row["record_id"], row["scope"], row["target"], row["basis"], row["note"],
                     row["added_at"], row["added_by"], row["removed_at"], row["removed_by"])


class RedactionRows(Rows):
    def redaction(self, redaction_id: str) -> Redaction | None:
        row = self.db.execute("SELECT * FROM redactions WHERE redaction_id = ?", (redaction_id,)).fetchone()
        return _redaction(row) if row else None

    def redactions(self, record_ids: Iterable[str] | None = None, *, include_removed: bool = False) -> list[Redaction]:
        """Redactions (active only unless `include_removed`), of `record_ids` or of every record."""
        active = "" if include_removed else " AND removed_at IS NULL"
        if record_ids is None:
            rows = self.db.execute(f"SELECT * FROM redactions WHERE 1{active} ORDER BY added_at, redaction_id")
            return [_redaction(row) for row in rows]
        found = []
        for chunk, marks in chunks(record_ids):
            found += [_redaction(row) for row in self.db.execute(
                f"SELECT * FROM redactions WHERE record_id IN ({marks}){active}", chunk)]
        return sorted(found, key=lambda item: (item.added_at, item.redaction_id))

    def redaction_revision(self, record_id: str) -> int:
        """The record's latest redaction revision (0: never redacted)."""
        row = self.db.execute("SELECT MAX(revision) FROM redaction_log WHERE record_id = ?", (record_id,)).fetchone()
        return row[0] or 0

    def redaction_changes(self, record_ids: Iterable[str] | None = None) -> list[RedactionChange]:
        """Every logged change, oldest first (of `record_ids`, or all)."""
        query = ("SELECT l.*, r.scope, r.basis FROM redaction_log l JOIN redactions r USING (redaction_id)")
        if record_ids is None:
            rows = list(self.db.execute(query))
        else:
            rows = []
            for chunk, marks in chunks(record_ids):
                rows += list(self.db.execute(f"{query} WHERE l.record_id IN ({marks})", chunk))
        changes = [RedactionChange(row["record_id"], row["revision"], row["action"], row["redaction_id"],
                                   row["scope"], row["basis"], row["at"], row["by"], row["document"],
                                   row["ledger_index"]) for row in rows]
        return sorted(changes, key=lambda change: (change.at, change.record_id, change.revision))

    def add_redaction(self, tx: Transaction, redaction: Redaction) -> None:
        tx.execute("INSERT INTO redactions(redaction_id, record_id, scope, target, basis, note, added_at, added_by,"
                   " removed_at, removed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (redaction.redaction_id, redaction.record_id, redaction.scope, redaction.target, redaction.basis,
                    redaction.note, redaction.added_at, redaction.added_by, redaction.removed_at,
                    redaction.removed_by))

    def mark_redaction_removed(self, tx: Transaction, redaction_id: str, at: str, by: str) -> None:
        tx.execute("UPDATE redactions SET removed_at = ?, removed_by = ? WHERE redaction_id = ?", (at, by, redaction_id))

    def add_redaction_change(self, tx: Transaction, change: RedactionChange) -> None:
        tx.execute("INSERT INTO redaction_log(record_id, revision, action, redaction_id, at, by, document,"
                   " ledger_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (change.record_id, change.revision, change.action, change.redaction_id, change.at, change.by,
                    change.document, change.ledger_index))

    def captures_of(self, record_ids: Iterable[str]) -> set[tuple[str, int, int]]:
        """The WARC members (key, offset, length) the versions of these records were captured in."""
        found: set[tuple[str, int, int]] = set()
        for chunk, marks in chunks(record_ids):
            found |= {(row[0], row[1], row[2]) for row in self.db.execute(
                f"SELECT warc_key, warc_offset, warc_length FROM versions WHERE record_id IN ({marks})", chunk)}
        return found

    def records_captured_in(self, members: Iterable[tuple[str, int, int]]) -> set[str]:
        """Records with a version captured in one of these WARC members (a thread page holds many)."""
        found: set[str] = set()
        for key, offset, _length in members:
            found |= {row[0] for row in self.db.execute(
                "SELECT record_id FROM versions WHERE warc_key = ? AND warc_offset = ?", (key, offset))}
        return found

    def mark_unindexed(self, tx: Transaction, record_ids: Iterable[str]) -> None:
        """These records' read-model documents are stale (the next index update rebuilds them)."""
        tx.executemany("UPDATE records SET indexed = 0 WHERE record_id = ?", [(i,) for i in record_ids])
