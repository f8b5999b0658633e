"""Test-only: the core disposal with a store that SIGKILLs this very process at a chosen step.

    python tests/archiver/disposition_crash_runner.py CONFIG NOW KILL

NOW is the disposal's clock (RFC 3339, so records can be due without waiting). KILL is `before:N` or
`after:N` (N counts the store's puts and deletes from 1), or `count` to run to the end and print
the number of steps. The kill is a real SIGKILL from inside the store call, so nothing after it
runs: no `finally`, no flush. Production code knows nothing of this.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from archiver.catalog import Catalog  # noqa: E402
from archiver.config import load_config  # noqa: E402
from archiver.disposition import run_retention  # noqa: E402
from archiver.ledger_events import append_event  # noqa: E402
from archiver.publish import LedgerPublisher  # noqa: E402
from archiver.run import open_archive_store  # noqa: E402


class KillingStore:
    """Passes everything to `store`; SIGKILLs the process before or after its Nth put/delete."""

    def __init__(self, store: Any, kill: str) -> None:
        self._store = store
        self._when, _, number = kill.partition(":")
        self._at = int(number) if number else 0
        self.steps = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _step(self, operation: Callable[[], Any]) -> Any:
        self.steps += 1
        if self._when == "before" and self.steps == self._at:
            os.kill(os.getpid(), signal.SIGKILL)
        result = operation()
        if self._when == "after" and self.steps == self._at:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    def put(self, key: str, data: bytes, **options: Any) -> Any:
        return self._step(lambda: self._store.put(key, data, **options))

    def delete(self, key: str, **options: Any) -> Any:
        return self._step(lambda: self._store.delete(key, **options))


def main(config_path: str, now: str, kill: str) -> None:
    config = load_config(config_path)
    catalog = Catalog(config.catalog_path)
    store = KillingStore(open_archive_store(config), kill)
    clock = datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    run_retention(catalog, store, config.storage, dry_run=False, actor="crash-test", now=clock,
                  log_event=append_event)
    steps = store.steps
    LedgerPublisher(catalog, store._store, config).checkpoint()
    catalog.close()
    if kill == "count":
        print(steps)


if __name__ == "__main__":
    main(*sys.argv[1:])
