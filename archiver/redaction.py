"""Redaction: withhold exempt details from the public while the original stays in the store.

A clerk redacts a whole record, every occurrence of a span of its text (a minor's name, a victim's
address: matched ignoring case, in the text and the author of every version), or its media, naming
a legal basis from `[redaction] bases`. The public side (read model, portal, API, search, packages)
shows "[redacted: basis]" instead; the stored blobs, WARC files and the ledger are never touched, so
`sunshine verify` still checks every original byte.

Each add or remove is the next **revision** of the record's redaction state, reversible (remove
restores what the public sees), and recorded three times, like a hold (`archiver.holds`):
- a **redaction document** in the store (`redactions/<record_id>/<revision>.json`, canonical JSON:
  the change and the record's whole active list after it, with a random `salt`), written first, so
  `sunshine recover` rebuilds the state from the store;
- the catalog (`redactions`, `redaction_log`) and an audit row, in one transaction with
- a `redaction` ledger event naming the record, revision, action, scope and basis and the
  document's SHA-256, never the redacted text. The salt is why: without it, whoever reads the public
  log could confirm a guess of the text by hashing a candidate document.

Original exchanges holding redacted text are withheld: every WARC member a redacted record's
versions were captured in (a thread page holds the replies too), for every record captured in it
(`withheld_captures`). What the portal may not serve reaches it through the read model: each
version of a redacted record carries `withheld: {"raw": [bases], "capture": [bases]}`, a version of
another record captured in a withheld member `withheld: {"capture": [bases]}` (`apply_redactions`).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from archiver.canonical import canonical_json, sha256_hex
from archiver.catalog import Catalog, ObjectRow, Redaction, RedactionChange
from archiver.clock import utc_now
from archiver.errors import SunshineError
from archiver.ledger_events import append_event
from archiver.model import RecordDoc
from archiver.store import ObjectStore

__all__ = [
    "REDACTION_PREFIX", "SCOPES", "Redaction", "RedactionChange", "WithheldCapture", "active_redactions",
    "apply_redactions", "placeholder", "redact", "redaction_log", "redactions_from_store", "reindex_affected",
    "unredact", "withheld_captures",
]

SCOPES = ("record", "text", "media")
REDACTION_PREFIX = "redactions/"
MAX_SPAN_CHARS = 500


class DocIndex(Protocol):
    """What a redaction change needs of the search read model (`indexer.SearchIndex` has it)."""

    def upsert(self, docs: Iterable[RecordDoc]) -> int: ...


@dataclass(frozen=True)
class WithheldCapture:
    """An original exchange (a WARC member) withheld from the public: it holds redacted content."""

    warc_key: str
    warc_offset: int
    warc_length: int
    bases: tuple[str, ...]
    record_ids: tuple[str, ...]  # the redacted records captured in it


def placeholder(basis: str) -> str:
    """What the public sees instead of redacted content."""
    return f"[redacted: {basis}]"


def document_key(record_id: str, revision: int) -> str:
    return f"{REDACTION_PREFIX}{record_id}/{revision:06d}.json"


# ------------------------------------------------------------------------------------ changing state

def redact(catalog: Catalog, store: ObjectStore, record_id: str, *, basis: str, by: str,
           bases: Sequence[str], scope: str = "text", target: str | None = None, note: str = "",
           index: DocIndex | None = None) -> Redaction:
    """Redact `record_id`: the whole record (`scope="record"`), every occurrence of `target` in its
    text and author (`"text"`), or its media (`"media"`; `target` a media URL, None for all).

    `basis` must be one of `bases` (the config's `redaction_bases`). Logs a `redaction` ledger event
    in the catalog's transaction; publishing it is the caller's (`LedgerPublisher.checkpoint()`).
    With `index`, the affected records are re-indexed at once; otherwise they are marked for the
    next index update (an archive run or `sunshine reindex`).
    """
    if basis not in bases:
        raise SunshineError(f"redaction basis {basis!r} is not in the configured [redaction] bases: "
                            + "; ".join(bases))
    if scope not in SCOPES:
        raise SunshineError(f"redaction scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    rows = catalog.record_rows([record_id])
    if not rows:
        raise SunshineError(f"no record {record_id!r} in the archive")
    target = _checked_target(catalog, rows[0], scope, target)
    for active in catalog.redactions([record_id]):
        if (active.scope, _fold(active.target)) == (scope, _fold(target)):
            raise SunshineError(f"record {record_id} already has this redaction ({active.redaction_id})")
    now = utc_now()
    redaction = Redaction("red-" + secrets.token_hex(6), record_id, scope, target, basis, note.strip(), now, by)
    after = [*catalog.redactions([record_id]), redaction]
    _change(catalog, store, redaction, "add", after, now, by, index,
            lambda tx: catalog.add_redaction(tx, redaction))
    return redaction


def unredact(catalog: Catalog, store: ObjectStore, redaction_id: str, *, by: str,
             index: DocIndex | None = None) -> Redaction:
    """Remove a redaction: the public sees the record as before (the removal is logged like the add)."""
    redaction = catalog.redaction(redaction_id)
    if redaction is None:
        raise SunshineError(f"no redaction {redaction_id!r} (see `sunshine redact list`)")
    if redaction.removed_at:
        raise SunshineError(f"redaction {redaction_id} was already removed at {redaction.removed_at}")
    now = utc_now()
    after = [item for item in catalog.redactions([redaction.record_id]) if item.redaction_id != redaction_id]
    _change(catalog, store, redaction, "remove", after, now, by, index,
            lambda tx: catalog.mark_redaction_removed(tx, redaction_id, now, by))
    return replace(redaction, removed_at=now, removed_by=by)


def _checked_target(catalog: Catalog, row: Any, scope: str, target: str | None) -> str | None:
    if scope == "record":
        if target:
            raise SunshineError("a whole-record redaction takes no text or media target")
        return None
    if scope == "media":
        urls = [item["url"] for item in json.loads(row["media"])]
        if target is not None and target not in urls:
            raise SunshineError(f"record {row['record_id']} has no media {target!r}"
                                + (f" (it has: {', '.join(urls[:5])})" if urls else " (it has none)"))
        if not urls:
            raise SunshineError(f"record {row['record_id']} has no media to redact")
        return target
    span = (target or "").strip()
    if not span:
        raise SunshineError("a text redaction needs the text to redact (--text)")
    if len(span) > MAX_SPAN_CHARS:
        raise SunshineError(f"a redacted span is at most {MAX_SPAN_CHARS} characters (got {len(span)}); "
                            "redact the whole record instead")
    texts = [row["text"], row["author"]]
    texts += [version["text"] for version in catalog.version_rows([row["record_id"]]).get(row["record_id"], [])]
    if not any(_fold(span) in _fold(text) for text in texts if text):
        raise SunshineError(f"the text to redact does not occur in record {row['record_id']} (in any version's "
                            "text or the author)")
    return span


def _fold(text: str | None) -> str:
    return (text or "").casefold()


def _change(catalog: Catalog, store: ObjectStore, redaction: Redaction, action: str, after: list[Redaction],
            now: str, by: str, index: DocIndex | None, write) -> None:
    """Store the document, then commit the catalog rows, the audit row and the ledger event at once."""
    record_id = redaction.record_id
    revision = catalog.redaction_revision(record_id) + 1
    key = document_key(record_id, revision)
    document = {
        "type": "redaction", "action": action, "record_id": record_id, "revision": revision,
        "redaction": _as_json(redaction), "active": [_as_json(item) for item in after],
        "at": now, "by": by, "salt": secrets.token_hex(16),
    }
    data = canonical_json(document)
    digest = sha256_hex(data)
    stored = store.put(key, data)
    affected = _affected(catalog, record_id)
    with catalog.transaction() as tx:
        if catalog.redaction_revision(record_id) + 1 != revision:
            raise SunshineError(f"record {record_id}'s redactions changed meanwhile; try again")
        write(tx)
        event = {"record_id": record_id, "revision": revision, "action": action,
                 "redaction_id": redaction.redaction_id, "scope": redaction.scope, "basis": redaction.basis,
                 "at": now, "by": by, "document": key, "document_sha256": digest}
        ledger_index = append_event(tx, "redaction", event)
        catalog.add_redaction_change(tx, RedactionChange(record_id, revision, action, redaction.redaction_id,
                                                         redaction.scope, redaction.basis, now, by, key,
                                                         ledger_index))
        catalog.add_objects(tx, [ObjectRow(key, stored.sha256, stored.size, stored.version_id, "redactions", now)])
        catalog.audit(tx, now, by, f"redaction.{action}",
                      {"redaction_id": redaction.redaction_id, "record_id": record_id, "revision": revision,
                       "scope": redaction.scope, "basis": redaction.basis, "ledger_index": ledger_index})
        catalog.mark_unindexed(tx, affected)
    if index is not None:
        try:
            reindex_affected(catalog, index, affected)
        except SunshineError as exc:
            raise SunshineError(f"the redaction of {record_id} is recorded (revision {revision}), but the search "
                                f"index could not be updated ({exc}); the public still sees the old text until "
                                "`sunshine reindex` or the next archive run") from exc


def _affected(catalog: Catalog, record_id: str) -> set[str]:
    """The record and every record captured in the same exchanges (their captures are withheld too)."""
    return {record_id} | catalog.records_captured_in(catalog.captures_of([record_id]))


def reindex_affected(catalog: Catalog, index: DocIndex, record_ids: Iterable[str]) -> None:
    """Rebuild these records' read-model documents (redactions applied) and mark them indexed."""
    from archiver.readmodel import docs_from_catalog

    ids = sorted(set(record_ids))
    if ids:
        index.upsert(docs_from_catalog(catalog, ids))
        catalog.mark_indexed(ids)


def _as_json(redaction: Redaction) -> dict[str, Any]:
    return asdict(redaction)


# ------------------------------------------------------------------------------------------ reading

def active_redactions(catalog: Catalog, record_ids: Iterable[str] | None = None) -> dict[str, list[Redaction]]:
    """The redactions in force, by record (of `record_ids`, or every redacted record)."""
    found: dict[str, list[Redaction]] = {}
    for redaction in catalog.redactions(record_ids):
        found.setdefault(redaction.record_id, []).append(redaction)
    return found


def redaction_log(catalog: Catalog, record_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every redaction change (oldest first) as public data for a package's redaction log: who, when,
    what kind, which basis, the ledger index; never the redacted text."""
    return [asdict(change) for change in catalog.redaction_changes(record_ids)]


def withheld_captures(catalog: Catalog, redactions: Mapping[str, list[Redaction]] | None = None) -> list[WithheldCapture]:
    """The original exchanges (WARC members) withheld from the public: every one a redacted record's
    versions were captured in, with the bases of the redactions that withhold it."""
    redactions = active_redactions(catalog) if redactions is None else redactions
    members: dict[tuple[str, int, int], tuple[set[str], set[str]]] = {}
    for record_id, items in redactions.items():
        if not items:
            continue
        for member in catalog.captures_of([record_id]):
            bases, records = members.setdefault(member, (set(), set()))
            bases |= {item.basis for item in items}
            records.add(record_id)
    return [WithheldCapture(key, offset, length, tuple(sorted(bases)), tuple(sorted(records)))
            for (key, offset, length), (bases, records) in sorted(members.items())]


def redactions_from_store(store: ObjectStore, entries: Iterable[bytes]) -> tuple[dict[str, list[Redaction]],
                                                                               list[tuple[int, dict[str, Any]]]]:
    """The redactions in force by record, from the redaction documents the ledger's events name.

    Only a document whose SHA-256 matches its event counts; a record's state is the active list of
    its latest such revision. Also returns every (ledger index, document) found, oldest first, for
    `recover`. A missing or altered document raises `SunshineError` naming it: guessing could show
    redacted text.
    """
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    documents: list[tuple[int, dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        if b'"redaction"' not in entry:
            continue
        event = json.loads(entry)
        if event.get("type") != "redaction" or not event.get("document"):
            continue
        key = event["document"]
        try:
            data = store.get(key)
        except KeyError:
            raise SunshineError(f"redaction document {key} (ledger entry {index}) is missing from the store; "
                                "restore it from a copy before serving or rebuilding the archive") from None
        if sha256_hex(data) != event.get("document_sha256"):
            raise SunshineError(f"redaction document {key} does not match the SHA-256 in ledger entry {index}")
        document = json.loads(data)
        documents.append((index, document))
        if document["revision"] > latest.get(document["record_id"], (0, {}))[0]:
            latest[document["record_id"]] = (document["revision"], document)
    active = {record_id: [Redaction(**item) for item in document["active"]]
              for record_id, (_revision, document) in latest.items() if document["active"]}
    return active, documents


# ----------------------------------------------------------------------------- the public document

def apply_redactions(doc: RecordDoc, redactions: Sequence[Redaction],
                     withheld: Mapping[tuple[str, int], Sequence[str]] | None = None) -> RecordDoc:
    """The public form of `doc`: its redactions applied, and what must not be served marked.

    `withheld` maps a WARC member (key, offset) to the bases withholding it (`withheld_captures`):
    a version captured in one is marked `withheld.capture` even if its own record is not redacted.
    """
    withheld = withheld or {}
    text, author, media = doc.text, doc.author, list(doc.media)
    bases = sorted({item.basis for item in redactions})
    whole = [item for item in redactions if item.scope == "record"]
    spans = [item for item in redactions if item.scope == "text"]
    if whole:
        mark = placeholder(whole[0].basis)
        text, author = mark, mark
        media = [_media_placeholder(whole[0].basis) for _item in media]
    else:
        text, author = _redact_spans(text, spans), _redact_spans(author, spans)
        for item in (item for item in redactions if item.scope == "media"):
            media = [_media_placeholder(item.basis) if item.target in (None, entry.get("url")) else entry
                     for entry in media]
    versions = []
    for version in doc.versions:
        version = dict(version)
        if whole:
            version["text"] = placeholder(whole[0].basis) if version.get("text") else version.get("text")
        elif version.get("text"):
            version["text"] = _redact_spans(version["text"], spans)
        marks: dict[str, list[str]] = {}
        if bases:
            marks["raw"] = bases
            marks["capture"] = bases
        ref = version.get("warc_ref") or {}
        member_bases = withheld.get((ref.get("key"), ref.get("offset")))
        if member_bases:
            marks["capture"] = sorted(set(marks.get("capture", [])) | set(member_bases))
        if marks:
            version["withheld"] = marks
        versions.append(version)
    if not redactions and versions == list(doc.versions):
        return doc
    return replace(doc, text=text, author=author, media=tuple(media), versions=tuple(versions))


def _media_placeholder(basis: str) -> dict[str, Any]:
    return {"url": None, "sha256": None, "mime": None, "redacted": placeholder(basis)}


def _redact_spans(text: str, spans: Sequence[Redaction]) -> str:
    """`text` with every occurrence of every span (ignoring case) replaced in one pass, longest first,
    so a placeholder is never itself matched by another span."""
    if not spans or not text:
        return text
    ordered = sorted(spans, key=lambda item: -len(item.target or ""))
    by_fold = {}
    for item in ordered:
        by_fold.setdefault(_fold(item.target), item.basis)
    pattern = re.compile("|".join(re.escape(item.target or "") for item in ordered), re.IGNORECASE)
    return pattern.sub(lambda match: placeholder(by_fold.get(_fold(match.group()), ordered[0].basis)), text)
