"""Retention disposals in the catalog: disposed records (with the certificate that says so) and
each disposal's progress (`pending` with its intent's bytes, then `complete`; `index_pending`
until the search index let its records go). The order of the steps is `archiver.disposition`'s."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from archiver.catalog.rows import Rows, Transaction


@dataclass(frozen=True)
class RetentionCandidate:
    """A record not disposed of, with what its retention depends on."""

    record_id: str
    platform: str
    kind: str
    last_capture: str
    created_at: str = ""  # on the platform; a schedule may count from it (`archiver.retention`)


class DispositionRows(Rows):
    def retention_candidates(self) -> Iterator[RetentionCandidate]:
        """Every record not disposed of, by record id, with its last capture's time."""
        rows = self.db.execute(
            "SELECT r.record_id, r.platform, r.kind, MAX(v.captured_at) AS last_capture, r.created_at FROM records r"
            " JOIN versions v USING (record_id) WHERE r.record_id NOT IN (SELECT record_id FROM disposed)"
            " GROUP BY r.record_id ORDER BY r.record_id"
        )
        for row in rows:
            yield RetentionCandidate(row[0], row[1], row[2], row[3], row[4])

    def pending_intents(self) -> dict[str, bytes]:
        """Disposals not complete: id -> the intent certificate's bytes, oldest first."""
        rows = self.db.execute("SELECT disposition_id, intent FROM dispositions WHERE status = 'pending'"
                               " ORDER BY started_at, disposition_id")
        return {row[0]: bytes(row[1]) for row in rows}

    def awaiting_index_removal(self) -> dict[str, list[str]]:
        """Complete disposals whose records the search index may still hold: id -> record ids."""
        found: dict[str, list[str]] = {}
        rows = self.db.execute(
            "SELECT d.disposition_id, r.record_id FROM dispositions d LEFT JOIN disposed r"
            " ON r.certificate = d.certificate WHERE d.status = 'complete' AND d.index_pending = 1"
            " ORDER BY d.disposition_id, r.record_id")
        for disposition_id, record_id in rows:  # no record (all withdrawn): nothing to remove, yet done with
            found.setdefault(disposition_id, []).extend([record_id] if record_id is not None else [])
        return found

    def mark_index_removed(self, disposition_ids: Iterable[str]) -> None:
        with self.transaction() as tx:
            tx.executemany("UPDATE dispositions SET index_pending = 0 WHERE disposition_id = ?",
                           [(disposition_id,) for disposition_id in disposition_ids])

    def add_disposition(self, tx: Transaction, disposition_id: str, intent: bytes, started_at: str, *,
                        certificate: str | None = None, completed_at: str | None = None) -> None:
        """A disposal: pending with its intent, or (`certificate` given) complete already (`recover`)."""
        status = "pending" if certificate is None else "complete"
        tx.execute("INSERT INTO dispositions(disposition_id, status, intent, started_at, certificate, completed_at)"
                   " VALUES (?, ?, ?, ?, ?, ?)", (disposition_id, status, intent, started_at, certificate, completed_at))

    def mark_disposed(self, tx: Transaction, record_ids: Iterable[str], at: str, certificate: str) -> None:
        tx.executemany("INSERT OR REPLACE INTO disposed(record_id, disposed_at, certificate) VALUES (?, ?, ?)",
                       [(record_id, at, certificate) for record_id in record_ids])

    def complete_disposition(self, tx: Transaction, disposition_id: str, certificate: str, completed_at: str,
                             disposed: Iterable[str], withdrawn: Iterable[str]) -> None:
        """The disposal is complete: its records now name the complete certificate; withdrawn ones
        (the store refused them untouched) are not disposed after all."""
        tx.executemany("UPDATE disposed SET disposed_at = ?, certificate = ? WHERE record_id = ?",
                       [(completed_at, certificate, record_id) for record_id in disposed])
        tx.executemany("DELETE FROM disposed WHERE record_id = ?", [(record_id,) for record_id in withdrawn])
        tx.execute("UPDATE dispositions SET status = 'complete', certificate = ?, completed_at = ?"
                   " WHERE disposition_id = ?", (certificate, completed_at, disposition_id))
