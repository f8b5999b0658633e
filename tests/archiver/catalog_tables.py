"""Two catalogs compared table by table: what `sunshine recover` must rebuild from the store.

Left out, each for a reason the store cannot answer: when the recovery stored its rows
(`objects.stored_at`), the last run that merely saw an unchanged record (`records.last_seen_run`),
whether the index was updated (`indexed`, `index_pending`), and run bookkeeping (start, end,
statistics). A hold's reason and criteria come back from its hold document in the store; holds placed
by the previous release have none (its ledger logged who, when and which records, not why), so
comparisons against that release's archive pass `OLD_RELEASE_SKIPPED`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

COMPARED = ("records", "versions", "objects", "ledger", "holds", "hold_records", "media", "record_media",
            "disposed", "dispositions", "counters")
SKIPPED = {"records": {"last_seen_run", "indexed"}, "objects": {"stored_at"}, "dispositions": {"index_pending"}}
OLD_RELEASE_SKIPPED = SKIPPED | {"holds": {"reason", "query"}}


def tables(path: Path, skipped: dict[str, set[str]] = SKIPPED) -> dict[str, list[tuple]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = {}
        for table in COMPARED:
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")
                       if row[1] not in skipped.get(table, set())]
            rows = db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
            found[table] = sorted(rows, key=repr)
        found["runs"] = sorted(db.execute("SELECT run_id FROM runs").fetchall())
        found["checkpoints"] = sorted(db.execute(
            "SELECT details FROM audit WHERE action = 'ledger:checkpoint'").fetchall())
        return found
    finally:
        db.close()


def differences(original: Path, recovered: Path,
                skipped: dict[str, set[str]] = SKIPPED) -> dict[str, tuple[list, list]]:
    """Per table: (rows only in the original, rows only in the recovered); empty when they agree."""
    before, after = tables(original, skipped), tables(recovered, skipped)
    out = {}
    for table in before:
        only_before = [row for row in before[table] if row not in set(after[table])]
        only_after = [row for row in after[table] if row not in set(before[table])]
        if only_before or only_after:
            out[table] = (only_before[:5], only_after[:5])
    return out
