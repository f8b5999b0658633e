"""What only S3 does: server-side checksum checks, Object Lock retention, legal holds, versions.

All against the real MinIO session server; "refused" always means MinIO itself refused, checked by
also calling the raw client past our own pre-checks.
"""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from archiver.config import StorageConfig
from archiver.errors import IntegrityError, SunshineError
from archiver.store.s3 import S3Store, StoreUnavailableError
from infra.service_state import free_port
from tests.archiver.store.conftest import new_bucket_name, s3_store
from tests.archiver.store.tcp_proxy import s3_proxy


@pytest.fixture
def locked(minio_env, locked_bucket, request) -> S3Store:
    return s3_store(minio_env, locked_bucket, prefix=request.node.name, object_lock=True, retention_days=2)


@pytest.fixture
def unlocked(minio_env, locked_bucket, request) -> S3Store:
    """Writes without retention, in the same Object Lock bucket (so holds can be placed)."""
    return s3_store(minio_env, locked_bucket, prefix=request.node.name)


def _b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_server_rejects_body_that_does_not_match_the_checksum(unlocked):
    """The raw protocol: a checksum of the original bytes with an altered body is refused, not stored."""
    key = unlocked.prefix + "corrupt/raw"
    with pytest.raises(ClientError) as refused:
        unlocked.client.put_object(Bucket=unlocked.bucket, Key=key, Body=b"hellO world",
                                   ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64sha(b"hello world"))
    assert refused.value.response["Error"]["Code"] in ("XAmzContentChecksumMismatch", "BadDigest")
    assert not unlocked.exists("corrupt/raw")
    assert unlocked.versions("corrupt/raw") == []


def _corrupt_body_before_signing(store: S3Store, operation: str) -> None:
    """Flip a byte of the request body after our checksum was computed, as a bad link or disk would."""
    def corrupt(request, **_):
        body = bytearray(request.data if isinstance(request.data, bytes) else request.data.read())
        body[0] ^= 0xFF
        request.data = bytes(body)
    store.client.meta.events.register(f"before-sign.s3.{operation}", corrupt)


def test_corrupted_put_is_an_integrity_error_and_nothing_is_stored(minio_env, locked_bucket):
    """The body is damaged on the wire after we signed and checksummed it: our own signed PUT is
    refused, so is boto3's repeat of it, and the error says nothing was stored."""
    with s3_proxy(minio_env["SUNSHINE_S3_ENDPOINT"], flip_put_body=True) as endpoint:
        store = s3_store(dict(minio_env, SUNSHINE_S3_ENDPOINT=endpoint), locked_bucket, prefix="corrupt-put")
        with pytest.raises(IntegrityError, match="nothing was stored"):
            store.put("blob", b"the real bytes")
    assert not s3_store(minio_env, locked_bucket, prefix="corrupt-put").exists("blob")


def test_corrupted_part_aborts_the_multipart_upload(minio_env, locked_bucket):
    store = s3_store(minio_env, locked_bucket, prefix="corrupt-part")
    _corrupt_body_before_signing(store, "UploadPart")
    with pytest.raises(IntegrityError, match="part 1"):
        store.put("big", b"x" * (6 * 1024 * 1024))
    assert not store.exists("big")
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix)
    assert uploads.get("Uploads", []) == []


def test_a_server_reporting_another_checksum_is_an_integrity_error(minio_env, locked_bucket):
    swap = (_b64sha(b"payload").encode(), _b64sha(b"something else").encode())
    with s3_proxy(minio_env["SUNSHINE_S3_ENDPOINT"], response_replace=swap) as endpoint:
        store = s3_store(dict(minio_env, SUNSHINE_S3_ENDPOINT=endpoint), locked_bucket, prefix="lying-server")
        with pytest.raises(IntegrityError, match="S3 stored checksum"):
            store.put("blob", b"payload")


def test_a_server_reporting_another_checksum_through_boto3_is_an_integrity_error(minio_env, locked_bucket):
    """The same check on the boto3 path (multipart uploads, and every request the direct path hands back)."""
    store = s3_store(minio_env, locked_bucket, prefix="lying-server-boto3")
    store._direct = None

    def lie(parsed, **_):
        parsed["ChecksumSHA256"] = _b64sha(b"something else")
    store.client.meta.events.register("after-call.s3.PutObject", lie)
    with pytest.raises(IntegrityError, match="S3 stored checksum"):
        store.put("blob", b"payload")


def test_puts_go_through_the_direct_path_and_reuse_connections(unlocked):
    through_boto3 = []
    unlocked.client.meta.events.register("before-call.s3.PutObject", lambda **_: through_boto3.append(1))
    for number in range(20):
        unlocked.put(f"direct/{number}", f"object {number}".encode())
    assert through_boto3 == [] and unlocked._direct.connections_opened <= 2
    assert [unlocked.get(f"direct/{number}") for number in range(20)] == [f"object {n}".encode() for n in range(20)]


def test_every_object_gets_compliance_retention(locked):
    before = datetime.now(UTC)
    default = locked.put("retained/default", b"a")
    custom = locked.put("retained/custom", b"b", retain_days=5)
    mode, until = locked.retention("retained/default", default.version_id)
    assert mode == "COMPLIANCE"
    assert before + timedelta(days=2) - timedelta(seconds=5) <= until <= datetime.now(UTC) + timedelta(days=2)
    mode, until = locked.retention("retained/custom", custom.version_id)
    assert mode == "COMPLIANCE"
    assert until >= before + timedelta(days=5) - timedelta(seconds=5)


def test_locked_version_cannot_be_deleted(locked):
    result = locked.put("locked/record", b"evidence")
    with pytest.raises(SunshineError, match=rf"version {result.version_id} is under COMPLIANCE retention until"):
        locked.delete("locked/record", version_id=result.version_id)
    with pytest.raises(ClientError):  # MinIO itself refuses, not just our pre-check
        locked.client.delete_object(Bucket=locked.bucket, Key=locked.prefix + "locked/record",
                                    VersionId=result.version_id)
    assert locked.get("locked/record", version_id=result.version_id) == b"evidence"


def test_replacing_a_locked_object_keeps_the_old_version_locked(locked):
    old = locked.put("locked/pointer", b"v1")
    new = locked.put("locked/pointer", b"v2", replace=True)
    assert locked.get("locked/pointer") == b"v2"
    assert locked.get("locked/pointer", version_id=old.version_id) == b"v1"
    assert {item.version_id for item in locked.versions("locked/pointer")} == {old.version_id, new.version_id}
    with pytest.raises(SunshineError, match="not deleted"):
        locked.delete("locked/pointer")
    assert len(locked.versions("locked/pointer")) == 2  # refused as a whole: nothing half-deleted


def test_legal_hold_blocks_deletion_until_released(unlocked):
    result = unlocked.put("held/record", b"subpoenaed")
    assert unlocked.legal_hold("held/record", result.version_id) is False
    unlocked.set_legal_hold("held/record", result.version_id, True)
    assert unlocked.legal_hold("held/record", result.version_id) is True
    with pytest.raises(SunshineError, match="under a legal hold; not deleted"):
        unlocked.delete("held/record", version_id=result.version_id)
    with pytest.raises(ClientError):
        unlocked.client.delete_object(Bucket=unlocked.bucket, Key=unlocked.prefix + "held/record",
                                      VersionId=result.version_id)
    unlocked.set_legal_hold("held/record", result.version_id, False)
    assert unlocked.legal_hold("held/record", result.version_id) is False
    unlocked.delete("held/record", version_id=result.version_id)
    assert not unlocked.exists("held/record")


def test_delete_without_version_disposes_every_version(unlocked):
    unlocked.put("pointer", b"1")
    unlocked.put("pointer", b"2", replace=True)
    unlocked.delete("pointer")
    assert unlocked.versions("pointer") == []
    raw = unlocked.client.list_object_versions(Bucket=unlocked.bucket, Prefix=unlocked.prefix + "pointer")
    assert raw.get("Versions", []) == [] and raw.get("DeleteMarkers", []) == []


def test_prefix_places_objects_under_it(minio_env, locked_bucket):
    config = StorageConfig(backend="s3", bucket=locked_bucket, endpoint_url=minio_env["SUNSHINE_S3_ENDPOINT"],
                           prefix="/tenant-a/")
    store = S3Store.from_config(config, environ=minio_env)
    store.put("x/y", b"z")
    raw = store.client.head_object(Bucket=locked_bucket, Key="tenant-a/x/y")
    assert raw["ContentLength"] == 1
    assert [item.key for item in store.list("x/")] == ["x/y"]


def test_missing_credentials_are_a_clear_error(monkeypatch, tmp_path: Path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = StorageConfig(backend="s3", bucket="any", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(SunshineError, match="AWS_ACCESS_KEY_ID"):
        S3Store.from_config(config, environ={})


def test_wrong_credentials_are_a_clear_error(minio_env, locked_bucket):
    env = {**minio_env, "AWS_SECRET_ACCESS_KEY": "wrong-secret-key"}
    config = StorageConfig(backend="s3", bucket=locked_bucket, endpoint_url=minio_env["SUNSHINE_S3_ENDPOINT"])
    with pytest.raises(SunshineError, match="AWS_SECRET_ACCESS_KEY"):
        S3Store.from_config(config, environ=env).ping()


def test_missing_bucket_is_a_clear_error(minio_env):
    config = StorageConfig(backend="s3", bucket=new_bucket_name("absent"),
                           endpoint_url=minio_env["SUNSHINE_S3_ENDPOINT"])
    with pytest.raises(SunshineError, match="does not exist"):
        S3Store.from_config(config, environ=minio_env).ping()


def test_dead_server_fails_fast(minio_env):
    config = StorageConfig(backend="s3", bucket="anything", endpoint_url=f"http://127.0.0.1:{free_port()}")
    store = S3Store.from_config(config, environ=minio_env)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="unreachable"):
        store.put("k", b"v")
    assert time.monotonic() - started < 10


def test_existing_bucket_without_lock_is_refused_for_object_lock(minio_env):
    name = new_bucket_name("nolock")
    s3_store(minio_env, name).ensure_bucket(object_lock=False)
    s3_store(minio_env, name).ensure_bucket(object_lock=False)  # idempotent
    with pytest.raises(SunshineError, match="without Object Lock"):
        s3_store(minio_env, name).ensure_bucket(object_lock=True)


def test_listing_translates_errors_too(minio_env):
    missing = s3_store(minio_env, new_bucket_name("absent"))
    with pytest.raises(SunshineError, match="does not exist"):
        list(missing.list())
    config = StorageConfig(backend="s3", bucket="anything", endpoint_url=f"http://127.0.0.1:{free_port()}")
    client = S3Store.from_config(config, environ=minio_env)
    with pytest.raises(StoreUnavailableError):
        list(client.list())


def test_get_detects_bytes_that_do_not_match_their_recorded_sha256(unlocked):
    """Damage at rest (or a writer that bypassed us): the read is refused, not returned."""
    unlocked.client.put_object(Bucket=unlocked.bucket, Key=unlocked.prefix + "rotten", Body=b"changed",
                               Metadata={"sha256": hashlib.sha256(b"original").hexdigest()})
    with pytest.raises(IntegrityError, match="rotten: read sha256"):
        unlocked.get("rotten")


def test_open_streams_through_signed_gets_and_reuses_connections(unlocked):
    """`open` (what verify reads every object with) signs its own GETs: odd keys, versions, a stream
    abandoned half-way, a missing key and wrong credentials all behave as through boto3."""
    key = "odd keys/ä+%20=&?#~!'(),;@$*[]/x y.bin"
    old = unlocked.put(key, b"first" * 100_000)
    unlocked.put(key, b"second", replace=True)
    with unlocked.open(key, version_id=old.version_id) as stream:
        assert type(stream).__name__ == "_Body"  # the lean path, not a boto3 fallback
        assert stream.read() == b"first" * 100_000
    with unlocked.open(key) as stream:
        assert stream.read(3) == b"sec"  # closed with bytes unread: that connection is dropped
    for _ in range(20):
        with unlocked.open(key) as stream:
            assert stream.read() == b"second"
    assert unlocked._direct.connections_opened <= 2  # the rest were reused
    with pytest.raises(KeyError):
        unlocked.open("not/there")


def test_open_retries_a_kept_alive_connection_the_server_dropped(unlocked):
    unlocked.put("stale", b"still here")
    with unlocked.open("stale") as stream:
        assert stream.read() == b"still here"
    [idle] = unlocked._direct._idle
    idle.sock.close()  # as if the server timed the idle connection out
    with unlocked.open("stale") as stream:
        assert type(stream).__name__ == "_Body"
        assert stream.read() == b"still here"
    assert unlocked._direct.connections_opened == 2


def test_a_connection_cut_mid_object_is_an_outage_not_a_shorter_object(minio_env, locked_bucket):
    """Read through a proxy that drops the connection after 64 KiB: verify must not hash what
    arrived and call the object damaged, it must say the store went away."""
    upstream = s3_store(minio_env, locked_bucket, prefix="cut")
    upstream.put("big", b"x" * 1_000_000)
    with s3_proxy(minio_env["SUNSHINE_S3_ENDPOINT"], cut_response_after=64 * 1024) as endpoint:
        store = s3_store(dict(minio_env, SUNSHINE_S3_ENDPOINT=endpoint), locked_bucket, prefix="cut")
        with store.open("big") as stream:
            assert type(stream).__name__ == "_Body"
            with pytest.raises(StoreUnavailableError, match="S3 connection"):
                stream.read()



def test_open_with_wrong_credentials_is_a_clear_error(minio_env, locked_bucket):
    good = s3_store(minio_env, locked_bucket, prefix="creds-open")
    good.put("k", b"v")
    bad = s3_store(dict(minio_env, AWS_SECRET_ACCESS_KEY="wrong-secret"), locked_bucket, prefix="creds-open")
    with pytest.raises(SunshineError, match="rejected the credentials"):
        bad.open("k")
