"""Records and their versions in the catalog: what a run classifies captures against, and what
the read model, holds and retention read back.

A record row is the record's latest state (fields as last captured, latest version and hash,
whether the search index has it); a version row is one capture of it, with where its bytes are.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from archiver.catalog.rows import Rows, Transaction, chunks
from archiver.model import Version, WarcRef


@dataclass(frozen=True)
class LatestVersion:
    """What a run needs to know about a record to classify a new capture of it."""

    version: int
    sha256: str
    status: str


@dataclass(frozen=True)
class RecordRow:
    """A record's row: its fields (as last captured; `media` as [{"url", "mime"}]) and latest version."""

    record_id: str
    source: str
    platform: str
    account: str
    kind: str
    native_id: str
    url: str
    author: str
    author_is_department: bool
    created_at: str
    text: str
    parent_id: str | None
    thread_id: str
    media: tuple[dict[str, Any], ...]
    status: str
    latest_version: int
    latest_sha256: str
    last_seen_run: str | None


@dataclass(frozen=True)
class VersionRow:
    """A version as the catalog keeps it: the capture, its display text and the run that made it."""

    version: Version
    text: str
    run_id: str


@dataclass(frozen=True)
class NativeVersion:
    """A version with what re-extracting its native object from its WARC response needs."""

    platform: str
    native_id: str
    version: Version


_UPSERT = ("INSERT INTO records(record_id, source, platform, account, kind, native_id, url, author,"
           " author_is_department, created_at, text, parent_id, thread_id, media, status,"
           " latest_version, latest_sha256, last_seen_run, indexed)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
# A later capture updates what may change; platform, account, kind, native id, author_is_department,
# created_at and thread stay as first captured.
_LATER_CAPTURE = (" ON CONFLICT(record_id) DO UPDATE SET url=excluded.url, author=excluded.author,"
                  " text=excluded.text, parent_id=excluded.parent_id, media=excluded.media,"
                  " status=excluded.status, latest_version=excluded.latest_version,"
                  " latest_sha256=excluded.latest_sha256, last_seen_run=excluded.last_seen_run, indexed=0")
_RECORD_COLUMNS = ("status", "platform")


def _record_values(row: RecordRow, indexed: int) -> tuple[Any, ...]:
    return (row.record_id, row.source, row.platform, row.account, row.kind, row.native_id, row.url, row.author,
            int(row.author_is_department), row.created_at, row.text, row.parent_id, row.thread_id,
            json.dumps(list(row.media)), row.status, row.latest_version, row.latest_sha256, row.last_seen_run,
            indexed)


def version_of(row: sqlite3.Row) -> Version:
    return Version(row["record_id"], row["version"], row["captured_at"], row["status"], row["content_sha256"],
                   WarcRef(row["warc_key"], row["warc_offset"], row["warc_length"]), row["ledger_index"],
                   row["store_version_id"])


class RecordRows(Rows):
    # --- reads -----------------------------------------------------------------------------------

    def latest_version(self, record_id: str) -> LatestVersion | None:
        """A record's latest committed version (a primary-key lookup, so a run's memory stays flat)."""
        row = self.db.execute("SELECT latest_version, latest_sha256, status FROM records WHERE record_id = ?",
                              (record_id,)).fetchone()
        return LatestVersion(row[0], row[1], row[2]) if row else None

    def known_native_ids(self, source: str, exclude_seen_in: str | None = None) -> frozenset[str]:
        """Native ids of a source's records that are not deleted (and not yet seen in a resumed run)."""
        rows = self.db.execute(
            "SELECT native_id FROM records WHERE source = ? AND status != 'deleted'"
            " AND (last_seen_run IS NULL OR last_seen_run IS NOT ?)",
            (source, exclude_seen_in),
        )
        return frozenset(row[0] for row in rows)

    def record_rows(self, record_ids: Iterable[str]) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = []
        for chunk, marks in chunks(record_ids):
            rows.extend(self.db.execute(f"SELECT * FROM records WHERE record_id IN ({marks})", chunk))
        return rows

    def version_rows(self, record_ids: Iterable[str]) -> dict[str, list[sqlite3.Row]]:
        found: dict[str, list[sqlite3.Row]] = {}
        for chunk, marks in chunks(record_ids):
            for row in self.db.execute(
                f"SELECT * FROM versions WHERE record_id IN ({marks}) ORDER BY record_id, version", chunk
            ):
                found.setdefault(row["record_id"], []).append(row)
        return found

    def media_hashes(self, urls: Iterable[str]) -> dict[str, tuple[str, str]]:
        found = {}
        for url in set(urls):
            row = self.db.execute("SELECT sha256, mime FROM media WHERE url = ?", (url,)).fetchone()
            if row:
                found[url] = (row[0], row[1])
        return found

    def unindexed_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT record_id FROM records WHERE indexed = 0")]

    def all_record_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT record_id FROM records ORDER BY record_id")]

    def records_by(self, column: str) -> dict[str, int]:
        """How many records have each value of `column` ("status" or "platform")."""
        if column not in _RECORD_COLUMNS:
            raise ValueError(column)
        return dict(self.db.execute(f"SELECT {column}, COUNT(*) FROM records GROUP BY {column}").fetchall())

    def record_ids_matching(self, *, platform: str | None = None, account: str | None = None,
                            date_from: str | None = None, date_to: str | None = None) -> set[str]:
        """Records of a platform / account, created between two dates (inclusive; YYYY-MM-DD).
        No filter at all: every record."""
        clauses, params = [], []
        for column, value in (("platform", platform), ("account", account)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if date_from:
            clauses.append("substr(created_at, 1, 10) >= ?")
            params.append(date_from)
        if date_to:
            clauses.append("substr(created_at, 1, 10) <= ?")
            params.append(date_to)
        where = " AND ".join(clauses) or "1"
        return {row[0] for row in self.db.execute(f"SELECT record_id FROM records WHERE {where}", params)}

    def record_ids_in_threads(self, thread_ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk, marks in chunks(thread_ids):
            found |= {row[0] for row in self.db.execute(
                f"SELECT record_id FROM records WHERE thread_id IN ({marks})", chunk)}
        return found

    def media_sha256_of(self, record_ids: Iterable[str]) -> set[str]:
        """The content hashes of the media these records show."""
        found: set[str] = set()
        for chunk, marks in chunks(record_ids):
            found |= {row[0] for row in self.db.execute(
                f"SELECT media.sha256 FROM record_media JOIN media USING (url) WHERE record_id IN ({marks})",
                chunk)}
        return found

    def undisposed_versions(self) -> Iterator[Version]:
        """Every version of a record not disposed of (what `verify` expects in the store)."""
        for row in self.db.execute("SELECT * FROM versions WHERE record_id NOT IN (SELECT record_id FROM disposed)"):
            yield version_of(row)

    def undisposed_versions_by_warc(self) -> Iterator[NativeVersion]:
        """`undisposed_versions` with each record's platform and native id, in WARC order (object key,
        then offset), so `verify --deep` reads each WARC object once and each member once."""
        for row in self.db.execute(
            "SELECT records.platform, records.native_id, versions.* FROM versions JOIN records USING (record_id)"
            " WHERE record_id NOT IN (SELECT record_id FROM disposed) ORDER BY warc_key, warc_offset, record_id, version"
        ):
            yield NativeVersion(row["platform"], row["native_id"], version_of(row))

    def content_references(self) -> Counter[str]:
        """How many versions (of any record) each content hash is the content of."""
        return Counter(dict(self.db.execute("SELECT content_sha256, COUNT(*) FROM versions GROUP BY content_sha256")))

    def first_captured_by(self, tx: Transaction, at: str) -> list[str]:
        """Records whose first version was captured at or before `at`, sorted."""
        return sorted(row[0] for row in tx.execute(
            "SELECT record_id FROM versions WHERE version = 1 AND captured_at <= ?", (at,)))

    # --- writes (inside the caller's transaction) ------------------------------------------------

    def add_versions(self, tx: Transaction, rows: Iterable[VersionRow]) -> None:
        tx.executemany(
            "INSERT INTO versions(record_id, version, captured_at, status, content_sha256, warc_key,"
            " warc_offset, warc_length, ledger_index, store_version_id, text, run_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(v.record_id, v.version, v.captured_at, v.status, v.content_sha256, v.warc_ref.key, v.warc_ref.offset,
              v.warc_ref.length, v.ledger_index, v.store_version_id, row.text, row.run_id)
             for row in rows for v in (row.version,)])

    def upsert_records(self, tx: Transaction, rows: Iterable[RecordRow]) -> None:
        """A run's new versions: new records inserted, known ones updated (first-capture columns kept);
        either way the search index is owed them."""
        tx.executemany(_UPSERT + _LATER_CAPTURE, [_record_values(row, 0) for row in rows])

    def restore_records(self, tx: Transaction, rows: Iterable[RecordRow]) -> None:
        """Records rebuilt from the store (`recover`): the index already holds them."""
        tx.executemany(_UPSERT, [_record_values(row, 1) for row in rows])

    def mark_indexed(self, record_ids: Iterable[str]) -> None:
        with self.transaction() as tx:
            tx.executemany("UPDATE records SET indexed = 1 WHERE record_id = ?", [(i,) for i in record_ids])

    def mark_seen(self, tx: Transaction, run_id: str, record_ids: Iterable[str]) -> None:
        """Records a run saw unchanged (a resumed run does not look for them again)."""
        tx.executemany("UPDATE records SET last_seen_run = ? WHERE record_id = ?",
                       [(run_id, record_id) for record_id in record_ids])

    def set_media(self, tx: Transaction, media: Mapping[str, tuple[str, str]]) -> None:
        """Media hashes (url -> (sha256, mime)); records already showing a url are owed to the index again."""
        for url, (sha, mime) in media.items():
            tx.execute("INSERT OR REPLACE INTO media(url, sha256, mime) VALUES (?, ?, ?)", (url, sha, mime))
            tx.execute("UPDATE records SET indexed = 0 WHERE record_id IN"
                       " (SELECT record_id FROM record_media WHERE url = ?)", (url,))

    def link_media(self, tx: Transaction, pairs: Iterable[tuple[str, str]]) -> None:
        """(record_id, url): which record shows which media."""
        tx.executemany("INSERT OR IGNORE INTO record_media(record_id, url) VALUES (?, ?)", pairs)

