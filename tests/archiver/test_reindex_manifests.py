"""`reindex` (docs_from_store) counts a manifest version only when the ledger holds its capture
entry, the rule `recover` applies (archiver.manifests): a manifest its batch never committed adds no
duplicate and no phantom version."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.catalog import Catalog
from archiver.model import Capture
from archiver.readmodel import docs_from_catalog, docs_from_store
from archiver.session import ArchiveSession
from archiver.store import ObjectStore
from archiver.store.keys import manifest_key
from archiver.store.local import LocalStore
from tests.archiver.test_session import exchange, post, publish_ledger
from tests.archiver.test_session_lock import HookedStore, archive_two_posts, clerk_event


def read_models(catalog: Catalog, store: ObjectStore) -> tuple[dict, dict]:
    from_catalog = {doc.record_id: doc.to_json() for doc in docs_from_catalog(catalog, catalog.all_record_ids())}
    from_store = {doc.record_id: doc.to_json() for doc in docs_from_store(store)}
    return from_catalog, from_store


class CrashBeforeCommit(ArchiveSession):
    """A session that dies after its batch is stored, before the catalog commit."""

    def _commit(self, *args, **kwargs) -> None:
        raise RuntimeError("killed before the catalog commit")


def test_a_manifest_written_again_after_a_clerk_event_is_not_counted_twice(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(path)
    events: list[int] = []
    store = HookedStore(tmp_path / "store", "manifests/", lambda: events.append(clerk_event(path, "h1")))
    archive_two_posts(catalog, store)
    publish_ledger(catalog, store)
    assert events == [0] and len(list(store.list("manifests/"))) == 2  # the first is left unreferenced

    from_catalog, from_store = read_models(catalog, store)

    assert from_store == from_catalog
    for doc in from_store.values():
        assert [v["version"] for v in doc["versions"]] == [1]
        assert doc["versions"][0]["ledger_index"] >= 1  # the ledger's index, after the clerk's event at 0


def test_a_batch_that_crashed_before_its_commit_adds_no_version(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    store = LocalStore(tmp_path / "store")
    archive_two_posts(catalog, store)
    crashed = CrashBeforeCommit(catalog, store, "run2")
    crashed.add(Capture("fb", exchange({}), records=(post("1", "edited, never committed"), post("3", "new"))))
    with pytest.raises(RuntimeError):
        crashed.close()
    publish_ledger(catalog, store)
    assert len(list(store.list("manifests/"))) == 2  # the crashed batch's manifest is in the store

    from_catalog, from_store = read_models(catalog, store)

    assert from_store == from_catalog
    assert set(from_store) == {"facebook-1", "facebook-1_2"}
    assert [v["text"] for v in from_store["facebook-1"]["versions"]] == ["a"]


def test_a_version_whose_ledger_entry_differs_is_not_counted(tmp_path: Path) -> None:
    """A manifest line naming a logged (record, version) with other content is not that capture."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    store = LocalStore(tmp_path / "store")
    archive_two_posts(catalog, store)
    publish_ledger(catalog, store)
    line = store.get(next(iter(store.list("manifests/"))).key).splitlines(keepends=True)[0]
    at = line.index(b'"content_sha256": "') + len(b'"content_sha256": "')
    forged = line[:at] + (b"1" if line[at:at + 1] == b"0" else b"0") + line[at + 1:]
    store.put(manifest_key("run9", "fb", 99), forged)

    from_catalog, from_store = read_models(catalog, store)

    assert from_store == from_catalog
