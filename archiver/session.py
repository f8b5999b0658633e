"""One archive run: captures in, verified versions out (DESIGN §1 steps 1-5).

`ArchiveSession.add` classifies each parsed record against the catalog (new / unchanged / edited /
hidden / deleted) and buffers the exchange into a WARC batch. `flush` makes a batch count, in an
order that survives a crash at any point:

1. content blobs, the WARC object and its manifest are put into the store, each verified;
2. one catalog transaction records the versions, objects and ledger entries;
3. the ledger entries are published as tiles and the touched records are indexed.

A crash before 2 leaves only unreferenced (but intact) objects and the next run captures the same
records again; a crash after 2 leaves the ledger and index behind, and both catch up from the
catalog (unpublished ledger rows, `indexed = 0` records) on the next run.

No upload happens while the catalog's write lock is held: a slow store must not make a clerk's
`hold add` in another process wait or fail with "database is locked". The WARC number is taken in
a short transaction of its own (a crash leaves a gap in the numbering, never a reused key). The
manifest names each version's ledger index, which only the commit can make final because clerk
events append to the same ledger; so the manifest is written with the indexes the ledger would
give now, and the commit transaction checks the ledger has not grown meanwhile. If it has (a clerk
event was logged during the upload), the transaction records nothing, the manifest is written again
under a fresh number with the new indexes, and the commit is retried; the first manifest is left
unreferenced, like the objects of a crashed batch. A manifest version therefore counts only when
the ledger holds its entry (`ledger_entry`) byte for byte, which a committed manifest names the index
of (`archiver.manifests`: the one rule `recover` and `reindex` apply).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from archiver.canonical import canonical_json, sha256_hex
from archiver.catalog import Catalog, LatestVersion, ObjectRow, RecordRow, Transaction, VersionRow
from archiver.clock import utc_now
from archiver.errors import IntegrityError, StoreUnavailableError, SunshineError
from archiver.ledger.log import entry_for_capture
from archiver.manifests import manifest_lines, media_line
from archiver.model import (
    Capture,
    HttpExchange,
    ParsedRecord,
    Tombstone,
    Version,
    WarcRef,
    display_text,
    make_record_id,
)
from archiver.readmodel import RECORD_FIELDS, docs_from_catalog
from archiver.store import ObjectStore, PutItem, PutResult, put_all
from archiver.store.keys import blob_key, manifest_key, warc_key
from archiver.warc import WarcBatch

log = logging.getLogger(__name__)

BATCH_CAPTURES = 500
BATCH_BYTES = 32 * 1024 * 1024


@dataclass
class RunStats:
    captures: int = 0
    failed: int = 0
    records_seen: int = 0
    new: int = 0
    edited: int = 0
    hidden: int = 0
    deleted: int = 0
    restored: int = 0
    unchanged: int = 0
    media: int = 0
    objects_written: int = 0
    bytes_written: int = 0
    index_lagging: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (source, "url: error")
    media_problems: list[tuple[str, str]] = field(default_factory=list)  # (url, reason): skipped or failed

    def versions_added(self) -> int:
        return self.new + self.edited + self.hidden + self.deleted + self.restored

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["failures"] = [text for _source, text in self.failures[:50]]
        data["media_problems"] = [list(problem) for problem in self.media_problems[:50]]
        data["versions_added"] = self.versions_added()
        return data


@dataclass(frozen=True)
class _NewVersion:
    """A version a batch adds: the typed `Version` (its WARC key, store version id and ledger index
    filled in as `flush` learns them) plus what only the batch needs."""

    version: Version
    text: str  # the display text the catalog and the manifest keep
    platform: str
    kind: str


@dataclass
class _Pending:
    """What one batch adds, held until `flush` makes it durable."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    versions: list[_NewVersion] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    threads_done: set[str] = field(default_factory=set)
    media: dict[str, tuple[str, str]] = field(default_factory=dict)
    record_media: set[tuple[str, str]] = field(default_factory=set)
    failed: list[tuple[str, str]] = field(default_factory=list)
    media_problems: list[tuple[str, str]] = field(default_factory=list)


class ArchiveSession:
    """Receives captures from the Scrapy pipeline (or any caller) for one run."""

    def __init__(self, catalog: Catalog, store: ObjectStore, run_id: str, *, index=None,
                 ledger=None, retain_days: Callable[[str, str], int | None] | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        self.catalog = catalog
        self.store = store
        self.index = index
        self.ledger = ledger
        self.run_id = run_id
        self.retain_days = retain_days or (lambda platform, kind: None)
        self.progress = progress
        self.stats = RunStats()
        self.latest: dict[str, LatestVersion] = {}  # this batch's new versions; the catalog has the rest
        self.source: str | None = None
        self.batch: WarcBatch | None = None
        self.pending = _Pending()
        self.warc_seq = 0
        self.ledger_lagging = False
        self.fatal: Exception | None = None  # set by the pipeline when a capture could not be stored

    # --- intake ----------------------------------------------------------------------------------

    def add(self, capture: Capture) -> None:
        if self.source is not None and capture.source != self.source:
            self.flush()
        self.source = capture.source
        if self.batch is None:
            self.batch = WarcBatch(f"{self.run_id}-{capture.source}.warc.gz")
        member = self.batch.add(capture.exchange)
        ref = WarcRef("", member.offset, member.length)  # the key is allocated when the batch is stored
        self.stats.captures += 1
        if capture.error:
            self.stats.failed += 1
            self.stats.failures.append((capture.source, f"{capture.exchange.url}: {capture.error}"))
            self.pending.failed.append((capture.exchange.url, capture.error))
        for record in capture.records:
            self._record(record, capture.exchange, ref)
        for tombstone in capture.tombstones:
            self._tombstone(tombstone, capture.exchange, ref)
        for blob in capture.media:
            sha = sha256_hex(blob.data)
            self.pending.blobs.setdefault(sha, blob.data)
            self.pending.media[blob.url] = (sha, blob.mime)
            self.stats.media += 1
        for problem in capture.media_problems:
            self.stats.media_problems.append(problem)
            self.pending.media_problems.append(problem)
        if getattr(capture, "completes_thread", None):
            self.pending.threads_done.add(capture.completes_thread)
        if self.progress:
            self.progress(len(capture.records) + len(capture.tombstones))
        if self.batch.exchanges >= BATCH_CAPTURES or self.batch.size >= BATCH_BYTES:
            self.flush()

    def _record(self, record: ParsedRecord, exchange: HttpExchange, ref: WarcRef) -> None:
        record_id = record.record_id
        content = canonical_json(record.native)
        sha = sha256_hex(content)
        latest = self._latest(record_id)
        self.stats.records_seen += 1
        self.pending.seen.add(record_id)
        for media in record.media:
            self.pending.record_media.add((record_id, media.url))
        if latest is not None and latest.sha256 == sha and latest.status != "deleted":
            self.stats.unchanged += 1
            return
        if latest is None:
            status, counter = record.status, "new"
        elif latest.status == "deleted":
            status, counter = record.status, "restored"
        elif record.status == "hidden":
            status, counter = "hidden", "hidden"
        elif latest.status == "hidden":
            status, counter = "active", "restored"
        else:
            status, counter = "edited", "edited"
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        self.pending.blobs.setdefault(sha, content)
        fields = {
            "record_id": record_id, "platform": record.platform, "account": record.account,
            "kind": record.kind, "native_id": record.native_id, "url": record.url,
            "author": display_text(record.author), "author_is_department": record.author_is_department,
            "created_at": record.created_at, "text": display_text(record.text),
            "parent_id": make_record_id(record.platform, record.parent_native_id)
            if record.parent_native_id else None,
            "thread_id": make_record_id(record.platform, record.thread_native_id or record.native_id),
            "status": status,
            "media": [{"url": m.url, "mime": m.mime} for m in record.media],
        }
        self._add_version(fields, sha, status, exchange, ref, fields["text"])

    def _tombstone(self, tombstone: Tombstone, exchange: HttpExchange, ref: WarcRef) -> None:
        record_id = tombstone.record_id
        latest = self._latest(record_id)
        self.pending.seen.add(record_id)
        if latest is None or latest.status == "deleted":
            return  # never archived, or already known gone: nothing to add
        content = canonical_json(tombstone_object(tombstone, exchange))
        sha = sha256_hex(content)
        self.pending.blobs.setdefault(sha, content)
        self.stats.deleted += 1
        previous = self.pending.records.get(record_id) or self._record_fields(record_id)
        fields = dict(previous, status="deleted")
        self._add_version(fields, sha, "deleted", exchange, ref, "")

    def _latest(self, record_id: str) -> LatestVersion | None:
        return self.latest.get(record_id) or self.catalog.latest_version(record_id)

    def _record_fields(self, record_id: str) -> dict[str, Any]:
        row = self.catalog.record_rows([record_id])[0]
        fields = {key: row[key] for key in RECORD_FIELDS}
        fields["author_is_department"] = bool(fields["author_is_department"])
        fields["media"] = json.loads(row["media"])
        return fields

    def _add_version(self, fields: dict[str, Any], sha: str, status: str, exchange: HttpExchange,
                     ref: WarcRef, text: str) -> None:
        record_id = fields["record_id"]
        latest = self._latest(record_id)
        number = (latest.version + 1) if latest else 1
        self.latest[record_id] = LatestVersion(number, sha, status)
        self.pending.records[record_id] = fields
        version = Version(record_id, number, exchange.fetched_at, status, sha, ref)
        self.pending.versions.append(_NewVersion(version, text, fields["platform"], fields["kind"]))

    # --- making a batch durable ------------------------------------------------------------------

    def flush(self) -> None:
        if self.batch is None:
            return
        batch, pending, source = self.batch, self.pending, self.source or "source"
        self.batch, self.pending = None, _Pending()
        blob_results = self._put_blobs(pending)
        keep = self._longest_retention(pending)
        seq, key = self._fresh_key(warc_key, source)
        self.warc_seq = seq
        pending.versions = [
            replace(new, version=replace(new.version, warc_ref=replace(new.version.warc_ref, key=key),
                                         store_version_id=blob_results[new.version.content_sha256].version_id))
            for new in pending.versions
        ]
        warc_result = self._put(key, batch.getvalue(), retain_days=keep)
        manifest_seq = seq
        while True:
            ledger_start = self.catalog.ledger_size()
            manifest_result = self._put_manifest(pending, manifest_key(self.run_id, source, manifest_seq),
                                                 ledger_start, keep)
            with self.catalog.transaction() as tx:
                grown = self.catalog.ledger_size() != ledger_start
                if not grown:
                    self._commit(tx, pending, source, blob_results, [warc_result, manifest_result])
            if not grown:
                break
            log.info("the ledger grew while %s was being stored (a clerk event); writing its manifest again",
                     key)
            manifest_seq, _key = self._fresh_key(manifest_key, source)
        self.latest = {}  # committed: the catalog answers from here on
        self._publish(pending)

    def _fresh_key(self, make_key: Callable[[str, str, int], str], source: str) -> tuple[int, str]:
        """The next batch number and its key, allocated in a short transaction of its own."""
        while True:
            with self.catalog.transaction() as tx:
                seq = self.catalog.next_counter(tx, "warc")
            key = make_key(self.run_id, source, seq)
            if not self._exists(key):  # only a catalog restored from an older copy meets a used key
                return seq, key

    def _put_manifest(self, pending: _Pending, key: str, ledger_start: int, keep: int | None) -> PutResult:
        """The batch's manifest, naming ledger indexes from `ledger_start` on (the commit checks them)."""
        pending.versions = [replace(new, version=replace(new.version, ledger_index=ledger_start + offset))
                            for offset, new in enumerate(pending.versions)]
        lines = [manifest_lines(pending.records[new.version.record_id], _public_version(new))
                 for new in pending.versions]
        lines += [media_line(url, sha, mime) for url, (sha, mime) in sorted(pending.media.items())]
        return self._put(key, b"".join(lines), retain_days=keep)

    def _put(self, key: str, data: bytes, *, retain_days: int | None = None) -> PutResult:
        result = self.store.put(key, data, retain_days=retain_days)
        self._check(key, data, result)
        return result

    def _check(self, key: str, data: bytes, result: PutResult) -> None:
        """The store's confirmation must name the hash of what we sent, or the write does not count."""
        if result.sha256 != sha256_hex(data):
            raise IntegrityError(f"store confirmed sha256 {result.sha256} for {key}, expected {sha256_hex(data)}")
        self.stats.objects_written += 1
        self.stats.bytes_written += len(data)

    def _put_blobs(self, pending: _Pending) -> dict[str, PutResult]:
        results: dict[str, PutResult] = {}
        kinds = {new.version.content_sha256: (new.platform, new.kind) for new in pending.versions}
        todo: list[tuple[str, PutItem]] = []
        for sha, data in pending.blobs.items():
            key = blob_key(sha)
            row = self.catalog.object(key)
            if row is not None:
                results[sha] = PutResult(key, row["sha256"], row["size"], row["version_id"])
                continue
            platform, kind = kinds.get(sha, ("", "media"))
            todo.append((sha, PutItem(key, data, self.retain_days(platform, kind))))
        stored = put_all(self.store, [item for _sha, item in todo]) if todo else []
        for (sha, item), result in zip(todo, stored, strict=True):
            self._check(item.key, item.data, result)
            results[sha] = result
        return results

    def _longest_retention(self, pending: _Pending) -> int | None:
        """Days to lock a batch's WARC and manifest: they are evidence for every record in the batch,
        so the longest retention among those records' series (None: the store's default)."""
        days = [d for new in pending.versions if (d := self.retain_days(new.platform, new.kind)) is not None]
        return max(days, default=None)

    def _commit(self, tx: Transaction, pending: _Pending, source: str, blobs: dict[str, PutResult],
                others: list[PutResult]) -> None:
        now = utc_now()
        catalog = self.catalog
        catalog.add_objects(tx, [ObjectRow(result.key, result.sha256, result.size, result.version_id,
                                           _object_kind(result.key), now) for result in [*blobs.values(), *others]])
        catalog.add_ledger_entries(tx, [(new.version.ledger_index, ledger_entry(new.version))
                                        for new in pending.versions])
        catalog.add_versions(tx, [VersionRow(new.version, new.text, self.run_id) for new in pending.versions])
        catalog.upsert_records(tx, [self._record_row(fields, source) for fields in pending.records.values()])
        catalog.mark_seen(tx, self.run_id, [rid for rid in pending.seen if rid not in pending.records])
        catalog.add_threads_done(tx, self.run_id, source, pending.threads_done)
        catalog.set_media(tx, pending.media)
        catalog.link_media(tx, sorted(pending.record_media))
        catalog.add_failed_captures(tx, self.run_id, source, others[0].key, now, pending.failed)
        catalog.add_media_problems(tx, self.run_id, source, now, pending.media_problems)

    def _record_row(self, fields: dict[str, Any], source: str) -> RecordRow:
        """A record's row after this batch: its fields and the latest version the batch gave it."""
        latest = self.latest[fields["record_id"]]
        return RecordRow(
            record_id=fields["record_id"], source=source, platform=fields["platform"], account=fields["account"],
            kind=fields["kind"], native_id=fields["native_id"], url=fields["url"], author=fields["author"],
            author_is_department=bool(fields["author_is_department"]), created_at=fields["created_at"],
            text=fields["text"], parent_id=fields["parent_id"], thread_id=fields["thread_id"],
            media=tuple(fields["media"]), status=latest.status, latest_version=latest.version,
            latest_sha256=latest.sha256, last_seen_run=self.run_id)

    def _exists(self, key: str) -> bool:
        try:
            return self.store.exists(key)
        except StoreUnavailableError:
            return False  # the put goes to the spool; a real clash would surface when it is uploaded

    def _publish(self, pending: _Pending) -> None:
        self.publish_ledger()
        self.update_index()

    def publish_ledger(self) -> None:
        """Publish committed ledger entries; with the store away they wait in the catalog."""
        if self.ledger is None:
            return
        try:
            self.ledger.publish_pending()
        except StoreUnavailableError as exc:
            if not self.ledger_lagging:
                log.warning("ledger entries not published, the store is unreachable (%s); "
                            "they are kept in the catalog and published by the next run", exc)
            self.ledger_lagging = True

    def update_index(self) -> None:
        """Bring the search index up to the catalog; a down index is retried on the next flush or run."""
        if self.index is None:
            return
        ids = self.catalog.unindexed_ids()
        if not ids:
            self.stats.index_lagging = 0
            return
        try:
            for start in range(0, len(ids), 2000):
                chunk = ids[start:start + 2000]
                self.index.upsert(docs_from_catalog(self.catalog, chunk))
                self.catalog.mark_indexed(chunk)
        except SunshineError as exc:
            remaining = len(self.catalog.unindexed_ids())
            if not self.stats.index_lagging:
                log.warning("search index not updated (%s); %d records will be indexed on the next run",
                            exc, remaining)
            self.stats.index_lagging = remaining

    def close(self) -> RunStats:
        self.flush()
        self.update_index()
        return self.stats


def _public_version(new: _NewVersion) -> dict[str, Any]:
    """A version as its manifest line keeps it (the read model's version fields)."""
    version = new.version
    return {"version": version.version, "captured_at": version.captured_at, "status": version.status,
            "content_sha256": version.content_sha256, "warc_ref": version.warc_ref.to_json(), "text": new.text,
            "store_version_id": version.store_version_id, "ledger_index": version.ledger_index}


def tombstone_object(tombstone: Tombstone, exchange: HttpExchange) -> dict[str, Any]:
    """The native evidence of a deletion: the platform's own error body, as it answered.

    Its canonical JSON is what a tombstone version's `content_sha256` covers, so the proof of
    deletion is re-extractable from the WARC exactly like any other version.
    """
    try:
        body = json.loads(exchange.body)
    except ValueError:
        body = {"http_status": exchange.status}
    return body if isinstance(body, dict) else {"http_status": exchange.status, "body": body}


def _object_kind(key: str) -> str:
    """The catalog's kind of an object a batch stored: "blob", "warc" or "manifests"."""
    return "blob" if key.startswith("blobs/") else key.split("/", 1)[0]


def ledger_entry(version: Version) -> bytes:
    """The ledger entry of a capture (DESIGN §7): digests only, never content."""
    return entry_for_capture(version.record_id, version.version, version.captured_at,
                             version.content_sha256, version.store_version_id)
