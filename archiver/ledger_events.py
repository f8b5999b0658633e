"""Clerk events (legal holds, releases, redactions, dispositions) as ledger entries (DESIGN §7).

A records clerk's action changes what the public archive shows or keeps, so it is logged where
nobody can quietly take it back: as an entry in the same transparency log as the captures. Like a
capture, the entry is written to the catalog's `ledger` table (the write-ahead record) inside the
transaction of the action itself; `LedgerPublisher.publish_pending()` publishes it with the next
batch and the next checkpoint signs it.

Two doors, one entry format `{"type": kind, ...fields}` (canonical JSON):
- `append_event(tx, kind, fields)`: the hook `archiver.holds` / `archiver.disposition` call inside
  their own transaction (they write their own audit rows);
- `log_event(catalog, kind, fields, at)`: a self-contained event with its own audit row.

An entry is public and capped at 64 KiB, so it carries identifiers and digests, never content. A
list too long to fit (a hold over thousands of records) is replaced by `<name>_count` and
`<name>_sha256`, the SHA-256 of the list's canonical JSON: whoever holds the list can check it.
"""

from __future__ import annotations

from typing import Any

from archiver.canonical import canonical_json, sha256_hex
from archiver.catalog import Catalog, Transaction, append_ledger_entry
from archiver.ledger.log import entry_for_event
from archiver.ledger.tiles import MAX_ENTRY_SIZE


def event_entry(kind: str, fields: dict[str, Any]) -> bytes:
    """The ledger entry of an event; long lists become their count and digest so it fits."""
    entry = canonical_json({**fields, "type": kind})
    if len(entry) <= MAX_ENTRY_SIZE:
        return entry_for_event(kind, fields)
    digested: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, list | tuple):
            digested[f"{name}_count"] = len(value)
            digested[f"{name}_sha256"] = sha256_hex(canonical_json(list(value)))
        else:
            digested[name] = value
    return entry_for_event(kind, digested)  # still too big: SunshineError names the size


def append_event(tx: Transaction, kind: str, fields: dict[str, Any]) -> int:
    """Append an event entry to the catalog's ledger inside the caller's transaction; its index.

    `kind` names the action (`hold`, `disposition`, `redaction`, …: letters, digits, `_`, `-`;
    never `capture`, which only the archiver writes). `ValueError` for a bad kind or fields.
    """
    return append_ledger_entry(tx, event_entry(kind, fields))


def log_event(catalog: Catalog, kind: str, fields: dict[str, Any], at: str, *, actor: str = "clerk",
              conn: Transaction | None = None) -> int:
    """Append the event `{"type": kind, "at": at, **fields}` and an audit row; the ledger index.

    Pass `conn` to join the caller's catalog transaction, so the action and its entry commit
    together; otherwise the event gets a transaction of its own.
    """
    if "at" in fields and fields["at"] != at:
        raise ValueError("event fields carry 'at' that differs from the event time")
    fields = {**fields, "at": at}
    if conn is None:
        with catalog.transaction() as own:
            return _log(catalog, own, kind, fields, at, actor)
    return _log(catalog, conn, kind, fields, at, actor)


def _log(catalog: Catalog, tx: Transaction, kind: str, fields: dict[str, Any], at: str,
         actor: str) -> int:
    index = append_event(tx, kind, fields)
    details = {name: value for name, value in fields.items() if name != "at"}
    catalog.audit(tx, at, actor, f"ledger:{kind}", {**details, "ledger_index": index})
    return index
