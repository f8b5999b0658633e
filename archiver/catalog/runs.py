"""Crawl state in the catalog: runs, threads a run finished, captures that failed, and the named
counters (the WARC numbering)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from archiver.catalog.rows import Rows, Transaction


class RunRows(Rows):
    def unfinished_run(self) -> str | None:
        row = self.db.execute(
            "SELECT run_id FROM runs WHERE status = 'running' ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def threads_done(self, run_id: str, source: str) -> frozenset[str]:
        rows = self.db.execute(
            "SELECT root_native_id FROM threads_done WHERE run_id = ? AND source = ?", (run_id, source)
        )
        return frozenset(row[0] for row in rows)

    def start_run(self, run_id: str, at: str) -> None:
        """A run begins (a resumed run keeps its first start)."""
        with self.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO runs(run_id, started_at, status) VALUES (?, ?, 'running')",
                       (run_id, at))

    def finish_run(self, run_id: str, at: str, status: str, stats: dict[str, Any]) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE run_id = ?",
                       (at, status, json.dumps(stats, sort_keys=True), run_id))

    def restore_runs(self, tx: Transaction, runs: Iterable[tuple[str, str]]) -> None:
        """(run_id, started_at) of runs found in the store (`recover`)."""
        tx.executemany("INSERT INTO runs(run_id, started_at, status) VALUES (?, ?, 'recovered')", runs)

    def add_threads_done(self, tx: Transaction, run_id: str, source: str, roots: Iterable[str]) -> None:
        tx.executemany("INSERT OR IGNORE INTO threads_done(run_id, source, root_native_id) VALUES (?, ?, ?)",
                       [(run_id, source, root) for root in roots])

    def add_failed_captures(self, tx: Transaction, run_id: str, source: str, warc_key: str, at: str,
                            failures: Iterable[tuple[str, str]]) -> None:
        """(url, error) of captures whose payload could not be parsed; their exchange is in `warc_key`."""
        tx.executemany(
            "INSERT INTO failed_captures(run_id, source, url, error, warc_key, captured_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, source, url, error, warc_key, at) for url, error in failures])

    def next_counter(self, tx: Transaction, name: str) -> int:
        """Allocate the next number of a named sequence inside the caller's transaction."""
        row = tx.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = (row[0] + 1) if row else 0
        tx.execute("INSERT OR REPLACE INTO counters(name, value) VALUES (?, ?)", (name, value))
        return value

    def set_counter(self, tx: Transaction, name: str, value: int) -> None:
        """A named sequence's last number (the next `next_counter` gives `value + 1`)."""
        tx.execute("INSERT OR REPLACE INTO counters(name, value) VALUES (?, ?)", (name, value))
