"""One publisher at a time: an inter-process lock around publishing tiles and signing checkpoints.

Reading the stored checkpoint and replacing it is a read-modify-write on the object store, which
has no compare-and-swap (S3's conditional writes are not on every deployment, the local store has
none). Two publishers at once (`sunshine archive` and a clerk's `sunshine hold add`) could each
sign the size they saw and the smaller one land last, moving the public checkpoint backwards.

Every publisher runs on the archiver host, beside the catalog (DESIGN §1), so an advisory
`fcntl.flock` on a file next to the catalog database serialises them: it is released by the
kernel when the process dies (no stale lock after a crash), and it is not the catalog's SQLite
write lock, so catalog writers (a run committing its next batch) never wait for a slow upload.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archiver.errors import SunshineError

LOCK_SUFFIX = ".ledger-lock"


def lock_path_for(catalog_path: Path) -> Path:
    """The publish lock file beside the catalog database `catalog_path`."""
    catalog_path = Path(catalog_path)
    return catalog_path.with_name(catalog_path.name + LOCK_SUFFIX)


@contextmanager
def publish_lock(path: Path) -> Iterator[None]:
    """Hold the exclusive publish lock at `path`, waiting for any other publisher to finish.

    Not re-entrant: each `with` opens its own descriptor, and flock treats two descriptors of one
    process as two holders, so nesting it deadlocks. Threads of one process are serialised too.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise SunshineError(f"cannot open the ledger publish lock {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
