"""The archive session on the embedded store: classification, durability, read-model equivalence."""

from __future__ import annotations

import hashlib
import json

import pytest

from archiver.canonical import canonical_json
from archiver.catalog import Catalog
from archiver.ledger import log as ledger_log
from archiver.model import Capture, HttpExchange, MediaBlob, MediaRef, ParsedRecord, Tombstone
from archiver.readmodel import docs_from_catalog, docs_from_store
from archiver.session import ArchiveSession
from archiver.store.keys import blob_key
from archiver.store.local import LocalStore
from archiver.warc import read_exchange


def exchange(body: dict | bytes, url: str = "http://sim/x", status: int = 200) -> HttpExchange:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpExchange(url, "GET", (("Accept", "application/json"),), status, "OK",
                        (("Content-Type", "application/json"),), data, "2026-01-01T00:00:00Z")


def post(native_id: str, text: str, *, status: str = "active", parent: str | None = None,
         media: tuple[MediaRef, ...] = ()) -> ParsedRecord:
    native = {"id": native_id, "message": text, "is_hidden": status == "hidden"}
    return ParsedRecord("facebook", "123", "reply" if parent else "post", native_id, native,
                        f"https://fb.example/{native_id}", "Springfield PD", parent is None, "2026-01-01T00:00:00Z",
                        text, parent_native_id=parent, thread_native_id="1" if parent else None, status=status,
                        media=media)


@pytest.fixture
def archive(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    store = LocalStore(tmp_path / "store")
    yield catalog, store
    catalog.close()


def run(catalog, store, captures, run_id="run1"):
    session = ArchiveSession(catalog, store, run_id)
    for capture in captures:
        session.add(capture)
    return session.close()


def publish_ledger(catalog: Catalog, store) -> None:
    """What `LedgerPublisher.publish_pending` does (without signing) for sessions run without one."""
    start, entries = catalog.unpublished_ledger()
    if entries:
        ledger_log.append_entries(store, start, entries)
        catalog.mark_published(start, len(entries))


def statuses(catalog, record_id):
    rows = catalog.db.execute("SELECT status FROM versions WHERE record_id = ? ORDER BY version", (record_id,))
    return [row[0] for row in rows]


def test_versions_follow_the_platform_and_never_overwrite(archive):
    catalog, store = archive
    first = [post("1", "Road closed on Main St"), post("1_2", "Thanks!", parent="1")]
    stats = run(catalog, store, [Capture("fb", exchange({"data": []}), records=tuple(first))])
    assert (stats.new, stats.edited) == (2, 0)

    stats = run(catalog, store, [Capture("fb", exchange({"data": []}), records=tuple(first))], "run2")
    assert stats.versions_added() == 0 and stats.unchanged == 2

    changed = [post("1", "Road reopened on Main St"), post("1_2", "Thanks!", parent="1", status="hidden")]
    stats = run(catalog, store, [Capture("fb", exchange({"data": []}), records=tuple(changed))], "run3")
    assert (stats.edited, stats.hidden) == (1, 1)

    gone = exchange({"error": {"code": 100, "message": "does not exist"}}, status=400)
    stats = run(catalog, store, [Capture("fb", gone, tombstones=(Tombstone("facebook", "1"),))], "run4")
    assert stats.deleted == 1
    assert statuses(catalog, "facebook-1") == ["active", "edited", "deleted"]
    assert statuses(catalog, "facebook-1_2") == ["active", "hidden"]

    # a tombstone for something already gone (or never archived) adds nothing
    stats = run(catalog, store, [Capture("fb", gone, tombstones=(Tombstone("facebook", "1"),
                                                                  Tombstone("facebook", "999")))], "run5")
    assert stats.versions_added() == 0


def test_every_version_points_at_its_exact_exchange_and_blob(archive):
    catalog, store = archive
    body = {"data": [{"id": "1", "message": "hi"}], "paging": {}}
    record = post("1", "hi")
    run(catalog, store, [Capture("fb", exchange(body), records=(record,))])
    row = catalog.db.execute("SELECT * FROM versions").fetchone()
    content = store.get(blob_key(row["content_sha256"]))
    assert content == canonical_json(record.native)
    assert hashlib.sha256(content).hexdigest() == row["content_sha256"]
    member = store.get_range(row["warc_key"], row["warc_offset"], row["warc_length"])
    stored = read_exchange(member)
    assert stored.body == json.dumps(body).encode()
    assert stored.status == 200


def test_every_stored_object_is_in_the_catalog_with_its_hash(archive):
    catalog, store = archive
    image = MediaBlob("http://sim/media/a.png", "image/png", b"\x89PNG fake")
    record = post("1", "photo", media=(MediaRef(image.url, "image/png"),))
    run(catalog, store, [Capture("fb", exchange({}), records=(record,)), Capture("fb", exchange(b"png"), media=(image,))])
    stored = {item.key for item in store.list()}
    cataloged = {row["key"]: row["sha256"] for row in catalog.objects()}
    assert stored == set(cataloged)
    for key, sha in cataloged.items():
        assert hashlib.sha256(store.get(key)).hexdigest() == sha
    doc = docs_from_catalog(catalog, ["facebook-1"])[0]
    assert doc.media[0]["sha256"] == hashlib.sha256(image.data).hexdigest()


def test_failed_captures_are_recorded_with_their_exchange(archive):
    catalog, store = archive
    bad = exchange(b"{not json", url="http://sim/bad")
    stats = run(catalog, store, [Capture("fb", bad, error="invalid JSON at line 1")])
    assert stats.failed == 1
    row = catalog.db.execute("SELECT * FROM failed_captures").fetchone()
    assert row["url"] == "http://sim/bad" and "invalid JSON" in row["error"]
    assert store.exists(row["warc_key"])


def test_store_alone_rebuilds_the_same_read_model(archive):
    catalog, store = archive
    run(catalog, store, [Capture("fb", exchange({}), records=(post("1", "a"), post("1_2", "b", parent="1")))])
    run(catalog, store, [Capture("fb", exchange({}), records=(post("1", "a2"),))], "run2")
    publish_ledger(catalog, store)  # the store's versions count where its ledger holds them
    from_catalog = {doc.record_id: doc.to_json() for doc in docs_from_catalog(catalog, catalog.all_record_ids())}
    from_store = {doc.record_id: doc.to_json() for doc in docs_from_store(store)}
    assert from_store == from_catalog
    assert [v["status"] for v in from_store["facebook-1"]["versions"]] == ["active", "edited"]
    assert from_store["facebook-1_2"]["parent_id"] == "facebook-1"


def test_hostile_text_is_stored_byte_exact(archive):
    catalog, store = archive
    text = "<script>alert(1)</script>\ud800\u202e" + "x" * 1_000_000
    record = post("1", text)
    run(catalog, store, [Capture("fb", exchange({}), records=(record,))])
    row = catalog.db.execute("SELECT content_sha256, text FROM versions").fetchone()
    assert json.loads(store.get(blob_key(row["content_sha256"])))["message"] == text
    assert row["text"] == text.replace("\ud800", "\ufffd")  # display copy; the blob is exact


def test_batches_split_by_count(archive, monkeypatch):
    catalog, store = archive
    monkeypatch.setattr("archiver.session.BATCH_CAPTURES", 3)
    captures = [Capture("fb", exchange({"n": n}), records=(post(str(n), f"post {n}"),)) for n in range(10)]
    run(catalog, store, captures)
    assert len(list(store.list("warc/"))) == 4
    assert catalog.count("versions") == 10
    assert [row[0] for row in catalog.db.execute("SELECT ledger_index FROM versions ORDER BY ledger_index")] == list(range(10))
