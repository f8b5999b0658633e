"""One contract for every `ObjectStore`: the local folder and S3 (real MinIO) must behave alike."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.errors import SunshineError
from archiver.store import PutItem, PutResult

ODD_KEYS = [
    "blobs/sha256/ab/" + "ab" * 32,
    "with space/and+plus=equals&amp",
    "unicodé/ñandú/東京.json",
    "percent%20encoded/literal%2F",
    "question?mark#hash",
    "semi;colon,comma@at!bang'quote(paren)",
    "a" * 200,
]


def test_put_get_round_trip_reports_sha256_and_size(store):
    data = b'{"id": 1, "text": "hello"}'
    result = store.put("records/one.json", data)
    assert isinstance(result, PutResult)
    assert result.key == "records/one.json"
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size == len(data)
    assert store.get("records/one.json") == data
    assert store.exists("records/one.json")


def test_missing_object_is_key_error(store):
    assert not store.exists("nope/missing")
    with pytest.raises(KeyError):
        store.get("nope/missing")
    with pytest.raises(KeyError):
        store.open("nope/missing")
    with pytest.raises(KeyError):
        store.delete("nope/missing")


def test_empty_object(store):
    store.put("empty", b"")
    assert store.get("empty") == b""
    assert store.get_range("empty", 0, 10) == b""


def test_get_range_reads_a_slice_and_stops_at_the_end(store):
    data = bytes(range(256)) * 4
    store.put("warc/run/a.warc.gz", data)
    assert store.get_range("warc/run/a.warc.gz", 10, 20) == data[10:30]
    assert store.get_range("warc/run/a.warc.gz", 1000, 100) == data[1000:]
    assert store.get_range("warc/run/a.warc.gz", 5000, 10) == b""
    assert store.get_range("warc/run/a.warc.gz", 3, 0) == b""


def test_open_streams_the_object(store):
    data = os.urandom(300_000)
    store.put("stream/blob", data)
    with store.open("stream/blob") as handle:
        chunks = []
        while chunk := handle.read(65536):
            chunks.append(chunk)
    assert b"".join(chunks) == data


def test_same_bytes_again_is_idempotent(store):
    first = store.put("idem", b"same")
    second = store.put("idem", b"same")
    assert second == first
    if first.version_id is not None:
        assert len(store.versions("idem")) == 1  # no second upload, no second version


def test_different_bytes_are_not_overwritten(store):
    store.put("fixed", b"original")
    with pytest.raises(SunshineError, match="already exists with different content"):
        store.put("fixed", b"changed")
    assert store.get("fixed") == b"original"


def test_replace_writes_a_new_current_version(store):
    first = store.put("ledger/checkpoint", b"size 1")
    second = store.put("ledger/checkpoint", b"size 2", replace=True)
    assert store.get("ledger/checkpoint") == b"size 2"
    if first.version_id is not None:  # S3 keeps the earlier version, readable by its id
        assert second.version_id != first.version_id
        assert store.get("ledger/checkpoint", version_id=first.version_id) == b"size 1"
        assert store.get("ledger/checkpoint", version_id=second.version_id) == b"size 2"


def test_put_many_stores_a_batch_in_order_and_verified(store):
    items = [PutItem(f"batch/{n:02d}", os.urandom(100 + n)) for n in range(10)]
    items.append(PutItem("batch/03", items[3].data))  # the same object twice in one batch
    results = store.put_many(items)
    assert [result.key for result in results] == [item.key for item in items]
    for item, result in zip(items, results, strict=True):
        assert result.sha256 == hashlib.sha256(item.data).hexdigest() and result.size == len(item.data)
        assert store.get(item.key) == item.data
    assert store.put_many([]) == []
    with pytest.raises(SunshineError, match="already exists with different content"):
        store.put_many([PutItem("batch/new", b"fresh"), PutItem("batch/00", b"changed")])
    assert store.get("batch/00") == items[0].data


def test_list_is_prefix_filtered_and_key_ordered(store):
    keys = ["b/2", "a/1", "b/1", "c", "b/10", "ba"]
    for key in keys:
        store.put(key, key.encode())
    assert [item.key for item in store.list()] == sorted(keys)
    assert [item.key for item in store.list("b/")] == ["b/1", "b/10", "b/2"]
    assert [(item.key, item.size) for item in store.list("c")] == [("c", 1)]
    assert list(store.list("zzz")) == []


@pytest.mark.parametrize("key", ODD_KEYS)
def test_keys_with_odd_characters_round_trip(store, key):
    store.put(key, key.encode())
    assert store.get(key) == key.encode()
    assert [item.key for item in store.list(key)] == [key]


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "./a", "trailing/"])
def test_invalid_keys_are_refused(store, key):
    with pytest.raises(ValueError):
        store.put(key, b"x")


def test_large_object_round_trips(store):
    """Above the multipart threshold for S3 (1 MiB in these tests, 5 MiB parts): three parts."""
    data = os.urandom(11 * 1024 * 1024 + 12345)
    result = store.put("big/object", data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size == len(data)
    assert store.get("big/object") == data
    assert store.get_range("big/object", 6 * 1024 * 1024 - 5, 10) == data[6 * 1024 * 1024 - 5:6 * 1024 * 1024 + 5]
    assert store.put("big/object", data) == result


def test_delete_removes_or_refuses_under_retention(store, store_kind):
    store.put("dispose/me", b"old record")
    if store_kind == "s3-locked":
        with pytest.raises(SunshineError, match="COMPLIANCE retention until .*; not deleted"):
            store.delete("dispose/me")
        assert store.get("dispose/me") == b"old record"
        return
    store.delete("dispose/me")
    assert not store.exists("dispose/me")
    with pytest.raises(KeyError):
        store.get("dispose/me")
    assert list(store.list("dispose/")) == []


def test_ping_answers(store):
    store.ping()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048), offset=st.integers(0, 2100), length=st.integers(0, 2100))
def test_any_bytes_read_back_exactly(store, data, offset, length):
    key = "prop/" + hashlib.sha256(data).hexdigest()
    result = store.put(key, data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert store.get(key) == data
    assert store.get_range(key, offset, length) == data[offset:offset + length]
