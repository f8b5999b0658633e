"""What some stores can do beyond `ObjectStore`, declared rather than discovered.

Holds, retention locks and the spool are optional: the local store has none of them, S3 has locks
and holds, the spool wraps S3. Code that needs one asks `isinstance(store, LegalHolds)` against
these runtime-checkable protocols instead of `hasattr(store, "set_legal_hold")`, so renaming a
method makes the protocol check (and its test) fail loudly instead of silently skipping holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from archiver.store import ObjectStore, StoredObject
    from archiver.store.spool import DrainResult


@runtime_checkable
class LegalHolds(Protocol):
    """S3 Object Lock legal holds on object versions."""

    def legal_hold(self, key: str, version_id: str | None = None) -> bool: ...

    def set_legal_hold(self, key: str, version_id: str | None, on: bool) -> None: ...


@runtime_checkable
class RetentionLocks(Protocol):
    """S3 Object Lock retention: (mode, retain-until) of an object version."""

    def retention(self, key: str, version_id: str | None = None) -> tuple[str | None, datetime | None]: ...


@runtime_checkable
class ObjectVersions(Protocol):
    """A versioned store (S3): every stored version of a key, newest first (`sunshine recover`)."""

    def versions(self, key: str) -> list[StoredObject]: ...


@runtime_checkable
class Spooled(Protocol):
    """A store that keeps writes locally while its remote is away (`archiver.store.spool`)."""

    remote: ObjectStore

    def pending(self) -> list[str]: ...

    def drain(self) -> DrainResult: ...


def remote_of(store: ObjectStore) -> ObjectStore:
    """The store that holds the archive for good: behind a spool, its remote."""
    return store.remote if isinstance(store, Spooled) else store


def pending_keys(store: ObjectStore) -> list[str]:
    """Keys still waiting in the local spool (none for a store without one)."""
    return store.pending() if isinstance(store, Spooled) else []
