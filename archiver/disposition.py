"""`sunshine retention run`: disposal of records whose retention period has ended.

A record is due when the retention period of its series (config: a default plus per-platform /
per-kind rules) has passed since its last capture, and no open legal hold covers it. Disposal
deletes the objects only that record needs (its content blobs; a WARC file or a media blob shared
with a kept record stays), and writes a **disposition certificate** into the archive: what was
disposed, when, under which rule, and the hashes it had — so the disposal itself is on the record.
The store refuses what Object Lock still protects; such a record is reported and kept, whole.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.canonical import canonical_json, sha256_hex
from archiver.catalog import Catalog
from archiver.clock import utc_now
from archiver.config import StorageConfig
from archiver.errors import SunshineError
from archiver.holds import held_record_ids
from archiver.retention import retention_days
from archiver.store import ObjectStore
from archiver.store.capabilities import LegalHolds, RetentionLocks, remote_of
from archiver.store.keys import blob_key

CERTIFICATE_PREFIX = "dispositions/"


@dataclass
class DispositionReport:
    due: list[dict[str, Any]] = field(default_factory=list)
    disposed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    held: int = 0
    certificate_key: str | None = None


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def due_records(catalog: Catalog, storage: StorageConfig, now: datetime) -> tuple[list[dict[str, Any]], int]:
    """Records past retention, and how many more would be but are on hold."""
    held = held_record_ids(catalog)
    due, on_hold = [], 0
    rows = catalog.db.execute(
        "SELECT r.record_id, r.platform, r.kind, MAX(v.captured_at) AS last_capture FROM records r"
        " JOIN versions v USING (record_id) WHERE r.record_id NOT IN (SELECT record_id FROM disposed)"
        " GROUP BY r.record_id ORDER BY r.record_id"
    )
    for row in rows:
        days = retention_days(storage, row["platform"], row["kind"])
        until = _parse(row["last_capture"]) + timedelta(days=days)
        if until > now:
            continue
        if row["record_id"] in held:
            on_hold += 1
            continue
        due.append({"record_id": row["record_id"], "platform": row["platform"], "kind": row["kind"],
                    "retention_days": days, "retained_until": until.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return due, on_hold


def run_retention(catalog: Catalog, store: ObjectStore, storage: StorageConfig, *, dry_run: bool,
                  actor: str, now: datetime | None = None,
                  log_event: Callable[..., Any] | None = None) -> DispositionReport:
    now = now or datetime.now(UTC)
    report = DispositionReport()
    report.due, report.held = due_records(catalog, storage, now)
    if dry_run or not report.due:
        return report
    versions = catalog.version_rows(item["record_id"] for item in report.due)
    references = Counter(blob_key(row[0]) for row in catalog.db.execute("SELECT content_sha256 FROM versions"))
    entries = []
    for item in report.due:
        history = versions.get(item["record_id"], [])
        # only blobs this record alone references; anything shared stays with its other records
        exclusive = sorted({blob_key(v["content_sha256"]) for v in history
                            if references[blob_key(v["content_sha256"])] == 1})
        targets = [(key, (catalog.object(key) or {"version_id": None})["version_id"]) for key in exclusive]
        protected = [reason for key, version_id in targets if (reason := protection(store, key, version_id, now))]
        if protected:  # checked first, so a record is disposed of whole or not at all
            report.refused.append(f"{item['record_id']}: {protected[0]}")
            continue
        try:
            for key, version_id in targets:
                with suppress(KeyError):  # already gone: nothing to dispose of
                    store.delete(key, version_id=version_id)
        except SunshineError as exc:
            report.refused.append(f"{item['record_id']}: {exc}")
            continue
        report.disposed.append(item["record_id"])
        entries.append({**item, "deleted_objects": exclusive,
                        "versions": [{"version": v["version"], "content_sha256": v["content_sha256"],
                                      "captured_at": v["captured_at"], "ledger_index": v["ledger_index"]}
                                     for v in history]})
    if entries:
        _certify(catalog, store, report, entries, actor, log_event)
    return report


def protection(store: ObjectStore, key: str, version_id: str | None, now: datetime) -> str | None:
    """Why the store would refuse to delete this object now (Object Lock retention, legal hold)."""
    lockable = remote_of(store)
    if not isinstance(lockable, RetentionLocks) or not isinstance(lockable, LegalHolds):
        return None
    try:
        mode, until = lockable.retention(key, version_id)
        if until is not None and until > now:
            return f"object {key} is under {mode} retention until {until:%Y-%m-%dT%H:%M:%SZ}; not deleted"
        if lockable.legal_hold(key, version_id):
            return f"object {key} is under an S3 legal hold; not deleted"
    except KeyError:
        return None
    return None


def _certify(catalog: Catalog, store: ObjectStore, report: DispositionReport, entries: list[dict[str, Any]],
             actor: str, log_event: Callable[..., Any] | None) -> None:
    stamp = utc_now()
    certificate = {"type": "disposition-certificate", "disposed_at": stamp, "by": actor,
                   "rule": "retention period of the record series ended since its last capture; no legal hold",
                   "records": entries}
    data = canonical_json(certificate)
    key = f"{CERTIFICATE_PREFIX}{stamp.replace(':', '')}-{sha256_hex(data)[:12]}.json"
    result = store.put(key, data)
    report.certificate_key = key
    with catalog.transaction() as conn:
        conn.execute("INSERT OR IGNORE INTO objects(key, sha256, size, version_id, kind, stored_at)"
                     " VALUES (?, ?, ?, ?, 'disposition', ?)", (key, result.sha256, result.size, result.version_id, stamp))
        conn.executemany("INSERT OR REPLACE INTO disposed(record_id, disposed_at, certificate) VALUES (?, ?, ?)",
                         [(entry["record_id"], stamp, key) for entry in entries])
        conn.executemany("DELETE FROM objects WHERE key = ?",
                         [(deleted,) for entry in entries for deleted in entry["deleted_objects"]])
        catalog.audit(conn, stamp, actor, "retention.dispose",
                      {"certificate": key, "records": len(entries), "refused": len(report.refused)})
        if log_event is not None:
            log_event(conn, "disposition", {"certificate": key, "certificate_sha256": sha256_hex(data),
                                            "records": [entry["record_id"] for entry in entries], "at": stamp,
                                            "by": actor})


def disposed_ids_from_store(store: ObjectStore) -> set[str]:
    """Records disposed according to the certificates in the store (so `reindex` leaves them out)."""
    disposed: set[str] = set()
    for item in store.list(CERTIFICATE_PREFIX):
        certificate = json.loads(store.get(item.key))
        disposed |= {entry["record_id"] for entry in certificate.get("records", [])}
    return disposed
