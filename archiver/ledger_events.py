"""Clerk events (legal holds, releases, redactions, dispositions) as ledger entries (DESIGN §7).

A records clerk's action changes what the public archive shows or keeps, so it is logged where
nobody can quietly take it back: as an entry in the same transparency log as the captures. Like a
capture, the entry is written to the catalog's `ledger` table (the write-ahead record) in the same
transaction as the audit row; `LedgerPublisher.publish_pending()` publishes it with the next batch
and the next checkpoint signs it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from archiver.catalog import Catalog
from archiver.ledger.log import entry_for_event


def log_event(catalog: Catalog, kind: str, fields: dict[str, Any], at: str, *, actor: str = "clerk",
              conn: sqlite3.Connection | None = None) -> int:
    """Append the event `{"type": kind, "at": at, **fields}` to the ledger; return its index.

    `kind` names the action, e.g. `hold`, `hold_release`, `redaction`, `disposition` (letters,
    digits, `_` and `-`; never `capture`, which only the archiver writes).

    `fields` carry identifiers and digests (record ids, hold ids, reasons), never record content:
    an entry is public and capped at 64 KiB. Pass `conn` to join the caller's catalog transaction
    (the hold or disposition itself), so the action and its ledger entry commit together.
    """
    if "at" in fields and fields["at"] != at:
        raise ValueError("event fields carry 'at' that differs from the event time")
    entry = entry_for_event(kind, {**fields, "at": at})
    if conn is not None:
        return _append(catalog, conn, kind, fields, entry, at, actor)
    with catalog.transaction() as own:
        return _append(catalog, own, kind, fields, entry, at, actor)


def _append(catalog: Catalog, conn: sqlite3.Connection, kind: str, fields: dict[str, Any], entry: bytes,
            at: str, actor: str) -> int:
    # Inside the (IMMEDIATE) transaction, so no other writer can take the same index.
    row = conn.execute("SELECT MAX(idx) FROM ledger").fetchone()
    index = 0 if row[0] is None else row[0] + 1
    conn.execute("INSERT INTO ledger(idx, entry) VALUES (?, ?)", (index, entry))
    catalog.audit(conn, at, actor, f"ledger:{kind}", {**fields, "ledger_index": index})
    return index
