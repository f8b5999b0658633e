"""What every part of the catalog shares: its connection, and the transaction callers pass in.

Each concern of the catalog (records, objects, ledger, holds, ...) is a small class of methods over
`db`; `Catalog` is all of them over one connection. A method that writes takes the caller's
`Transaction` (from `Catalog.transaction()`), so the caller decides what commits together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

# The connection inside `Catalog.transaction()`: pass it on to the catalog's write methods.
Transaction = sqlite3.Connection

# SQLite's default limit on bound parameters is far above this; 500 keeps each statement small.
CHUNK = 500


class Rows:
    """The catalog's connection (autocommit outside `transaction()`; rows as `sqlite3.Row`)."""

    db: sqlite3.Connection

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One write transaction (taken at once, so no other writer slips in between its reads and
        writes); rolled back if the block raises."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")


def chunks(ids: Iterable[str]) -> Iterator[tuple[list[str], str]]:
    """`ids` in chunks of `CHUNK`, each with its `?,?,...` placeholders for an `IN (...)` clause."""
    items = list(ids)
    for start in range(0, len(items), CHUNK):
        chunk = items[start:start + CHUNK]
        yield chunk, ",".join("?" * len(chunk))
