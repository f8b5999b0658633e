"""Parallel streaming re-hash, on both stores: finds damage and missing objects, keeps input order."""

from __future__ import annotations

import hashlib
import os

from archiver.store.rehash import rehash_objects, stream_sha256


def test_rehash_reports_each_object_in_order(store):
    items = []
    for n in range(12):
        data = os.urandom(1000 + n * 7919)
        result = store.put(f"rehash/{n:02d}", data)
        items.append((result.key, result.version_id, result.sha256))
    items[3] = (items[3][0], items[3][1], "0" * 64)  # the catalog says otherwise: a mismatch
    items.append(("rehash/missing", None, "1" * 64))
    report = list(rehash_objects(store, items, workers=3, chunk_size=4096))
    assert [key for key, _, _ in report] == [key for key, _, _ in items]
    assert [ok for _, ok, _ in report] == [n != 3 for n in range(12)] + [False]
    assert report[3][2] == stream_sha256(store, "rehash/03")
    assert report[-1] == ("rehash/missing", False, None)


def test_rehash_reads_the_named_version(store):
    first = store.put("rehash/pointer", b"one")
    store.put("rehash/pointer", b"two", replace=True)
    expected = hashlib.sha256(b"one" if first.version_id else b"two").hexdigest()
    [(_, ok, actual)] = rehash_objects(store, [("rehash/pointer", first.version_id, expected)])
    assert ok and actual == expected
