"""The audit trail: who did what when (clerk actions, ledger events, signed checkpoints)."""

from __future__ import annotations

import json
from typing import Any

from archiver.catalog.rows import Rows, Transaction


def _details(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True)


class AuditRows(Rows):
    def audit(self, tx: Transaction, at: str, actor: str, action: str, details: dict[str, Any]) -> None:
        tx.execute("INSERT INTO audit(at, actor, action, details) VALUES (?, ?, ?, ?)",
                   (at, actor, action, _details(details)))

    def audit_once(self, tx: Transaction, at: str, actor: str, action: str, details: dict[str, Any]) -> bool:
        """An audit row unless one with the same action and details exists; whether it was added."""
        if tx.execute("SELECT 1 FROM audit WHERE action = ? AND details = ?",
                      (action, _details(details))).fetchone():
            return False
        self.audit(tx, at, actor, action, details)
        return True

    def audit_details(self, action: str) -> list[dict[str, Any]]:
        """The details of every audit row of `action`, oldest first."""
        return [json.loads(row[0]) for row in
                self.db.execute("SELECT details FROM audit WHERE action = ? ORDER BY id", (action,))]
