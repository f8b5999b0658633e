"""Stores for the contract suite: the local folder, the spool in front of it, and S3 on the real
MinIO session server.

Each test module gets a fresh bucket with Object Lock enabled. Two S3 stores use it: `s3` writes
without retention (so disposal can be exercised like the local store's) and `s3-locked` writes every
object in COMPLIANCE mode, as a production archive with `object_lock = true` does.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.store.local import LocalStore
from archiver.store.s3 import MiB, S3Store, make_client
from archiver.store.spool import SpoolingStore

SMALL_THRESHOLD = 1 * MiB
SMALL_PART = 5 * MiB


def s3_store(env: dict[str, str], bucket: str, **options: object) -> S3Store:
    """An S3Store on the MinIO that `env` points at (variables as `infra/services start minio` prints)."""
    client = make_client(env["SUNSHINE_S3_ENDPOINT"], "us-east-1", access_key=env["AWS_ACCESS_KEY_ID"],
                         secret_key=env["AWS_SECRET_ACCESS_KEY"])
    options = {"multipart_threshold": SMALL_THRESHOLD, "part_size": SMALL_PART, **options}
    return S3Store(client, bucket, **options)  # type: ignore[arg-type]


def new_bucket_name(label: str) -> str:
    return f"t-{label}-{secrets.token_hex(4)}".lower().replace("_", "-")[:63]


@pytest.fixture(scope="module")
def locked_bucket(minio_env: dict[str, str], request: pytest.FixtureRequest) -> str:
    """A fresh bucket with Object Lock (and so versioning) on, one per test module."""
    name = new_bucket_name(Path(str(request.node.path)).stem.removeprefix("test_"))
    s3_store(minio_env, name).ensure_bucket(object_lock=True)
    return name


@pytest.fixture(params=["local", "spool", "s3", "s3-locked"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    """The store under test; S3 stores get a prefix of their own so tests never see each other's keys."""
    if store_kind == "local":
        yield LocalStore(tmp_path / "store")
        return
    if store_kind == "spool":  # the spool in front of a reachable store must be invisible
        yield SpoolingStore(LocalStore(tmp_path / "store"), tmp_path / "spool")
        return
    env = request.getfixturevalue("minio_env")
    bucket = request.getfixturevalue("locked_bucket")
    prefix = f"{request.node.name}-{secrets.token_hex(3)}"
    yield s3_store(env, bucket, prefix=prefix, object_lock=store_kind == "s3-locked", retention_days=1)
