"""Legal holds: records a clerk must keep whatever their retention says (`sunshine hold ...`).

A hold names its records explicitly (resolved when it is placed, and recorded), so what a hold
covers never changes silently when the index or the platform changes. Holding a post holds its
whole thread by default: a records request for a post is a request for the conversation. Every
object behind a held record (each version's content blob, the WARC files of its captures, its
media) gets an S3 legal hold when the store supports one; the catalog and an audit row record the
hold, and the ledger logs the event so it can be proven later.

Each placement and release is also a **hold document** in the store (`holds/<id>.place.json`,
`holds/<id>.release.json`: canonical JSON with the reason, criteria, who, when and every record id),
written before the catalog commits and bound to the ledger event by its SHA-256. The store is the
system of record: `sunshine recover` rebuilds a lost catalog's holds, reasons and criteria included,
from these documents (the ledger event alone may carry only a digest of a long record list).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from archiver.canonical import canonical_json, sha256_hex
from archiver.catalog import Catalog, Hold, ObjectRow
from archiver.clock import utc_now
from archiver.errors import SunshineError
from archiver.store import ObjectStore, PutResult
from archiver.store.capabilities import LegalHolds, remote_of
from archiver.store.keys import blob_key


@dataclass(frozen=True)
class HoldCriteria:
    """Which records a hold covers; at least one criterion is required."""

    record_ids: tuple[str, ...] = ()
    text: str | None = None
    platform: str | None = None
    account: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    with_threads: bool = True

    def as_json(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value not in (None, ())}

    def is_empty(self) -> bool:
        return not (self.record_ids or self.text or self.platform or self.account or self.date_from
                    or self.date_to)


# Resolves a hold's text to the records the search index matches (wired in `archiver.cli.wiring`).
TextMatcher = Callable[["HoldCriteria"], set[str]]


def select_records(catalog: Catalog, criteria: HoldCriteria, text_matches: TextMatcher | None = None) -> list[str]:
    """Resolve criteria to record ids: filters on the catalog, text through the search index."""
    if criteria.is_empty():
        raise SunshineError("a hold needs at least one of --record, --q, --platform, --account, --from, --to")
    filtered = bool(criteria.platform or criteria.account or criteria.date_from or criteria.date_to)
    found: set[str] = set()
    if criteria.record_ids:
        known = {row["record_id"] for row in catalog.record_rows(criteria.record_ids)}
        missing = sorted(set(criteria.record_ids) - known)
        if missing:
            raise SunshineError(f"no such record(s) in the archive: {', '.join(missing[:10])}")
        found |= known
    if criteria.text or filtered:
        matches = catalog.record_ids_matching(platform=criteria.platform, account=criteria.account,
                                              date_from=criteria.date_from, date_to=criteria.date_to)
        if criteria.text:
            if text_matches is None:
                raise SunshineError("a text criterion needs the search index")
            matches &= text_matches(criteria)
        found |= matches
    if criteria.with_threads and found:
        found |= catalog.record_ids_in_threads({row["thread_id"] for row in catalog.record_rows(found)})
    return sorted(found)


def objects_of(catalog: Catalog, record_ids: Iterable[str]) -> dict[str, str | None]:
    """Every stored object behind these records (key -> store version id)."""
    keys: set[str] = set()
    ids = list(record_ids)
    for versions in catalog.version_rows(ids).values():
        for row in versions:
            keys.add(blob_key(row["content_sha256"]))
            keys.add(row["warc_key"])
    keys |= {blob_key(sha256) for sha256 in catalog.media_sha256_of(ids)}
    result: dict[str, str | None] = {}
    for key in sorted(keys):
        row = catalog.object(key)
        if row is not None:
            result[key] = row["version_id"]
    return result


HOLD_PREFIX = "holds/"


def hold_document_key(hold_id: str, action: str) -> str:
    return f"{HOLD_PREFIX}{hold_id}.{action}.json"


def _put_hold_document(store: ObjectStore, document: dict[str, Any]) -> tuple[str, str, Any]:
    """Store a hold document before the catalog commits: (key, sha256, put result).

    A crash after the put leaves a document no ledger event names; recovery ignores such orphans.
    """
    data = canonical_json(document)
    key = hold_document_key(document["hold_id"], document["action"])
    return key, sha256_hex(data), store.put(key, data)


def _document_row(key: str, result: PutResult, at: str) -> ObjectRow:
    return ObjectRow(key, result.sha256, result.size, result.version_id, "hold", at)


def _lockable(store: ObjectStore) -> LegalHolds | None:
    """The store that can set S3 legal holds (behind a spool, the remote one), or None."""
    remote = remote_of(store)
    return remote if isinstance(remote, LegalHolds) else None


def held_record_ids(catalog: Catalog) -> set[str]:
    """Records an open hold keeps."""
    return catalog.held_record_ids()


def place_hold(catalog: Catalog, store: ObjectStore, reason: str, placed_by: str, criteria: HoldCriteria,
               text_matches: TextMatcher | None = None, log_event=None) -> Hold:
    if not reason.strip():
        raise SunshineError("a hold needs a --reason (for example the request or case number)")
    record_ids = select_records(catalog, criteria, text_matches)
    if not record_ids:
        raise SunshineError("those criteria match no archived record; nothing was held")
    hold_id = "hold-" + secrets.token_hex(4)
    now = utc_now()
    objects = objects_of(catalog, record_ids)
    lockable = _lockable(store)
    if lockable is not None:
        for key, version_id in objects.items():
            lockable.set_legal_hold(key, version_id, True)
    details = {"hold_id": hold_id, "reason": reason, "records": len(record_ids), "objects": len(objects),
               "criteria": criteria.as_json()}
    key, digest, stored = _put_hold_document(store, {
        "type": "hold", "action": "place", "hold_id": hold_id, "reason": reason, "criteria": criteria.as_json(),
        "at": now, "by": placed_by, "records": record_ids})
    with catalog.transaction() as tx:
        catalog.add_hold(tx, hold_id, reason, criteria.as_json(), now, placed_by, record_ids)
        catalog.add_objects(tx, [_document_row(key, stored, now)])
        catalog.audit(tx, now, placed_by, "hold.place", details)
        if log_event is not None:
            log_event(tx, "hold", {"hold_id": hold_id, "action": "place", "at": now, "by": placed_by,
                                     "records": record_ids, "document": key, "document_sha256": digest})
    return Hold(hold_id, reason, now, placed_by, None, len(record_ids), criteria.as_json())


def release_hold(catalog: Catalog, store: ObjectStore, hold_id: str, released_by: str, log_event=None) -> Hold:
    hold = catalog.hold(hold_id)
    if hold is None:
        raise SunshineError(f"no hold {hold_id!r} (see `sunshine hold list`)")
    if hold.released_at:
        raise SunshineError(f"hold {hold_id} was already released at {hold.released_at}")
    mine = catalog.hold_record_ids(hold_id)
    now = utc_now()
    key, digest, stored = _put_hold_document(store, {
        "type": "hold", "action": "release", "hold_id": hold_id, "at": now, "by": released_by, "records": mine})
    with catalog.transaction() as tx:
        catalog.mark_hold_released(tx, hold_id, now)
        catalog.add_objects(tx, [_document_row(key, stored, now)])
        catalog.audit(tx, now, released_by, "hold.release", {"hold_id": hold_id, "records": len(mine)})
        if log_event is not None:
            log_event(tx, "hold", {"hold_id": hold_id, "action": "release", "at": now, "by": released_by,
                                     "records": mine, "document": key, "document_sha256": digest})
    still_held = objects_of(catalog, held_record_ids(catalog))
    lockable = _lockable(store)
    if lockable is not None:
        for key, version_id in objects_of(catalog, mine).items():
            if key not in still_held:  # another open hold still needs this object
                lockable.set_legal_hold(key, version_id, False)
    return replace(hold, released_at=now, record_count=len(mine))


def list_holds(catalog: Catalog, include_released: bool = False) -> list[Hold]:
    return catalog.holds(include_released)
