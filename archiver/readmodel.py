"""The read model's documents, built from the catalog (after a run) or the store alone (`reindex`).

Both paths produce the same `RecordDoc`s: the catalog path is quick, the manifest path proves the
store is the system of record. Both apply the redactions in force (`archiver.redaction`: from the
catalog, or from the redaction documents the ledger names), so the read model, and everything the
portal serves from it, only ever holds the public (redacted) form. Manifests are JSON lines written beside each WARC object; each line
is either a version (with the record's fields as captured then) or a media blob's hash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from archiver.catalog import Catalog
from archiver.manifests import capture_entries, published_entries, read_manifests
from archiver.model import RecordDoc
from archiver.redaction import apply_redactions
from archiver.store import ObjectStore

RECORD_FIELDS = ("record_id", "platform", "account", "kind", "native_id", "url", "author",
                 "author_is_department", "created_at", "text", "parent_id", "thread_id", "status")


VERSION_FIELDS = ("version", "captured_at", "status", "content_sha256", "warc_ref", "ledger_index", "text")


def version_json(row: Any) -> dict[str, Any]:
    return {
        "version": row["version"], "captured_at": row["captured_at"], "status": row["status"],
        "content_sha256": row["content_sha256"],
        "warc_ref": {"key": row["warc_key"], "offset": row["warc_offset"], "length": row["warc_length"]},
        "ledger_index": row["ledger_index"], "text": row["text"],
    }


def docs_from_catalog(catalog: Catalog, record_ids: Iterable[str]) -> list[RecordDoc]:
    from archiver.redaction import active_redactions, withheld_captures

    ids = list(record_ids)
    redactions = active_redactions(catalog)  # few: a clerk's, not a crawl's, volume
    withheld = _withheld_members(withheld_captures(catalog, redactions))
    versions = catalog.version_rows(ids)
    rows = catalog.record_rows(ids)
    media_urls = [item["url"] for row in rows for item in json.loads(row["media"])]
    hashes = catalog.media_hashes(media_urls)
    docs = []
    for row in rows:
        record = {field: row[field] for field in RECORD_FIELDS}
        record["media"] = _media(json.loads(row["media"]), hashes)
        doc = _doc(record, [version_json(v) for v in versions.get(row["record_id"], [])])
        docs.append(apply_redactions(doc, redactions.get(doc.record_id, []), withheld))
    return docs


def _withheld_members(captures: Iterable[Any]) -> dict[tuple[str, int], tuple[str, ...]]:
    return {(capture.warc_key, capture.warc_offset): capture.bases for capture in captures}


def _media(items: list[dict[str, Any]], hashes: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        sha, mime = hashes.get(item["url"], (None, item.get("mime")))
        out.append({"url": item["url"], "sha256": sha, "mime": mime or item.get("mime")})
    return out


def _doc(record: dict[str, Any], versions: list[dict[str, Any]]) -> RecordDoc:
    latest = versions[-1]
    return RecordDoc.from_json({
        **record,
        "author_is_department": bool(record["author_is_department"]),
        "status": latest["status"],
        "sha256": latest["content_sha256"],
        "ledger_index": latest["ledger_index"],
        "versions": versions,
    })


def docs_from_store(store: ObjectStore) -> Iterator[RecordDoc]:
    """Fold the manifests in the store, in order, into the records' current documents.

    Only versions the ledger holds count, each once, with the ledger's index (`archiver.manifests`,
    the rule `recover` applies): a manifest left by a batch that never committed adds nothing.
    Memory is one small dict per record (versions included), which is what the index holds anyway.
    """
    from archiver.disposition import disposed_ids_from_store
    from archiver.redaction import redactions_from_store

    disposed = disposed_ids_from_store(store)
    entries = published_entries(store)
    redactions, _documents = redactions_from_store(store, entries)
    captures = capture_entries(entries)
    records: dict[str, dict[str, Any]] = {}
    versions: dict[str, dict[int, dict[str, Any]]] = {}
    media: dict[str, tuple[str, str]] = {}
    for manifest in read_manifests(store, captures):
        for counted in manifest.versions:
            record_id = counted.record["record_id"]
            records[record_id] = counted.record
            versions.setdefault(record_id, {}).setdefault(counted.version["version"], counted.version)
        if manifest.committed:
            media.update(manifest.media)
    withheld: dict[tuple[str, int], set[str]] = {}
    for record_id, items in redactions.items():
        for version in versions.get(record_id, {}).values():
            ref = version.get("warc_ref") or {}
            withheld.setdefault((ref.get("key"), ref.get("offset")), set()).update(item.basis for item in items)
    members = {member: tuple(sorted(bases)) for member, bases in withheld.items()}
    for record_id, record in records.items():
        if record_id in disposed:
            continue
        history = [{key: v.get(key) for key in VERSION_FIELDS} for _n, v in sorted(versions[record_id].items())]
        record = dict(record)
        record["media"] = _media(record.get("media") or [], media)
        yield apply_redactions(_doc(record, history), redactions.get(record_id, []), members)
