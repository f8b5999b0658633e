"""Disposition runs awaiting a records manager: the dry run's list, then the decision and outcome.

The rules (what may be approved, by whom, and that the run disposes exactly the list) are
`archiver.retention`'s; this module only stores them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from archiver.catalog.rows import Rows, Transaction


@dataclass(frozen=True)
class ApprovalRow:
    approval_id: str
    status: str  # proposed | approved | rejected | stale
    proposed_at: str
    proposed_by: str
    due: list[dict[str, Any]]
    due_sha256: str
    decided_at: str | None
    decided_by: str | None
    outcome: dict[str, Any] | None


def _approval(row: sqlite3.Row) -> ApprovalRow:
    return ApprovalRow(row["approval_id"], row["status"], row["proposed_at"], row["proposed_by"],
                       json.loads(row["due"]), row["due_sha256"], row["decided_at"], row["decided_by"],
                       json.loads(row["outcome"]) if row["outcome"] else None)


class ApprovalRows(Rows):
    def approval(self, approval_id: str) -> ApprovalRow | None:
        row = self.db.execute("SELECT * FROM disposition_approvals WHERE approval_id = ?", (approval_id,)).fetchone()
        return _approval(row) if row else None

    def approvals(self, limit: int = 50) -> list[ApprovalRow]:
        """The latest proposals first."""
        rows = self.db.execute("SELECT * FROM disposition_approvals ORDER BY proposed_at DESC, approval_id DESC"
                               " LIMIT ?", (limit,))
        return [_approval(row) for row in rows]

    def add_approval(self, tx: Transaction, approval_id: str, at: str, by: str, due: list[dict[str, Any]],
                     due_sha256: str) -> None:
        tx.execute("INSERT INTO disposition_approvals(approval_id, status, proposed_at, proposed_by, due, due_sha256)"
                   " VALUES (?, 'proposed', ?, ?, ?, ?)", (approval_id, at, by, json.dumps(due), due_sha256))

    def decide_approval(self, tx: Transaction, approval_id: str, status: str, at: str, by: str,
                        outcome: dict[str, Any] | None = None) -> bool:
        """Record the decision on a proposal still open; False if it was decided meanwhile."""
        cursor = tx.execute("UPDATE disposition_approvals SET status = ?, decided_at = ?, decided_by = ?, outcome = ?"
                            " WHERE approval_id = ? AND status = 'proposed'",
                            (status, at, by, json.dumps(outcome) if outcome is not None else None, approval_id))
        return cursor.rowcount == 1

    def set_approval_outcome(self, tx: Transaction, approval_id: str, outcome: dict[str, Any]) -> None:
        tx.execute("UPDATE disposition_approvals SET outcome = ? WHERE approval_id = ?",
                   (json.dumps(outcome), approval_id))
