"""Legal holds in the catalog: each hold, the records it names, and whether it was released."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from archiver.catalog.rows import Rows, Transaction


@dataclass(frozen=True)
class Hold:
    hold_id: str
    reason: str
    placed_at: str
    placed_by: str
    released_at: str | None
    record_count: int
    criteria: dict[str, Any]


_HOLDS = ("SELECT h.*, (SELECT COUNT(*) FROM hold_records r WHERE r.hold_id = h.hold_id) AS record_count"
          " FROM holds h")


def _hold(row: sqlite3.Row) -> Hold:
    return Hold(row["hold_id"], row["reason"], row["placed_at"], row["placed_by"], row["released_at"],
                row["record_count"], json.loads(row["query"]))


class HoldRows(Rows):
    def held_record_ids(self) -> set[str]:
        """Records some open hold names."""
        rows = self.db.execute(
            "SELECT DISTINCT record_id FROM hold_records JOIN holds USING (hold_id) WHERE released_at IS NULL"
        )
        return {row[0] for row in rows}

    def hold(self, hold_id: str) -> Hold | None:
        row = self.db.execute(f"{_HOLDS} WHERE h.hold_id = ?", (hold_id,)).fetchone()
        return _hold(row) if row else None

    def holds(self, include_released: bool = False) -> list[Hold]:
        """Holds by when they were placed (open ones only unless `include_released`)."""
        where = "" if include_released else " WHERE h.released_at IS NULL"
        return [_hold(row) for row in self.db.execute(f"{_HOLDS}{where} ORDER BY h.placed_at")]

    def hold_record_ids(self, hold_id: str) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT record_id FROM hold_records WHERE hold_id = ?", (hold_id,))]

    def add_hold(self, tx: Transaction, hold_id: str, reason: str, criteria: dict[str, Any], placed_at: str,
                 placed_by: str, record_ids: Iterable[str]) -> None:
        tx.execute("INSERT INTO holds(hold_id, reason, query, placed_at, placed_by) VALUES (?, ?, ?, ?, ?)",
                   (hold_id, reason, json.dumps(criteria, sort_keys=True), placed_at, placed_by))
        tx.executemany("INSERT OR IGNORE INTO hold_records(hold_id, record_id) VALUES (?, ?)",
                       [(hold_id, record_id) for record_id in record_ids])

    def mark_hold_released(self, tx: Transaction, hold_id: str, at: str) -> None:
        tx.execute("UPDATE holds SET released_at = ? WHERE hold_id = ?", (at, hold_id))
