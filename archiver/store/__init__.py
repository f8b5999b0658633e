"""The object store: the archive's system of record (DESIGN §1).

One `ObjectStore` protocol, two implementations: a local folder (the embedded default) and S3
(scale-out). Every `put` is verified before it returns: the local store reads the file back and
re-hashes it, S3 compares the server's SHA-256 checksum with ours. A store never overwrites an
existing key with different bytes; content-addressed keys make most writes idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from archiver.config import StorageConfig


@dataclass(frozen=True)
class PutResult:
    key: str
    sha256: str
    size: int
    version_id: str | None = None  # S3 VersionId; None on the local store


@dataclass(frozen=True)
class PutItem:
    key: str
    data: bytes
    retain_days: int | None = None


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    version_id: str | None = None


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, *, retain_days: int | None = None,
            replace: bool = False) -> PutResult:
        """Store `data` under `key`, verify it landed intact, and return what was stored.

        Raises `IntegrityError` if the stored bytes do not hash to what was sent, and
        `SunshineError` if `key` already holds different bytes (nothing is overwritten) unless
        `replace` is set: only for the few mutable pointers, such as the latest ledger checkpoint.
        """

    def get(self, key: str, *, version_id: str | None = None) -> bytes:
        """The object's bytes; `KeyError` if there is no such object."""

    def get_range(self, key: str, offset: int, length: int, *, version_id: str | None = None) -> bytes:
        """`length` bytes from `offset` (a WARC member inside a WARC object)."""

    def open(self, key: str, *, version_id: str | None = None):  # -> BinaryIO
        """A readable binary stream of the object, for hashing large objects without loading them."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object whose key starts with `prefix`, in key order."""

    def delete(self, key: str, *, version_id: str | None = None) -> None:
        """Remove an object (retention disposal only); refused while a lock or hold protects it."""

    def ping(self) -> None:
        """Raise `SunshineError` naming the problem if the store cannot be reached."""


def put_all(store: ObjectStore, items: Sequence[PutItem], workers: int = 8) -> list[PutResult]:
    """Put a batch: the store's own `put_many` where it has one, else concurrent `put`s (network
    stores spend their time waiting, so a few requests in flight multiply throughput)."""
    put_many = getattr(store, "put_many", None)
    if put_many is not None:
        return put_many(items)
    if len(items) <= 1:
        return [store.put(item.key, item.data, retain_days=item.retain_days) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda item: store.put(item.key, item.data, retain_days=item.retain_days), items))


def open_store(config: StorageConfig) -> ObjectStore:
    """The store the config selects."""
    if config.backend == "s3":
        from archiver.store.s3 import S3Store

        return S3Store.from_config(config)
    from archiver.store.local import LocalStore

    return LocalStore(config.path)
