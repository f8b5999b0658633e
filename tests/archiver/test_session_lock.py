"""A batch's uploads never hold the catalog's write lock (another writer, e.g. `sunshine hold add` in
another process, must not fail with "database is locked" because the store is slow)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from archiver.catalog import Catalog
from archiver.ledger_events import append_event
from archiver.model import Capture, Version, WarcRef
from archiver.session import ArchiveSession, ledger_entry
from archiver.store import PutResult
from archiver.store.local import LocalStore
from tests.archiver.test_session import exchange, post


class HookedStore(LocalStore):
    """A local store that runs `hook` while a key with the given prefix is being put: the upload is
    "in progress" for as long as the hook runs, which is when another writer strikes."""

    def __init__(self, root: Path, prefix: str, hook: Callable[[], None], times: int = 1) -> None:
        super().__init__(root)
        self.prefix, self.hook, self.times = prefix, hook, times

    def put(self, key: str, data: bytes, *, retain_days: int | None = None, replace: bool = False) -> PutResult:
        if key.startswith(self.prefix) and self.times > 0:
            self.times -= 1
            self.hook()
        return super().put(key, data, retain_days=retain_days, replace=replace)


def clerk_event(catalog_path: Path, hold_id: str) -> int:
    """What a clerk's command in another process does: a write transaction with a short busy timeout."""
    conn = sqlite3.connect(catalog_path, isolation_level=None, timeout=0.2)
    try:
        conn.execute("BEGIN IMMEDIATE")
        index = append_event(conn, "hold", {"hold_id": hold_id})
        conn.execute("COMMIT")
        return index
    finally:
        conn.close()


def archive_two_posts(catalog: Catalog, store: LocalStore) -> None:
    session = ArchiveSession(catalog, store, "run1")
    session.add(Capture("fb", exchange({}), records=(post("1", "a"), post("1_2", "b", parent="1"))))
    session.close()


def assert_ledger_matches_catalog_and_manifest(catalog: Catalog, store: LocalStore, events: list[int]) -> None:
    ledger = {row[0]: bytes(row[1]) for row in catalog.db.execute("SELECT idx, entry FROM ledger")}
    assert sorted(ledger) == list(range(len(ledger))), "the ledger has a gap or a reused index"
    versions = [dict(row) for row in catalog.db.execute("SELECT * FROM versions")]
    assert len(ledger) == len(versions) + len(events)
    for row in versions:
        version = Version(row["record_id"], row["version"], row["captured_at"], row["status"],
                          row["content_sha256"], WarcRef(row["warc_key"], row["warc_offset"], row["warc_length"]),
                          row["ledger_index"], row["store_version_id"])
        assert ledger[row["ledger_index"]] == ledger_entry(version)
    for index in events:
        assert json.loads(ledger[index])["type"] == "hold"
    manifests = [row["key"] for row in catalog.objects() if row["kind"] == "manifests"]
    assert len(manifests) == 1
    named = {(line["version"]["warc_ref"]["key"], line["record"]["record_id"]): line["version"]["ledger_index"]
             for line in map(json.loads, store.get(manifests[0]).splitlines())}
    assert named == {(v["warc_key"], v["record_id"]): v["ledger_index"] for v in versions}


def test_a_clerk_can_write_while_the_warc_uploads(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(path)
    events: list[int] = []
    store = HookedStore(tmp_path / "store", "warc/", lambda: events.append(clerk_event(path, "h1")))
    archive_two_posts(catalog, store)
    assert len(events) == 1
    assert_ledger_matches_catalog_and_manifest(catalog, store, events)


def test_a_clerk_event_during_the_manifest_upload_moves_the_batch_after_it(tmp_path: Path) -> None:
    """The manifest named indexes the clerk's event then took: it is written again with the right ones."""
    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(path)
    events: list[int] = []
    store = HookedStore(tmp_path / "store", "manifests/", lambda: events.append(clerk_event(path, "h1")))
    archive_two_posts(catalog, store)
    assert events == [0]
    assert_ledger_matches_catalog_and_manifest(catalog, store, events)
    assert len(list(store.list("manifests/"))) == 2  # the first, unreferenced, like a crashed batch's


@pytest.mark.parametrize("prefix", ["warc/", "manifests/"])
def test_a_slow_store_blocks_no_other_writer(tmp_path: Path, prefix: str) -> None:
    """Real concurrency: a writer with a 0.2 s busy timeout, while a put takes a second."""
    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(path)
    started, outcome = threading.Event(), []

    def other_writer() -> None:
        started.wait(5)
        try:
            outcome.append(clerk_event(path, "h2"))
        except sqlite3.OperationalError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=other_writer)
    thread.start()
    store = HookedStore(tmp_path / "store", prefix, lambda: (started.set(), time.sleep(1.0)))
    archive_two_posts(catalog, store)
    thread.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], int), outcome
    assert_ledger_matches_catalog_and_manifest(catalog, store, outcome)
