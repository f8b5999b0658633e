"""Public-records requests in the catalog: each request, the records it resolved to, its status.

A request's records are fixed when it is saved (`request_records`), so its scope never changes
when the index or the platform changes; its "pending request" hold (`hold_id`) keeps them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from archiver.catalog.rows import Rows, Transaction, chunks


@dataclass(frozen=True)
class RecordsRequest:
    """A public-records request as saved (no requester identity: the archive needs none)."""

    number: str
    description: str
    received: str          # YYYY-MM-DD
    due: str | None        # YYYY-MM-DD
    status: str            # "open" | "closed"
    searches: tuple[dict[str, Any], ...]  # the criteria that defined its scope, as saved
    hold_id: str
    saved_at: str
    saved_by: str
    closed_at: str | None
    closed_by: str | None
    record_count: int

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "searches": list(self.searches)}


_REQUESTS = ("SELECT q.*, (SELECT COUNT(*) FROM request_records r WHERE r.number = q.number) AS record_count"
             " FROM requests q")


def _request(row: sqlite3.Row) -> RecordsRequest:
    return RecordsRequest(row["number"], row["description"], row["received"], row["due"], row["status"],
                          tuple(json.loads(row["searches"])), row["hold_id"], row["saved_at"], row["saved_by"],
                          row["closed_at"], row["closed_by"], row["record_count"])


class RequestRows(Rows):
    def request(self, number: str) -> RecordsRequest | None:
        row = self.db.execute(f"{_REQUESTS} WHERE q.number = ?", (number,)).fetchone()
        return _request(row) if row else None

    def requests(self, include_closed: bool = False) -> list[RecordsRequest]:
        """Requests by when they were received (open ones only unless `include_closed`)."""
        where = "" if include_closed else " WHERE q.status = 'open'"
        return [_request(row) for row in self.db.execute(f"{_REQUESTS}{where} ORDER BY q.received, q.number")]

    def request_record_ids(self, number: str) -> list[str]:
        return [row[0] for row in self.db.execute(
            "SELECT record_id FROM request_records WHERE number = ? ORDER BY record_id", (number,))]

    def add_request(self, tx: Transaction, request: RecordsRequest, record_ids: Iterable[str]) -> None:
        tx.execute("INSERT INTO requests(number, description, received, due, status, searches, hold_id, saved_at,"
                   " saved_by, closed_at, closed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (request.number, request.description, request.received, request.due, request.status,
                    json.dumps(list(request.searches), sort_keys=True), request.hold_id, request.saved_at,
                    request.saved_by, request.closed_at, request.closed_by))
        tx.executemany("INSERT OR IGNORE INTO request_records(number, record_id) VALUES (?, ?)",
                       [(request.number, record_id) for record_id in record_ids])

    def mark_request_closed(self, tx: Transaction, number: str, at: str, by: str) -> None:
        tx.execute("UPDATE requests SET status = 'closed', closed_at = ?, closed_by = ? WHERE number = ?",
                   (at, by, number))

    def undisposed_record_ids(self, record_ids: Iterable[str]) -> list[str]:
        """Those of `record_ids` not disposed of (what a response package can still include)."""
        ids = sorted(set(record_ids))
        gone: set[str] = set()
        for chunk, marks in chunks(ids):
            gone |= {row[0] for row in self.db.execute(
                f"SELECT record_id FROM disposed WHERE record_id IN ({marks})", chunk)}
        return [record_id for record_id in ids if record_id not in gone]
