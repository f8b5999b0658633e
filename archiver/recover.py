"""`sunshine recover`: rebuild the catalog from the object store alone (DESIGN §1, §3).

The store is the system of record; the catalog is a private, rebuildable index of it. After the
archiver's disk is lost, everything the catalog needs is read back from the store:

- the ledger from its entry bundles (every published entry, `published = 1`) and its kept
  checkpoints (the audit rows `verify` compares them with);
- versions and records from the manifests. A manifest version counts only if the ledger holds its
  capture entry, byte for byte: a batch that crashed before its commit, or a manifest written again
  after a clerk event moved the ledger (see `archiver.session`), left versions the ledger does not
  hold, or holds elsewhere. Each version's ledger index is where the ledger holds its entry;
- objects from a listing of the store (ledger objects aside): a content blob's sha256 is its key
  (`verify` re-hashes it against that), anything else is hashed now; on S3 each key's version id;
- holds and releases from the ledger's clerk events and the hold documents they name; the audit trail
  from the clerk events;
- redactions and every revision of them from the redaction documents the ledger's `redaction`
  events name (`archiver.redaction`); one missing or altered stops the recovery, since without it
  the public would see what was redacted;
- disposals from the certificates under `dispositions/` (a pending one stays pending, so the next
  `retention run` finishes it);
- crawl state: each record's latest version and hash, its source (from the manifest's key) and the
  WARC numbering, so the next `archive` adds no version for an unchanged record.

A hold's reason and criteria come from its hold document (`holds/`, bound to the ledger event by
its SHA-256). What only the lost catalog knew is named in the report: failed captures, run
statistics, and the reason of a hold placed before hold documents existed (its ledger event says
who, when and which records, not why).

The catalog is built beside the configured path and renamed into place only when complete, so an
interrupted recovery never leaves a half catalog that a run would trust.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from archiver.canonical import canonical_json, sha256_hex
from archiver.catalog import Catalog, ObjectRow, RecordRow, Transaction, VersionRow
from archiver.clock import utc_now
from archiver.config import Config
from archiver.disposition import CERTIFICATE_PREFIX
from archiver.errors import SunshineError
from archiver.holds import HOLD_PREFIX
from archiver.ledger.log import CHECKPOINTS_PREFIX
from archiver.ledger.reader import LogReader
from archiver.ledger.timestamp import parse_timestamp_key
from archiver.ledger_check import note_checkpoint
from archiver.ledger_timestamps import TIMESTAMP_ACTION
from archiver.manifests import capture_entries, published_entries, read_manifests
from archiver.model import Version, WarcRef
from archiver.readmodel import RECORD_FIELDS
from archiver.requests import restore_requests
from archiver.run_status import STATUS_PREFIX
from archiver.store import ObjectStore, StoredObject
from archiver.store.capabilities import ObjectVersions, remote_of
from archiver.store.keys import LEDGER_PREFIX
from archiver.store.rehash import rehash_items

_BLOB_KEY = re.compile(r"^blobs/sha256/[0-9a-f]{2}/([0-9a-f]{64})$")
_RUN_ID = re.compile(r"^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)\d*Z-")
# Record columns a later version does not change (the session's upsert leaves them as first captured).
_FIRST_SEEN = ("platform", "account", "kind", "native_id", "author_is_department", "created_at", "thread_id")


@dataclass
class RecoverReport:
    records: int = 0
    versions: int = 0
    objects: int = 0
    ledger_entries: int = 0
    holds: int = 0
    holds_released: int = 0
    requests: int = 0
    redaction_changes: int = 0
    dispositions: int = 0
    disposed_records: int = 0
    checkpoints: int = 0
    runs: int = 0
    versions_not_in_ledger: int = 0  # manifest lines of batches that never committed
    moved_aside: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Found:
    """What the store says, gathered before anything is written."""

    captures: dict[tuple[str, int], tuple[int, bytes]] = field(default_factory=dict)
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    entries: list[bytes] = field(default_factory=list)
    versions: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    media: dict[str, tuple[str, str]] = field(default_factory=dict)
    record_media: set[tuple[str, str]] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)  # runs with a committed batch (an empty one too)
    warc_seq: int = -1


def recover_catalog(config: Config, store: ObjectStore, *, force: bool = False,
                    progress: Callable[[int], None] | None = None) -> RecoverReport:
    """Rebuild `config.catalog_path` from `store`; an existing catalog only with `force` (moved aside)."""
    target = Path(config.catalog_path)
    if target.exists() and not force:
        raise SunshineError(f"catalog {target} exists; `sunshine recover` rebuilds a lost catalog. To replace "
                            "this one, pass --force (it is moved aside, not deleted)")
    advance = progress or (lambda n: None)
    report = RecoverReport()
    found = _Found()
    _read_ledger(store, found, report)
    _read_manifests(store, found, report, advance)
    building = target.with_name(target.name + ".recovering")
    _remove_with_journal(building)
    with Catalog(building) as catalog:
        with catalog.transaction() as tx:
            catalog.add_ledger_entries(tx, enumerate(found.entries), published=True)
            _write_versions(catalog, tx, found, report)
            _write_objects(catalog, tx, store, report, advance)
            _write_holds(catalog, tx, store, found, report)
            report.requests, warnings = restore_requests(catalog, tx, store, found.events)
            report.warnings.extend(warnings)
            _write_redactions(catalog, tx, store, found, report)
            _write_dispositions(catalog, tx, store, report)
            _write_audit(catalog, tx, found)
            if found.warc_seq >= 0:
                catalog.set_counter(tx, "warc", found.warc_seq)
        report.checkpoints = _note_checkpoints(catalog, store)
        with catalog.transaction() as tx:
            catalog.audit(tx, utc_now(), "archiver", "catalog.recover",
                          {name: value for name, value in report.__dict__.items()
                           if name not in ("warnings", "moved_aside")})
    if target.exists():
        report.moved_aside = str(target.with_name(f"{target.name}.replaced-{utc_now().replace(':', '')}"))
        _move(target, Path(report.moved_aside))  # with its WAL: it may hold commits
    _move(building, target)
    return report


# ------------------------------------------------------------------------------------------ ledger

def _read_ledger(store: ObjectStore, found: _Found, report: RecoverReport) -> None:
    """Every published entry, in order: captures by (record, version), clerk events as they are."""
    found.entries = published_entries(store)
    found.captures = capture_entries(found.entries)
    for index, entry in enumerate(found.entries):
        fields = json.loads(entry)
        if fields.get("type") != "capture":
            found.events.append((index, fields))
    report.ledger_entries = len(found.entries)


# --------------------------------------------------------------------------------------- manifests

def _read_manifests(store: ObjectStore, found: _Found, report: RecoverReport,
                    advance: Callable[[int], None]) -> None:
    """The versions the ledger holds (`archiver.manifests`), each once (a manifest written again
    names the same capture twice), with the runs and media of the batches that committed."""
    for manifest in read_manifests(store, found.captures):
        batch = manifest.batch
        if batch is None:
            report.warnings.append(f"{manifest.key}: not a manifest key; left out")
            continue
        found.warc_seq = max(found.warc_seq, int(batch["seq"]))
        report.versions_not_in_ledger += manifest.not_logged
        for counted in manifest.versions:
            key = (counted.record["record_id"], counted.version["version"])
            if key not in found.versions:
                found.versions[key] = {"record": counted.record, "version": counted.version,
                                       "ledger_index": counted.ledger_index, "run_id": batch["run"],
                                       "source": batch["source"]}
                found.record_media |= {(key[0], item["url"]) for item in counted.record.get("media") or []}
        if manifest.committed:
            found.runs.add(batch["run"])
            found.media.update(manifest.media)
        advance(1)


def _write_versions(catalog: Catalog, tx: Transaction, found: _Found, report: RecoverReport) -> None:
    history: dict[str, list[dict[str, Any]]] = {}
    rows = []
    for (record_id, _number), item in sorted(found.versions.items()):
        history.setdefault(record_id, []).append(item)
        version, ref = item["version"], item["version"]["warc_ref"]
        rows.append(VersionRow(Version(record_id, version["version"], version["captured_at"], version["status"],
                                       version["content_sha256"], WarcRef(ref["key"], ref["offset"], ref["length"]),
                                       item["ledger_index"], version.get("store_version_id")),
                               version["text"], item["run_id"]))
    catalog.add_versions(tx, rows)
    catalog.restore_records(tx, [_record_row(record_id, items) for record_id, items in history.items()])
    catalog.set_media(tx, dict(sorted(found.media.items())))
    catalog.link_media(tx, sorted(found.record_media))
    runs = sorted(found.runs)
    catalog.restore_runs(tx, [(run_id, _run_started(run_id)) for run_id in runs])
    report.records, report.versions, report.runs = len(history), len(found.versions), len(runs)


def _record_row(record_id: str, items: list[dict[str, Any]]) -> RecordRow:
    """A record's row from its versions in the manifests, as the session would have left it."""
    first, latest = items[0], items[-1]
    fields = {name: latest["record"].get(name) for name in RECORD_FIELDS}
    fields |= {name: first["record"][name] for name in _FIRST_SEEN}
    return RecordRow(
        record_id=record_id, source=first["source"], platform=fields["platform"], account=fields["account"],
        kind=fields["kind"], native_id=fields["native_id"], url=fields["url"], author=fields["author"],
        author_is_department=bool(fields["author_is_department"]), created_at=fields["created_at"],
        text=fields["text"], parent_id=fields["parent_id"], thread_id=fields["thread_id"],
        media=_media(latest["record"]), status=latest["version"]["status"],
        latest_version=latest["version"]["version"], latest_sha256=latest["version"]["content_sha256"],
        last_seen_run=latest["run_id"])


def _media(record: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """A record's media as the session keeps them (manifests sort the keys; the column does not)."""
    return tuple({"url": item["url"], "mime": item.get("mime")} for item in record.get("media") or [])


def _run_started(run_id: str) -> str:
    match = _RUN_ID.match(run_id)
    if match is None:
        return utc_now()
    year, month, day, hour, minute, second = match.groups()
    return f"{year}-{month}-{day}T{hour}:{minute}:{second}Z"


# ----------------------------------------------------------------------------------------- objects

def _write_objects(catalog: Catalog, tx: Transaction, store: ObjectStore, report: RecoverReport, advance: Callable[[int], None]) -> None:
    """Every object but the ledger's and the run status (replaced each run), with its hash, size and
    (on S3) version id."""
    listed = [item for item in store.list() if not item.key.startswith((LEDGER_PREFIX, STATUS_PREFIX))]
    versioned = _version_ids(remote_of(store), listed)
    now = utc_now()
    rows = []
    to_hash = []
    for item in listed:
        blob = _BLOB_KEY.match(item.key)
        if blob is not None:
            rows.append(ObjectRow(item.key, blob[1], item.size, versioned.get(item.key), "blob", now))
            advance(1)
        else:
            to_hash.append(item)
    for done in rehash_items(store, to_hash, lambda item: (item.key, versioned.get(item.key)), workers=8):
        if done.sha256 is None:
            report.warnings.append(f"{done.item.key}: listed but could not be read "
                                   f"({done.error or 'gone'}); left out")
        else:
            rows.append(ObjectRow(done.item.key, done.sha256, done.size, versioned.get(done.item.key),
                                  _kind(done.item.key), now))
        advance(1)
    catalog.add_objects(tx, rows)
    report.objects = len(rows)


def _kind(key: str) -> str:
    """The catalog's kind of an object, as the writers name it."""
    prefix = key.split("/", 1)[0]
    if key.startswith(CERTIFICATE_PREFIX):
        return "disposition"
    return "hold" if key.startswith(HOLD_PREFIX) else prefix


def _version_ids(store: ObjectStore, listed: list[StoredObject]) -> dict[str, str | None]:
    """Each key's store version id: the first version written (nothing here is written twice)."""
    if not isinstance(store, ObjectVersions):
        return {}

    def oldest(item: StoredObject) -> tuple[str, str | None]:
        versions = store.versions(item.key)
        return item.key, versions[-1].version_id if versions else None

    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="recover-versions") as pool:
        return dict(pool.map(oldest, listed))


# ------------------------------------------------------------------------------- holds and audit

def _write_holds(catalog: Catalog, tx: Transaction, store: ObjectStore, found: _Found, report: RecoverReport) -> None:
    for index, event in found.events:
        if event.get("type") != "hold":
            continue
        document = _hold_document(store, event, report)
        if event.get("action") == "place":
            if document is not None:
                records, reason, query = document["records"], document["reason"], document["criteria"]
            else:
                records = event.get("records")
                reason = (f"recovered from ledger entry {index}; the reason and criteria were only in the lost "
                          "catalog")
                query = {"recovered_from_ledger_index": index}
                if records is None:
                    records, reason = _digested_hold(catalog.first_captured_by(tx, event["at"]), event, reason,
                                                     report)
            catalog.add_hold(tx, event["hold_id"], reason, query, event["at"], event.get("by", "unknown"), records)
            report.holds += 1
        elif event.get("action") == "release":
            catalog.mark_hold_released(tx, event["hold_id"], event["at"])
            report.holds_released += 1


def _write_redactions(catalog: Catalog, tx: Transaction, store: ObjectStore, found: _Found,
                      report: RecoverReport) -> None:
    """Redactions and their revisions, from the redaction documents the ledger's events name
    (`archiver.redaction`); a missing or altered one stops the recovery, naming it."""
    from archiver.redaction import Redaction, RedactionChange, document_key, redactions_from_store

    _active, documents = redactions_from_store(store, found.entries)
    for index, document in documents:
        redaction = Redaction(**document["redaction"])
        if document["action"] == "add":
            catalog.add_redaction(tx, replace(redaction, removed_at=None, removed_by=None))
        else:
            catalog.mark_redaction_removed(tx, redaction.redaction_id, document["at"], document["by"])
        catalog.add_redaction_change(tx, RedactionChange(
            document["record_id"], document["revision"], document["action"], redaction.redaction_id,
            redaction.scope, redaction.basis, document["at"], document["by"],
            document_key(document["record_id"], document["revision"]), index))
        report.redaction_changes += 1


def _hold_document(store: ObjectStore, event: dict[str, Any], report: RecoverReport) -> dict[str, Any] | None:
    """The hold document the ledger event names, if it is in the store with the logged hash.

    Older holds have none (the event then speaks for itself); a missing or altered one is reported
    and the event is used instead, so a damaged document can never widen or narrow a hold unseen.
    """
    key = event.get("document")
    if not key:
        return None
    try:
        data = store.get(key)
    except KeyError:
        report.warnings.append(f"hold {event['hold_id']}: its document {key} is missing from the store")
        return None
    if sha256_hex(data) != event.get("document_sha256"):
        report.warnings.append(f"hold {event['hold_id']}: its document {key} does not match the ledger's hash")
        return None
    return json.loads(data)


def _digested_hold(candidates: list[str], event: dict[str, Any], note: str,
                   report: RecoverReport) -> tuple[list[str], str]:
    """A hold too large for its ledger entry names only its records' count and digest.

    Every record archived when it was placed is a candidate (`candidates`, sorted); if they are exactly its records (same
    count and digest) the hold is rebuilt as it was, otherwise it holds them all: a hold may hold
    too much after a recovery, never too little. The report says which.
    """
    exact = (len(candidates) == event.get("records_count")
             and sha256_hex(canonical_json(candidates)) == event.get("records_sha256"))
    if not exact:
        report.warnings.append(
            f"hold {event['hold_id']}: its ledger entry names {event.get('records_count')} records by digest "
            f"only; it now holds all {len(candidates)} records archived by {event['at']} (release it and "
            "place it again with its original criteria)")
        note += f"; holds every record archived by {event['at']}, a superset of its {event.get('records_count')}"
    return candidates, note


def _write_audit(catalog: Catalog, tx: Transaction, found: _Found) -> None:
    """The clerk events, as the audit trail's `ledger:<kind>` rows with their ledger index."""
    for index, event in found.events:
        details = {name: value for name, value in event.items() if name not in ("type", "at", "by")}
        catalog.audit(tx, event.get("at", ""), event.get("by", "unknown"), f"ledger:{event.get('type')}",
                      {**details, "ledger_index": index, "recovered": True})


def _note_checkpoints(catalog: Catalog, store: ObjectStore) -> int:
    """Every kept checkpoint and time-stamp token into the audit trail, so `verify` notices if one
    disappears or is swapped later (tokens are checked against their TSA by `verify` itself)."""
    reader = LogReader(store)
    count = 0
    for item in store.list(CHECKPOINTS_PREFIX):
        tail = item.key[len(CHECKPOINTS_PREFIX):]
        if parse_timestamp_key(item.key) is not None:
            with catalog.transaction() as tx:
                catalog.audit_once(tx, utc_now(), "archiver", TIMESTAMP_ACTION,
                                   {"key": item.key, "sha256": sha256_hex(store.get(item.key))})
            continue
        text = reader.read_kept_checkpoint(int(tail)) if tail.isdigit() else None
        if text is not None:
            note_checkpoint(catalog, text, utc_now())
            count += 1
    return count


# ------------------------------------------------------------------------------------ dispositions

def _write_dispositions(catalog: Catalog, tx: Transaction, store: ObjectStore, report: RecoverReport) -> None:
    """Disposals from their certificates; one left pending stays pending, for `retention run`."""
    pending: dict[str, tuple[str, bytes, dict[str, Any]]] = {}
    complete: dict[str, tuple[str, dict[str, Any]]] = {}
    for item in store.list(CERTIFICATE_PREFIX):
        data = store.get(item.key)
        certificate = json.loads(data)
        name = certificate.get("disposition_id") or item.key
        if certificate.get("status") == "pending":
            pending[name] = (item.key, data, certificate)
        else:  # "complete", or a certificate from before pending ones (no status)
            complete[name] = (item.key, certificate)
    for name, (key, certificate) in complete.items():
        stamp = certificate.get("disposed_at", "")
        ids = [entry["record_id"] for entry in certificate.get("records", [])]
        catalog.mark_disposed(tx, ids, stamp, key)
        if name in pending:  # index_pending: whether the search index let them go died with the catalog
            catalog.add_disposition(tx, name, pending[name][1], certificate.get("started_at", stamp),
                                    certificate=key, completed_at=stamp)
        report.dispositions += 1
        report.disposed_records += len(ids)
    for name, (key, data, intent) in pending.items():
        if name in complete:
            continue
        ids = [entry["record_id"] for entry in intent.get("records", [])]
        catalog.mark_disposed(tx, ids, intent["started_at"], key)
        catalog.add_disposition(tx, name, data, intent["started_at"])
        report.dispositions += 1
        report.disposed_records += len(ids)
        report.warnings.append(f"disposition {name} was interrupted; `sunshine retention run` finishes it")


# ------------------------------------------------------------------------------------------- files

def _journal(path: Path) -> Iterator[Path]:
    yield path
    for suffix in ("-wal", "-shm"):
        yield path.with_name(path.name + suffix)


def _remove_with_journal(path: Path) -> None:
    for part in _journal(path):
        part.unlink(missing_ok=True)


def _move(source: Path, target: Path) -> None:
    """Rename a catalog together with its journal files (the main file last, as SQLite reads it first)."""
    for part, moved in reversed(list(zip(_journal(source), _journal(target), strict=True))):
        if part.exists():
            os.replace(part, moved)
