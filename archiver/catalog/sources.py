"""Per-source crawl state: where the last complete feed walk reached, the rotating revisit of older
threads, a paused walk, a daily quota, and media a run skipped or could not fetch.

What an incremental run needs is the recent window and one revisit slice, never every id a source
ever had, so a run's memory stays flat however large the archive grows. Times are compared as the
first 19 characters of `created_at` (`YYYY-MM-DDTHH:MM:SS`): every platform's records carry an
RFC 3339 UTC time there; a value in another shape sorts after any year and so always counts as
recent (more work, never less).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from archiver.catalog.rows import Rows, Transaction, chunks

STAMP = 19  # characters of `created_at` compared: YYYY-MM-DDTHH:MM:SS


@dataclass(frozen=True)
class SourceState:
    """A source's crawl state after its last run (a source never crawled has the defaults).

    `high_water`: the newest `created_at` the last complete feed walk saw (None: no walk completed,
    so the next walk is a full one). `walk_run`: the run that began the walk still open (a paused or
    incomplete one), whose finished threads later runs skip. `revisit_after`: the record id the
    rotating revisit of older threads continues after; `revisited_at`: when it last advanced.
    `retry`: native ids whose fetch failed, fetched again by the next run. `status`: "complete",
    "paused" (a budget ran out), "stopped" (credentials refused) or "incomplete" (captures failed);
    `detail` says why. `quota_day`/`quota_used`: the units of a daily quota spent on that day.
    """

    source: str
    high_water: str | None = None
    walk_run: str | None = None
    revisit_after: str | None = None
    revisited_at: str | None = None
    retry: tuple[str, ...] = ()
    status: str = "complete"
    detail: str = ""
    quota_day: str | None = None
    quota_used: int = 0
    updated_at: str | None = None


_COLUMNS = ("source", "high_water", "walk_run", "revisit_after", "revisited_at", "retry", "status", "detail",
            "quota_day", "quota_used", "updated_at")


class SourceRows(Rows):
    def source_state(self, source: str) -> SourceState:
        row = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM source_state WHERE source = ?",
                              (source,)).fetchone()
        if row is None:
            return SourceState(source)
        values = dict(zip(_COLUMNS, row, strict=True))
        values["retry"] = tuple(json.loads(values["retry"]))
        return SourceState(**values)

    def save_source_state(self, tx: Transaction, state: SourceState) -> None:
        values = [getattr(state, name) for name in _COLUMNS]
        values[_COLUMNS.index("retry")] = json.dumps(sorted(state.retry))
        tx.execute(f"INSERT OR REPLACE INTO source_state({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                   values)

    def newest_post_created(self, source: str) -> str | None:
        """The newest `created_at` among a source's posts (what its recent window is measured back from)."""
        row = self.db.execute("SELECT MAX(created_at) FROM records WHERE source = ? AND kind = 'post'",
                              (source,)).fetchone()
        return row[0] if row else None

    def recent_native_ids(self, source: str, cutoff: str, exclude_seen_in: str | None = None) -> frozenset[str]:
        """Native ids of a source's records (not deleted) in a thread whose post was created at or after
        `cutoff`: the recent window, whose deletions every run checks. (A late reply in an older
        thread is rechecked with its thread by the rotating revisit.)"""
        rows = self.db.execute(
            f"SELECT native_id FROM records WHERE source = ? AND status != 'deleted'"
            f" AND (last_seen_run IS NULL OR last_seen_run IS NOT ?)"
            f" AND thread_id IN (SELECT record_id FROM records"
            f" WHERE source = ? AND kind = 'post' AND substr(created_at, 1, {STAMP}) >= ?)",
            (source, exclude_seen_in, source, cutoff))
        return frozenset(row[0] for row in rows)

    def older_post_count(self, source: str, cutoff: str) -> int:
        return self.db.execute(
            f"SELECT COUNT(*) FROM records WHERE source = ? AND kind = 'post' AND status != 'deleted'"
            f" AND substr(created_at, 1, {STAMP}) < ?", (source, cutoff)).fetchone()[0]

    def older_posts_after(self, source: str, cutoff: str, after: str | None, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (record_id, native_id) of the source's posts older than `cutoff`, in record id
        order after `after`, wrapping round to the start: the next slice of the rotating revisit."""
        if limit <= 0:
            return []
        query = (f"SELECT record_id, native_id FROM records WHERE source = ? AND kind = 'post'"
                 f" AND status != 'deleted' AND substr(created_at, 1, {STAMP}) < ? AND record_id > ?"
                 f" ORDER BY record_id LIMIT ?")
        found = [tuple(row) for row in self.db.execute(query, (source, cutoff, after or "", limit))]
        if len(found) < limit and after:
            seen = {row[0] for row in found}
            wrapped = self.db.execute(query, (source, cutoff, "", limit - len(found)))
            found += [tuple(row) for row in wrapped if row[0] not in seen]
        return found  # type: ignore[return-value]

    def thread_native_ids(self, thread_ids: Iterable[str]) -> frozenset[str]:
        """Native ids of the (not deleted) records in these threads (by the root's record id)."""
        found: set[str] = set()
        for chunk, marks in chunks(thread_ids):
            found |= {row[0] for row in self.db.execute(
                f"SELECT native_id FROM records WHERE thread_id IN ({marks}) AND status != 'deleted'", chunk)}
        return frozenset(found)

    def threads_done_since(self, source: str, walk_run: str) -> frozenset[str]:
        """Thread roots finished by `walk_run` or any later run (run ids sort by start time)."""
        rows = self.db.execute("SELECT root_native_id FROM threads_done WHERE source = ? AND run_id >= ?",
                               (source, walk_run))
        return frozenset(row[0] for row in rows)

    def add_media_problems(self, tx: Transaction, run_id: str, source: str, at: str,
                           problems: Iterable[tuple[str, str]]) -> None:
        """(url, reason) of media a run skipped (too large) or could not fetch."""
        tx.executemany("INSERT INTO media_problems(run_id, source, url, reason, at) VALUES (?, ?, ?, ?, ?)",
                       [(run_id, source, url, reason, at) for url, reason in problems])

    def media_problems(self, run_id: str | None = None) -> list[tuple[str, str, str]]:
        """(source, url, reason) of media problems (of one run, or all)."""
        if run_id is None:
            rows = self.db.execute("SELECT source, url, reason FROM media_problems ORDER BY id")
        else:
            rows = self.db.execute("SELECT source, url, reason FROM media_problems WHERE run_id = ? ORDER BY id",
                                   (run_id,))
        return [tuple(row) for row in rows]  # type: ignore[misc]

    def has_media(self, url: str) -> bool:
        """Whether a media URL's bytes are already stored (fetched once, however often it appears)."""
        return self.db.execute("SELECT 1 FROM media WHERE url = ?", (url,)).fetchone() is not None
