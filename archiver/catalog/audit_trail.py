"""Reading the audit trail back, filtered (the clerk pages' audit view); rows are written by `audit`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from archiver.catalog.rows import Rows


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    details: dict[str, Any]


class AuditTrailRows(Rows):
    def audit_trail(self, *, actor: str | None = None, action: str | None = None, date_from: str | None = None,
                    date_to: str | None = None, text: str | None = None, before_id: int | None = None,
                    limit: int = 100) -> list[AuditEntry]:
        """Audit rows newest first. `action` matches a prefix ("hold" finds hold.place and
        hold.release); dates are YYYY-MM-DD, inclusive; `text` is a substring of the details;
        `before_id` pages back from an earlier page's last row."""
        where, params = [], []
        if actor:
            where.append("actor = ?")
            params.append(actor)
        if action:
            where.append("action LIKE ? ESCAPE '\\'")
            params.append(_like_prefix(action))
        if date_from:
            where.append("at >= ?")
            params.append(date_from)
        if date_to:
            where.append("at < ?")
            params.append(date_to + "\uffff")  # the whole day: every timestamp starting with the date
        if text:
            where.append("instr(details, ?) > 0")
            params.append(text)
        if before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.execute(f"SELECT id, at, actor, action, details FROM audit{clause} ORDER BY id DESC LIMIT ?",
                               (*params, limit))
        return [AuditEntry(row[0], row[1], row[2], row[3], json.loads(row[4])) for row in rows]

    def audit_actions(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT DISTINCT action FROM audit ORDER BY action")]


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
