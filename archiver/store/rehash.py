"""Re-hash stored objects in parallel, streaming: what `sunshine verify` does to every object.

Each object is read as a stream and hashed chunk by chunk, so memory stays flat whatever its size;
where the stream offers `readinto`, each thread reads into one reused buffer (no copy per chunk).
Several objects are read at once because a remote store's latency and per-request work, not the
hashing, is what limits one stream (hashlib releases the GIL on large chunks, so threads do hash in
parallel). Every byte is hashed here: a server's own checksum is never taken instead.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from archiver.errors import StoreUnavailableError
from archiver.store import ObjectStore

CHUNK = 1024 * 1024
T = TypeVar("T")
_buffers = threading.local()


@dataclass(frozen=True)
class Rehashed(Generic[T]):
    """One item's outcome: `sha256` None with no `error` means the object is missing."""

    item: T
    sha256: str | None
    size: int
    error: Exception | None = None


def hash_stream(stream, chunk_size: int = CHUNK) -> tuple[str, int]:
    """(sha256 hex, byte count) of everything `stream` yields."""
    digest = hashlib.sha256()
    size = 0
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        while block := stream.read(chunk_size):
            digest.update(block)
            size += len(block)
        return digest.hexdigest(), size
    view = _buffer(chunk_size)
    while count := readinto(view):
        digest.update(view[:count])
        size += count
    return digest.hexdigest(), size


def _buffer(chunk_size: int) -> memoryview:
    """This thread's reusable read buffer of `chunk_size` bytes."""
    view = getattr(_buffers, "view", None)
    if view is None or len(view) != chunk_size:
        view = _buffers.view = memoryview(bytearray(chunk_size))
    return view


def stream_sha256(store: ObjectStore, key: str, version_id: str | None = None, chunk_size: int = CHUNK) -> str:
    """The sha256 hex digest of one stored object, read as a stream."""
    with store.open(key, version_id=version_id) as stream:
        return hash_stream(stream, chunk_size)[0]


def rehash_items(store: ObjectStore, items: Iterable[T], locate: Callable[[T], tuple[str, str | None]], *,
                 workers: int = 8, chunk_size: int = CHUNK) -> Iterator[Rehashed[T]]:
    """Re-hash the object each item names (`locate(item)` -> key, version id); results in input order.

    A missing object comes back with `sha256` None; one that fails to read otherwise carries the
    `error`. A store that cannot be reached raises `StoreUnavailableError` (the caller cannot tell
    "damaged" from "away", so it must not report either). At most `2 * workers` objects are in
    flight, so a catalog of millions of items streams through without piling up futures.
    """
    def check(item: T) -> Rehashed[T]:
        key, version_id = locate(item)
        try:
            with store.open(key, version_id=version_id) as stream:
                sha256, size = hash_stream(stream, chunk_size)
        except KeyError:
            return Rehashed(item, None, 0)
        except StoreUnavailableError:
            raise
        except Exception as exc:  # noqa: BLE001 - named per object by the caller
            return Rehashed(item, None, 0, exc)
        return Rehashed(item, sha256, size)

    in_flight: deque[Future[Rehashed[T]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rehash") as pool:
        try:
            for item in items:
                in_flight.append(pool.submit(check, item))
                if len(in_flight) >= 2 * workers:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()
        finally:
            for future in in_flight:
                future.cancel()


def rehash_objects(store: ObjectStore, items: Iterable[tuple[str, str | None, str]], workers: int = 8,
                   chunk_size: int = CHUNK) -> Iterator[tuple[str, bool, str | None]]:
    """For each `(key, version_id, expected_sha256)`, yield `(key, ok, actual_sha256)` in input order.

    A missing object yields `(key, False, None)`; any other read failure is raised.
    """
    for done in rehash_items(store, items, lambda item: (item[0], item[1]), workers=workers,
                             chunk_size=chunk_size):
        key, _, expected = done.item
        if done.error is not None:
            raise done.error
        yield key, done.sha256 is not None and done.sha256 == expected.lower(), done.sha256
