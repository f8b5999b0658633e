"""Re-hash stored objects in parallel, streaming: what `sunshine verify` does to every object.

Each object is read as a stream and hashed chunk by chunk, so memory stays flat whatever its size.
Several objects are read at once because a remote store's latency, not the hashing, is what limits
one stream (hashlib releases the GIL on large chunks, so threads do hash in parallel).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from archiver.store import ObjectStore

CHUNK = 1024 * 1024


def stream_sha256(store: ObjectStore, key: str, version_id: str | None = None, chunk_size: int = CHUNK) -> str:
    """The sha256 hex digest of one stored object, read as a stream."""
    digest = hashlib.sha256()
    with store.open(key, version_id=version_id) as stream:
        while block := stream.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def rehash_objects(store: ObjectStore, items: Iterable[tuple[str, str | None, str]], workers: int = 8,
                   chunk_size: int = CHUNK) -> Iterator[tuple[str, bool, str | None]]:
    """For each `(key, version_id, expected_sha256)`, yield `(key, ok, actual_sha256)` in input order.

    A missing object yields `(key, False, None)`. A store that cannot be reached raises (the caller
    cannot tell "damaged" from "away", so it must not report either). At most `2 * workers` objects
    are in flight, so a catalog of millions of items streams through without piling up futures.
    """
    def check(key: str, version_id: str | None, expected: str) -> tuple[str, bool, str | None]:
        try:
            actual = stream_sha256(store, key, version_id, chunk_size)
        except KeyError:
            return key, False, None
        return key, actual == expected.lower(), actual

    in_flight: deque[Future[tuple[str, bool, str | None]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rehash") as pool:
        try:
            for key, version_id, expected in items:
                in_flight.append(pool.submit(check, key, version_id, expected))
                if len(in_flight) >= 2 * workers:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()
        finally:
            for future in in_flight:
                future.cancel()
