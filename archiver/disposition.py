"""`sunshine retention run`: disposal of records whose retention period has ended.

A record is due when the retention period of its series (config: `[[retention.schedules]]`, else
a default plus per-platform / per-kind rules; `archiver.retention`) has passed since its trigger
event (its last capture, or its creation on the platform), and no open legal hold covers it. Disposal
deletes the objects only that record needs (its content blobs; a WARC file or a media blob shared
with a kept record stays). The store refuses what Object Lock still protects; such a record is
reported and kept, whole.

A disposal is on the record before anything is deleted, so a crash at any point leaves either
untouched records or a disposal the next run finishes (`run_retention` resumes pending ones first):

1. intent: one catalog transaction marks the records disposed (`disposed` rows), keeps the intent
   certificate's bytes (`dispositions` row, status `pending`) and logs a `disposition-intent` ledger
   event; then the intent certificate is written to the store;
2. deletes, record by record, in the order the intent lists them (an object already gone was
   deleted by an interrupted attempt: the intent only lists objects the catalog held);
3. the complete certificate is written to the store, then one transaction marks the disposal
   `complete`, forgets the deleted objects and logs a `disposition` ledger event.

Certificates (canonical JSON, in the store, readable without the catalog):
`dispositions/<id>.pending.json` = {"type": "disposition-certificate", "status": "pending",
"disposition_id", "started_at", "by", "rule", "records": [{"record_id", "platform", "kind",
"retention_days", "retained_until", "objects": [{"key", "version_id", "sha256", "size"}],
"versions": [{"version", "content_sha256", "captured_at", "ledger_index"}]}]};
`dispositions/<id>.json` = {"type", "status": "complete", "disposition_id", "intent" (the pending
certificate's key), "intent_sha256", "started_at", "disposed_at", "by", "completed_by", "rule",
"records": [{... as above, "deleted_objects": [keys]} without "objects"], "withdrawn":
[{"record_id", "reason"}]}. A record is withdrawn (untouched, not disposed) when the store refuses
its first delete. Certificates written before this scheme have no "status"; they are complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.canonical import canonical_json, sha256_hex
from archiver.catalog import Catalog, ObjectRow, Transaction
from archiver.clock import utc_now
from archiver.config import StorageConfig
from archiver.errors import StoreUnavailableError, SunshineError
from archiver.holds import held_record_ids
from archiver.retention import parse_time, retention_period
from archiver.store import ObjectStore
from archiver.store.capabilities import LegalHolds, RetentionLocks, remote_of
from archiver.store.keys import blob_key

CERTIFICATE_PREFIX = "dispositions/"
RULE = "retention period of the record series ended since its trigger event (last capture or creation); no legal hold"
LogEvent = Callable[[Transaction, str, dict[str, Any]], Any]


@dataclass
class DispositionReport:
    due: list[dict[str, Any]] = field(default_factory=list)
    disposed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    held: int = 0
    certificate_key: str | None = None  # the last complete certificate this run wrote
    certificates: list[str] = field(default_factory=list)  # every complete certificate, resumed ones too
    resumed: list[str] = field(default_factory=list)  # disposition ids an earlier run left pending
    interrupted: list[str] = field(default_factory=list)  # dispositions left pending, and why


def pending_key(disposition_id: str) -> str:
    return f"{CERTIFICATE_PREFIX}{disposition_id}.pending.json"


def complete_key(disposition_id: str) -> str:
    return f"{CERTIFICATE_PREFIX}{disposition_id}.json"


def due_records(catalog: Catalog, storage: StorageConfig, now: datetime) -> tuple[list[dict[str, Any]], int]:
    """Records past retention, and how many more would be but are on hold."""
    held = held_record_ids(catalog)
    due, on_hold = [], 0
    for row in catalog.retention_candidates():
        period = retention_period(storage, row.platform, row.kind)
        start = row.created_at if period.trigger == "created" and row.created_at else row.last_capture
        until = parse_time(start) + timedelta(days=period.days)
        if until > now:
            continue
        if row.record_id in held:
            on_hold += 1
            continue
        due.append({"record_id": row.record_id, "platform": row.platform, "kind": row.kind,
                    "series": period.series, "trigger": period.trigger, "retention_days": period.days,
                    "retained_until": until.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return due, on_hold


def run_retention(catalog: Catalog, store: ObjectStore, storage: StorageConfig, *, dry_run: bool,
                  actor: str, now: datetime | None = None,
                  log_event: LogEvent | None = None, only: Collection[str] | None = None) -> DispositionReport:
    """Finish any disposal an earlier run left pending, then dispose of what is due now; with
    `only`, of those due records alone (an approved dry run's list, `archiver.approvals`)."""
    now = now or datetime.now(UTC)
    report = DispositionReport()
    if not dry_run:
        for disposition_id, intent in pending_dispositions(catalog).items():
            report.resumed.append(disposition_id)
            _carry_out(catalog, store, intent, actor, log_event, report)
        if report.interrupted:  # the store is away or refusing: nothing new until those are done
            return report
    report.due, report.held = due_records(catalog, storage, now)
    if only is not None:
        wanted = set(only)
        report.due = [item for item in report.due if item["record_id"] in wanted]
    if dry_run or not report.due:
        return report
    records = _plan(catalog, store, report, now)
    if records:
        intent = _record_intent(catalog, records, actor, log_event)
        _carry_out(catalog, store, intent, actor, log_event, report)
    return report


def _plan(catalog: Catalog, store: ObjectStore, report: DispositionReport, now: datetime) -> list[dict[str, Any]]:
    """The intent's records: each with exactly the objects to delete, protected records refused."""
    versions = catalog.version_rows(item["record_id"] for item in report.due)
    references = catalog.content_references()
    records = []
    for item in report.due:
        history = versions.get(item["record_id"], [])
        # only blobs this record alone references; anything shared stays with its other records
        exclusive = sorted({blob_key(v["content_sha256"]) for v in history if references[v["content_sha256"]] == 1})
        # only objects the catalog holds, so on a rerun an object found gone is one this disposal deleted
        objects = [{"key": row["key"], "version_id": row["version_id"], "sha256": row["sha256"], "size": row["size"]}
                   for key in exclusive if (row := catalog.object(key)) is not None]
        protected = [reason for obj in objects if (reason := protection(store, obj["key"], obj["version_id"], now))]
        if protected:  # checked first, so a record is disposed of whole or not at all
            report.refused.append(f"{item['record_id']}: {protected[0]}")
            continue
        records.append({**item, "objects": objects,
                        "versions": [{"version": v["version"], "content_sha256": v["content_sha256"],
                                      "captured_at": v["captured_at"], "ledger_index": v["ledger_index"]}
                                     for v in history]})
    return records


def _record_intent(catalog: Catalog, records: list[dict[str, Any]], actor: str,
                   log_event: LogEvent | None) -> dict[str, Any]:
    """Step 1: the intent, committed in the catalog (and the ledger's write-ahead table) at once."""
    stamp = utc_now()
    disposition_id = f"{stamp.replace(':', '')}-{sha256_hex(canonical_json(records))[:12]}"
    intent = {"type": "disposition-certificate", "status": "pending", "disposition_id": disposition_id,
              "started_at": stamp, "by": actor, "rule": RULE, "records": records}
    data = canonical_json(intent)
    with catalog.transaction() as tx:
        catalog.add_disposition(tx, disposition_id, data, stamp)
        catalog.mark_disposed(tx, [record["record_id"] for record in records], stamp, pending_key(disposition_id))
        catalog.audit(tx, stamp, actor, "retention.intent",
                      {"disposition": disposition_id, "certificate": pending_key(disposition_id),
                       "records": len(records)})
        if log_event is not None:
            log_event(tx, "disposition-intent", {
                "disposition": disposition_id, "certificate": pending_key(disposition_id),
                "certificate_sha256": sha256_hex(data), "records": [r["record_id"] for r in records],
                "at": stamp, "by": actor})
    return intent


def pending_dispositions(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """Intents an interrupted run left pending, oldest first."""
    return {disposition_id: json.loads(intent) for disposition_id, intent in catalog.pending_intents().items()}


def pending_object_keys(catalog: Catalog) -> set[str]:
    """Objects a pending disposal may already have deleted (`verify` does not call them missing)."""
    return {obj["key"] for intent in pending_dispositions(catalog).values()
            for record in intent["records"] for obj in record["objects"]}


def _carry_out(catalog: Catalog, store: ObjectStore, intent: dict[str, Any], actor: str,
               log_event: LogEvent | None, report: DispositionReport) -> None:
    """Steps 1b-3 for one intent; idempotent, so a rerun after a crash anywhere finishes it."""
    disposition_id = intent["disposition_id"]
    intent_data = canonical_json(intent)
    key = complete_key(disposition_id)
    try:
        put = store.put(pending_key(disposition_id), intent_data)  # the same bytes again on a rerun
        _note_object(catalog, put.key, put.sha256, put.size, put.version_id)
        data = _stored_bytes(store, key)
        if data is None:  # not written yet, so the deletes may not all be done
            withdrawn = _delete_objects(store, intent)
            data = canonical_json(_complete(intent, intent_data, withdrawn, actor))
        # else a crash came after the complete certificate was stored: it says what was done
        put = store.put(key, data)
    except (StoreUnavailableError, _Interrupted) as exc:
        report.interrupted.append(f"disposition {disposition_id} is pending ({exc}); "
                                  "the next `sunshine retention run` finishes it")
        return
    certificate = json.loads(data)
    _finish(catalog, certificate, data, put.version_id, actor, log_event)
    report.disposed.extend(record["record_id"] for record in certificate["records"])
    report.refused.extend(f"{item['record_id']}: {item['reason']}" for item in certificate["withdrawn"])
    report.certificates.append(key)
    report.certificate_key = key


class _Interrupted(Exception):
    """A delete was refused after part of a record was deleted: the disposal stays pending."""


def _stored_bytes(store: ObjectStore, key: str) -> bytes | None:
    try:
        return store.get(key)
    except KeyError:
        return None


def _delete_objects(store: ObjectStore, intent: dict[str, Any]) -> dict[str, str]:
    """Step 2: delete what the intent lists; the records withdrawn (refused untouched) and why.

    Deletes go in the intent's order, so a record whose first object is still there has lost none:
    if the store refuses that one, the record is withdrawn whole. A refusal later in a record (only
    if a lock appeared since the intent) leaves the disposal pending rather than half-certified.
    """
    withdrawn: dict[str, str] = {}
    for record in intent["records"]:
        for position, obj in enumerate(record["objects"]):
            try:
                store.delete(obj["key"], version_id=obj["version_id"])
            except KeyError:
                continue  # deleted by an interrupted attempt of this disposal
            except StoreUnavailableError:
                raise
            except SunshineError as exc:
                if position == 0:
                    withdrawn[record["record_id"]] = str(exc)
                    break
                raise _Interrupted(f"record {record['record_id']}: {obj['key']} refused after "
                                   f"{position} of its objects were deleted: {exc}") from exc
    return withdrawn


def _complete(intent: dict[str, Any], intent_data: bytes, withdrawn: dict[str, str], actor: str) -> dict[str, Any]:
    """The complete certificate: the intent's records less the withdrawn, naming what was deleted."""
    records = [{**{name: value for name, value in record.items() if name != "objects"},
                "deleted_objects": [obj["key"] for obj in record["objects"]]}
               for record in intent["records"] if record["record_id"] not in withdrawn]
    return {"type": "disposition-certificate", "status": "complete", "disposition_id": intent["disposition_id"],
            "intent": pending_key(intent["disposition_id"]), "intent_sha256": sha256_hex(intent_data),
            "started_at": intent["started_at"], "disposed_at": utc_now(), "by": intent["by"],
            "completed_by": actor, "rule": intent["rule"], "records": records,
            "withdrawn": [{"record_id": record_id, "reason": reason} for record_id, reason in withdrawn.items()]}


def _note_object(catalog: Catalog, key: str, sha256: str, size: int, version_id: str | None) -> None:
    with catalog.transaction() as tx:
        catalog.add_objects(tx, [ObjectRow(key, sha256, size, version_id, "disposition", utc_now())])


def _finish(catalog: Catalog, certificate: dict[str, Any], data: bytes, version_id: str | None, actor: str,
            log_event: LogEvent | None) -> None:
    """Step 3: the catalog learns the disposal is complete, in one transaction with its ledger event."""
    disposition_id, stamp = certificate["disposition_id"], certificate["disposed_at"]
    key = complete_key(disposition_id)
    disposed = [record["record_id"] for record in certificate["records"]]
    withdrawn = [item["record_id"] for item in certificate["withdrawn"]]
    with catalog.transaction() as tx:
        catalog.add_objects(tx, [ObjectRow(key, sha256_hex(data), len(data), version_id, "disposition", stamp)])
        catalog.complete_disposition(tx, disposition_id, key, stamp, disposed, withdrawn)
        catalog.forget_objects(tx, [deleted for record in certificate["records"] for deleted in record["deleted_objects"]])
        catalog.audit(tx, stamp, actor, "retention.dispose",
                      {"certificate": key, "records": len(disposed), "refused": len(withdrawn)})
        if log_event is not None:
            log_event(tx, "disposition", {"disposition": disposition_id, "certificate": key,
                                            "certificate_sha256": sha256_hex(data), "records": disposed,
                                            "withdrawn": withdrawn, "at": stamp, "by": certificate["by"]})


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


def awaiting_index_removal(catalog: Catalog) -> dict[str, list[str]]:
    """Complete disposals whose records the search index may still hold: id -> record ids.

    The index is the edge's (the command line removes them); a disposal stays listed here until
    `index_removed` says the index let them go, so an index outage only delays it to the next run.
    """
    return catalog.awaiting_index_removal()


def index_removed(catalog: Catalog, disposition_ids: list[str]) -> None:
    catalog.mark_index_removed(disposition_ids)


def disposed_ids_from_store(store: ObjectStore) -> set[str]:
    """Records disposed according to the certificates in the store (so `reindex` leaves them out).

    A pending certificate counts until its complete twin says otherwise (withdrawn records): its
    records may already be partly deleted, and the next retention run finishes them.
    """
    complete: dict[str, set[str]] = {}
    pending: dict[str, set[str]] = {}
    for item in store.list(CERTIFICATE_PREFIX):
        certificate = json.loads(store.get(item.key))
        ids = {entry["record_id"] for entry in certificate.get("records", [])}
        key = certificate.get("disposition_id", item.key)
        (pending if certificate.get("status") == "pending" else complete)[key] = ids
    return set().union(*{**pending, **complete}.values())
