"""Public-records requests (`sunshine request ...`): what a clerk was asked for, and what it covers.

A request has a number (the clerk's own, e.g. `PRR-2026-017`), a description, the dates it was
received and is due, a status (open, closed) and the searches that define its scope. No requester
identity: the archive does not need one, and a public log must not carry one.

The searches are resolved to record ids **when the request is saved** (each search as a hold's
criteria, whole threads by default) and those ids are kept with it: the scope never changes
silently when the index or the platforms change, and `sunshine export --request N` packages exactly
them. Saving places a "pending request" hold on those records (`archiver.holds`: the hold's reason
names the request), so disposition cannot touch them while the request is open; closing the
request releases that hold (objects another open hold needs stay held).

Like a hold, each save and close is a **request document** in the store (`requests/<number>.save.json`,
`requests/<number>.close.json`: canonical JSON), written before the catalog commits and bound to a
ledger event (`request`) by its SHA-256, so `sunshine recover` rebuilds requests from the store
(`restore_requests`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from archiver.canonical import canonical_json, sha256_hex
from archiver.catalog import Catalog, ObjectRow, RecordsRequest, Transaction
from archiver.clock import utc_now
from archiver.errors import SunshineError
from archiver.holds import HoldCriteria, TextMatcher, place_hold, release_hold, select_records
from archiver.store import ObjectStore

REQUEST_PREFIX = "requests/"
HOLD_REASON = "pending request {number}"
_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def request_document_key(number: str, action: str) -> str:
    return f"{REQUEST_PREFIX}{number}.{action}.json"


def _check_number(number: str) -> str:
    if not _NUMBER.match(number or ""):
        raise SunshineError(f"request number {number!r}: use letters, digits, '.', '_' or '-' (at most 64, "
                            "starting with a letter or digit), for example PRR-2026-017")
    return number


def _check_date(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        if not _DATE.match(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise SunshineError(f"{what} must be a date YYYY-MM-DD, got {value!r}") from None
    return value


def resolve_searches(catalog: Catalog, searches: Sequence[HoldCriteria],
                     text_matches: TextMatcher | None = None) -> list[str]:
    """The records a request's searches cover now (each as a hold's criteria; their union)."""
    if not searches:
        raise SunshineError("a request needs at least one search (--record, --q, --platform, --account, --from, --to)")
    found: set[str] = set()
    for criteria in searches:
        found |= set(select_records(catalog, criteria, text_matches))
    return sorted(found)


def get_request(catalog: Catalog, number: str) -> RecordsRequest:
    found = catalog.request(number)
    if found is None:
        raise SunshineError(f"no request {number!r} (see `sunshine request list`)")
    return found


def list_requests(catalog: Catalog, include_closed: bool = False) -> list[RecordsRequest]:
    return catalog.requests(include_closed)


def request_record_ids(catalog: Catalog, number: str) -> list[str]:
    """The records a request resolved to when it was saved."""
    get_request(catalog, number)
    return catalog.request_record_ids(number)


def _put_document(store: ObjectStore, document: dict[str, Any]) -> tuple[str, str, ObjectRow]:
    data = canonical_json(document)
    key = request_document_key(document["number"], document["action"])
    stored = store.put(key, data)
    return key, sha256_hex(data), ObjectRow(key, stored.sha256, stored.size, stored.version_id, "requests",
                                            document["at"])


def save_request(catalog: Catalog, store: ObjectStore, number: str, description: str, received: str,
                 due: str | None, searches: Sequence[HoldCriteria], saved_by: str, *,
                 text_matches: TextMatcher | None = None, log_event=None) -> RecordsRequest:
    """Save a new request: resolve its searches to records, hold them, keep both; the saved request.

    `log_event(tx, kind, fields)` is `archiver.ledger_events.append_event` (the hold and the request
    are each logged). `SunshineError` for a number already used, bad dates, or searches that match
    nothing.
    """
    _check_number(number)
    if not description.strip():
        raise SunshineError("a request needs a --description of what was asked for")
    _check_date(received, "--received")
    _check_date(due, "--due")
    if due is not None and due < received:
        raise SunshineError(f"--due {due} is before --received {received}")
    if catalog.request(number) is not None:
        raise SunshineError(f"request {number} already exists (see `sunshine request show {number}`)")
    record_ids = resolve_searches(catalog, searches, text_matches)
    if not record_ids:
        raise SunshineError(f"the searches of request {number} match no archived record; nothing was saved")
    hold = place_hold(catalog, store, HOLD_REASON.format(number=number), saved_by,
                      HoldCriteria(record_ids=tuple(record_ids), with_threads=False), log_event=log_event)
    now = utc_now()
    request = RecordsRequest(number, description, received, due, "open", tuple(c.as_json() for c in searches),
                             hold.hold_id, now, saved_by, None, None, len(record_ids))
    key, digest, row = _put_document(store, {
        "type": "request", "action": "save", **_document_fields(request), "at": now, "by": saved_by,
        "records": record_ids})
    with catalog.transaction() as tx:
        catalog.add_request(tx, request, record_ids)
        catalog.add_objects(tx, [row])
        catalog.audit(tx, now, saved_by, "request.save", {"number": number, "hold_id": hold.hold_id,
                                                          "records": len(record_ids)})
        if log_event is not None:
            log_event(tx, "request", {"number": number, "action": "save", "at": now, "by": saved_by,
                                      "hold_id": hold.hold_id, "records": record_ids, "document": key,
                                      "document_sha256": digest})
    return request


def _document_fields(request: RecordsRequest) -> dict[str, Any]:
    return {"number": request.number, "description": request.description, "received": request.received,
            "due": request.due, "searches": list(request.searches), "hold_id": request.hold_id}


def close_request(catalog: Catalog, store: ObjectStore, number: str, closed_by: str, *,
                  log_event=None) -> RecordsRequest:
    """Close an open request and release its hold; the closed request."""
    request = get_request(catalog, number)
    if request.status == "closed":
        raise SunshineError(f"request {number} was already closed at {request.closed_at}")
    hold = catalog.hold(request.hold_id)
    if hold is not None and hold.released_at is None:
        release_hold(catalog, store, request.hold_id, closed_by, log_event=log_event)
    now = utc_now()
    key, digest, row = _put_document(store, {"type": "request", "action": "close", "number": number,
                                             "at": now, "by": closed_by, "hold_id": request.hold_id})
    with catalog.transaction() as tx:
        catalog.mark_request_closed(tx, number, now, closed_by)
        catalog.add_objects(tx, [row])
        catalog.audit(tx, now, closed_by, "request.close", {"number": number, "hold_id": request.hold_id})
        if log_event is not None:
            log_event(tx, "request", {"number": number, "action": "close", "at": now, "by": closed_by,
                                      "hold_id": request.hold_id, "document": key, "document_sha256": digest})
    return replace(request, status="closed", closed_at=now, closed_by=closed_by)


def restore_requests(catalog: Catalog, tx: Transaction, store: ObjectStore,
                     events: Iterable[tuple[int, dict[str, Any]]]) -> tuple[int, list[str]]:
    """`sunshine recover`: requests from the ledger's `request` events and the documents they name
    (checked against the logged SHA-256); (requests restored, warnings)."""
    restored, warnings = 0, []
    for index, event in events:
        if event.get("type") != "request":
            continue
        document = _logged_document(store, event, warnings)
        if event.get("action") == "save":
            if document is None:
                warnings.append(f"request {event.get('number')} (ledger entry {index}): its document is lost; "
                                "the request is not restored (its hold is)")
                continue
            request = RecordsRequest(document["number"], document["description"], document["received"],
                                     document.get("due"), "open", tuple(document["searches"]), document["hold_id"],
                                     document["at"], document["by"], None, None, len(document["records"]))
            catalog.add_request(tx, request, document["records"])
            restored += 1
        elif event.get("action") == "close":
            catalog.mark_request_closed(tx, event["number"], event["at"], event.get("by", "unknown"))
    return restored, warnings


def _logged_document(store: ObjectStore, event: dict[str, Any], warnings: list[str]) -> dict[str, Any] | None:
    key = event.get("document")
    if not key:
        return None
    try:
        data = store.get(key)
    except KeyError:
        warnings.append(f"request {event.get('number')}: its document {key} is missing from the store")
        return None
    if sha256_hex(data) != event.get("document_sha256"):
        warnings.append(f"request {event.get('number')}: its document {key} does not match the ledger's hash")
        return None
    return json.loads(data)
