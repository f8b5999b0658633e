"""The spool: captures survive an S3 outage and reach S3 exactly once when it is back.

The outage is real: a private MinIO (never the shared session server) is started, stopped while
puts happen, and started again on the same port and data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from archiver.errors import SunshineError
from archiver.store import PutItem
from archiver.store.local import LocalStore
from archiver.store.s3 import S3Store, make_client
from archiver.store.spool import SpooledPutResult, SpoolingStore
from infra import minio_server
from infra.service_state import free_port


def _fast_failing(endpoint: str, env: dict[str, str], bucket: str, **options) -> S3Store:
    client = make_client(endpoint, "us-east-1", access_key=env["AWS_ACCESS_KEY_ID"],
                         secret_key=env["AWS_SECRET_ACCESS_KEY"], max_attempts=1)
    return S3Store(client, bucket, **options)


class _Sleeps:
    """Records the backoff instead of waiting it out."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_put_goes_through_and_leaves_nothing_spooled(tmp_path: Path):
    spool = SpoolingStore(LocalStore(tmp_path / "remote"), tmp_path / "spool")
    result = spool.put("a/b", b"data")
    assert not isinstance(result, SpooledPutResult)
    assert spool.pending() == []
    assert LocalStore(tmp_path / "remote").get("a/b") == b"data"
    assert list(Path(tmp_path / "spool").iterdir()) == []


def test_refusal_is_raised_and_not_kept(tmp_path: Path):
    remote = LocalStore(tmp_path / "remote")
    remote.put("fixed", b"original")
    spool = SpoolingStore(remote, tmp_path / "spool")
    with pytest.raises(SunshineError, match="different content"):
        spool.put("fixed", b"changed")
    assert spool.pending() == []


def test_unreachable_remote_spools_with_bounded_backoff(tmp_path: Path, minio_env):
    dead = _fast_failing(f"http://127.0.0.1:{free_port()}", minio_env, "bucket")
    sleeps = _Sleeps()
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps(seconds)
        now[0] += seconds
    spool = SpoolingStore(dead, tmp_path / "spool", retry_seconds=3.0, first_delay=0.25, cooldown=30,
                          sleep=sleep, clock=lambda: now[0])
    first = spool.put("k/1", b"one")
    assert isinstance(first, SpooledPutResult) and first.spooled and first.version_id is None
    assert first.sha256 == hashlib.sha256(b"one").hexdigest()
    assert sleeps.calls == [0.25, 0.5, 1.0]  # doubling, within the 3 s budget
    spool.put("k/2", b"two")  # breaker open: straight to the spool, no more waiting
    assert sleeps.calls == [0.25, 0.5, 1.0]
    assert spool.pending() == ["k/1", "k/2"]
    assert spool.get("k/2") == b"two" and spool.get_range("k/1", 1, 5) == b"ne"
    assert spool.open("k/1").read() == b"one" and spool.exists("k/1")
    with pytest.raises(SunshineError, match="different content"):
        spool.put("k/1", b"other")
    assert spool.drain() == ([], ["k/1", "k/2"])


@pytest.fixture
def private_minio(tmp_path: Path):
    """A MinIO of this test's own, which the test may stop and start again."""
    instance = minio_server.launch(tmp_path / "minio-data", tmp_path / "minio.log")
    holder = {"instance": instance}
    yield holder
    minio_server.terminate(holder["instance"])


def test_outage_spools_then_drain_uploads_everything_exactly_once(tmp_path: Path, private_minio):
    instance = private_minio["instance"]
    env = instance.env()
    store = _fast_failing(instance.endpoint, env, "outage", object_lock=True, retention_days=1,
                          multipart_threshold=1024 * 1024)
    store.ensure_bucket()
    spool = SpoolingStore(store, tmp_path / "spool", retry_seconds=0.5, first_delay=0.1)
    before = spool.put("before/outage", b"stored directly")
    assert before.version_id is not None

    minio_server.terminate(instance, remove_data=False)
    captures = {f"warc/run1/capture-{n:03d}": f"capture {n}".encode() * (n + 1) for n in range(20)}
    captures["blobs/big"] = bytes(range(256)) * (24 * 1024)  # 6 MiB: multipart on the way up
    results = [spool.put(key, data) for key, data in list(captures.items())[:10]]
    results += spool.put_many([PutItem(key, data) for key, data in list(captures.items())[10:]])
    assert all(isinstance(result, SpooledPutResult) for result in results)
    assert spool.put("warc/run1/capture-000", captures["warc/run1/capture-000"]).spooled  # same bytes again
    assert sorted(spool.pending()) == sorted(captures)
    assert spool.get("blobs/big") == captures["blobs/big"]  # reads fall back to the spool
    assert spool.drain() == ([], spool.pending())  # still away: nothing lost, nothing uploaded

    restarted = minio_server.launch(Path(instance.data_dir), Path(instance.log_path),
                                    port=int(instance.endpoint.rsplit(":", 1)[1]),
                                    access_key=instance.access_key, secret_key=instance.secret_key)
    private_minio["instance"] = restarted
    uploaded, pending = spool.drain()
    assert pending == [] and spool.pending() == []
    assert sorted(result.key for result in uploaded) == sorted(captures)
    for result in uploaded:
        assert result.version_id is not None
        assert result.sha256 == hashlib.sha256(captures[result.key]).hexdigest()
    for key, data in captures.items():
        assert store.get(key) == data
        assert len(store.versions(key)) == 1  # exactly once
        assert store.retention(key)[0] == "COMPLIANCE"
    assert spool.drain() == ([], [])
    assert store.get("before/outage") == b"stored directly"


def test_drain_after_a_crash_between_upload_and_unspool_counts_once(tmp_path: Path, minio_env):
    from tests.archiver.store.conftest import new_bucket_name, s3_store

    store = s3_store(minio_env, new_bucket_name("crash"))
    store.ensure_bucket(object_lock=False)
    dead = _fast_failing(f"http://127.0.0.1:{free_port()}", minio_env, store.bucket)
    SpoolingStore(dead, tmp_path / "spool", retry_seconds=0).put("k", b"bytes")
    store.put("k", b"bytes")  # the upload that happened before the crash
    uploaded, pending = SpoolingStore(store, tmp_path / "spool").drain()
    assert [result.key for result in uploaded] == ["k"] and pending == []
    assert len(store.versions("k")) == 1


def test_damaged_spool_file_is_named_and_kept(tmp_path: Path):
    remote = LocalStore(tmp_path / "remote")
    dead = LocalStore(tmp_path / "not-a-folder")
    (tmp_path / "not-a-folder").write_text("a file where the store's folder should be")
    offline = SpoolingStore(dead, tmp_path / "spool", retry_seconds=0)
    assert offline.put("good", b"fine").spooled
    assert offline.put("bad", b"will rot").spooled
    next(p for p in (tmp_path / "spool").glob("*.data") if p.read_bytes() == b"will rot").write_bytes(b"rotten!!")
    with pytest.raises(SunshineError, match="spool file .* for object bad is damaged"):
        SpoolingStore(remote, tmp_path / "spool").drain()
    assert remote.get("good") == b"fine"
    assert SpoolingStore(remote, tmp_path / "spool").pending() == ["bad"]
