"""The embedded search read model: SQLite with an FTS5 table, one writer, many readers.

Files. `path` (e.g. `search.sqlite`) is a symbolic link to the current *generation*,
`<path>.gen/<id>.sqlite`, a database in WAL mode. `rebuild` writes a complete new generation beside
it and then `os.replace`s a new link onto `path`: the swap is atomic, connections already open keep
reading the old generation (its file and its `-wal`/`-shm` stay theirs), and every connection opened
afterwards sees the new one. Replacing the database file itself would not be safe in WAL mode: the
new file would be paired with the old file's `-wal` and `-shm`, which live readers are still using.
The generation before the current one is kept for readers in flight; older ones are deleted. A plain
database file at `path` (no link) is used as it is until the first rebuild.

Concurrency. One `SqliteIndex` may be shared by Flask's threads: writes go through one writer
connection under a lock (one transaction per `upsert`); reads borrow a connection from a small pool,
so WAL readers never block the writer, nor it them. Reads notice a rebuild by another process (the
link changed) and move to the new generation. There must be only one writing process (the archiver or
`sunshine reindex`).

Schema. `records` holds the filter columns and the record's canonical JSON (`doc`), which is what
comes back, so hostile text round-trips exactly. `records_fts` indexes the record's `text` and its
`author` (so a search for a person finds what they wrote) with `FTS5_TOKENIZE` (porter, unicode61,
remove_diacritics 2, bidi controls as separators): "arrest" finds "arrested", "cafe" finds "café".

Search semantics (shared with Elasticsearch; see `indexer.query` for the text language): ranked by
bm25 (text weighs twice the author), then newest first; without text, newest first; or, on request
(`SearchQuery.sort`), newest or oldest first whatever the text. Filters are exact
(platform, account, kind, status) plus `created_at` dates, both ends inclusive. Facets and the monthly
timeline count the whole filtered result, the facet's own field included (like Elasticsearch terms
aggregations under the query), so picking `platform=x` shows only x in the platform facet.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from archiver.canonical import canonical_json
from archiver.durable import fsync_path
from archiver.errors import SunshineError
from archiver.model import RecordDoc
from indexer import FACET_FIELDS, HIGHLIGHT_END, HIGHLIGHT_START, SearchHit, SearchPage, SearchQuery
from indexer.changes import CHANGE_KINDS, Change, ChangePage, ChangeQuery, change_entries
from indexer.documents import (
    FTS5_TOKENIZE,
    column_text,
    doc_from_json_text,
    doc_to_json_text,
    excerpt,
    next_day,
    searchable_text,
)
from indexer.fts5_snippet import long_text_highlight
from indexer.query import QueryError, SearchTooCostly, TextQuery, bounded_text, fts5_match_parts

SCHEMA_VERSION = 5  # 2: bidi controls separate words; 3: facet_days and covering indexes; 4: changes;
# 5: records.bucket
BATCH = 2000
POOL_SIZE = 8
WHOLE_TEXT_CHARS = 1000  # shorter texts are highlighted whole; longer ones as a snippet
STALE_BUILD_SECONDS = 24 * 3600
READER_MMAP_BYTES = 1 << 30  # address space only; the OS page cache holds the data
READER_CACHE_KIB = 32 * 1024  # per pooled reader
QUERY_BUDGET_SECONDS = 3.0  # the most one search may take; past it the search is stopped (a 400)
PROGRESS_STEPS = 1000  # SQLite VM instructions between looks at the clock (a look costs ~1 us)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    record_id TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    author_is_department INTEGER NOT NULL,
    doc TEXT NOT NULL,
    bucket INTEGER NOT NULL  -- buckets.id of (platform, account, kind, status, month)
);
-- Every (facet values, month) a record has had, numbered: a text search's facets and timeline group
-- its matches by this one integer (then name the ~2,000 groups) instead of by five strings, which
-- cost 4x as much at 200k matches (the GROUP BY's sort).
CREATE TABLE IF NOT EXISTS buckets (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    month TEXT NOT NULL,
    UNIQUE (platform, account, kind, status, month)
);
-- Pages without text, newest first, read straight off this index (filters included, no row read).
CREATE INDEX IF NOT EXISTS records_newest
    ON records (created_at DESC, record_id, platform, account, kind, status);
-- Everything a text match is filtered, counted and ordered by, found by id without the (wide) row.
CREATE INDEX IF NOT EXISTS records_by_id
    ON records (id, platform, account, kind, status, created_at, record_id, bucket);
CREATE INDEX IF NOT EXISTS records_thread ON records (thread_id, created_at);
CREATE INDEX IF NOT EXISTS records_latest ON records (kind, author_is_department, created_at);
CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5 (
    text, author, tokenize = "{FTS5_TOKENIZE}"
);
-- Records per (facet values, day), kept by the triggers below: a search without text is counted
-- from these few thousand rows instead of every record.
CREATE TABLE IF NOT EXISTS facet_days (
    platform TEXT NOT NULL,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    day TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (platform, account, kind, status, day)
) WITHOUT ROWID;
-- The change log (indexer.changes): a record's entries are replaced whenever the record is written.
CREATE TABLE IF NOT EXISTS changes (
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    change TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    platform TEXT NOT NULL,
    account TEXT NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (record_id, version)
);
CREATE INDEX IF NOT EXISTS changes_newest ON changes (detected_at DESC, record_id, version DESC);
"""
# Created after a rebuild's bulk load (facet_days is then filled in one pass), at once otherwise.
_COUNT_IN = """INSERT INTO facet_days
    VALUES (new.platform, new.account, new.kind, new.status, substr(new.created_at, 1, 10), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;"""
_COUNT_OUT = """UPDATE facet_days SET n = n - 1
    WHERE platform = old.platform AND account = old.account AND kind = old.kind AND status = old.status
    AND day = substr(old.created_at, 1, 10);"""
_TRIGGERS = (
    f"CREATE TRIGGER IF NOT EXISTS records_count_in AFTER INSERT ON records BEGIN {_COUNT_IN} END",
    f"CREATE TRIGGER IF NOT EXISTS records_count_out AFTER DELETE ON records BEGIN {_COUNT_OUT} END",
    "CREATE TRIGGER IF NOT EXISTS records_count_move AFTER UPDATE OF platform, account, kind, status, created_at "
    f"ON records BEGIN {_COUNT_OUT} {_COUNT_IN} END",
)
_FILL_FACET_DAYS = """
INSERT INTO facet_days
SELECT platform, account, kind, status, substr(created_at, 1, 10), count(*) FROM records INDEXED BY records_newest
GROUP BY 1, 2, 3, 4, 5
"""
_BUCKET = "INSERT OR IGNORE INTO buckets (platform, account, kind, status, month) VALUES (?, ?, ?, ?, substr(?, 1, 7))"
_UPSERT = """
INSERT INTO records (record_id, platform, account, kind, status, created_at, thread_id,
                     author_is_department, doc, bucket)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, (SELECT id FROM buckets
        WHERE platform = ?2 AND account = ?3 AND kind = ?4 AND status = ?5 AND month = substr(?6, 1, 7)))
ON CONFLICT (record_id) DO UPDATE SET
    platform = excluded.platform, account = excluded.account, kind = excluded.kind,
    status = excluded.status, created_at = excluded.created_at, thread_id = excluded.thread_id,
    author_is_department = excluded.author_is_department, doc = excluded.doc, bucket = excluded.bucket
"""
_FTS_DELETE = "DELETE FROM records_fts WHERE rowid = (SELECT id FROM records WHERE record_id = ?)"
_FTS_INSERT = "INSERT INTO records_fts (rowid, text, author) SELECT id, ?, ? FROM records WHERE record_id = ?"
_RANK = "bm25(records_fts, 1.0, 0.5)"
# indexer.SORTS as ORDER BY clauses; "oldest" is "newest" reversed, read off records_newest backwards.
_ORDERS = {
    "relevance": f"{_RANK}, r.created_at DESC, r.record_id",
    "newest": "r.created_at DESC, r.record_id",
    "oldest": "r.created_at ASC, r.record_id DESC",
}
_BY_ID = "INDEXED BY records_by_id"  # a match's filter and order columns without reading its row
_HIGHLIGHT = (  # long texts are highlighted by indexer.fts5_snippet instead (snippet() is quadratic)
    f"CASE WHEN length(records_fts.text) <= {WHOLE_TEXT_CHARS} THEN highlight(records_fts, 0, ?, ?) END"
)


class SqliteIndex:
    """`indexer.SearchIndex` on SQLite FTS5 (see the module docstring for files and concurrency)."""

    def __init__(self, path: Path, *, query_budget: float = QUERY_BUDGET_SECONDS) -> None:
        self.path = Path(path)
        self.query_budget = query_budget
        self._write_lock = threading.RLock()
        self._writer: sqlite3.Connection | None = None
        self._writer_target: Path | None = None
        self._pool: list[tuple[Path, sqlite3.Connection]] = []
        self._pool_lock = threading.Lock()
        try:
            self._ensure_exists()
        except (OSError, sqlite3.Error) as exc:
            raise SunshineError(f"search index {self.path} cannot be created: {exc}") from exc

    # --- files and connections -----------------------------------------------------------------

    @property
    def _generations(self) -> Path:
        return self.path.with_name(self.path.name + ".gen")

    def _current_target(self) -> Path:
        """The database file `path` points at now (the link is re-read so rebuilds are noticed)."""
        if self.path.is_symlink():
            return self.path.parent / os.readlink(self.path)
        return self.path

    def _ensure_exists(self) -> None:
        if self.path.exists() or self.path.is_symlink():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        target = self._new_generation()
        _create_schema(target).close()
        try:
            os.symlink(target.relative_to(self.path.parent), self.path)
        except FileExistsError:  # another process created the index first: use theirs
            _remove_database(target)

    def _new_generation(self) -> Path:
        self._generations.mkdir(parents=True, exist_ok=True)
        return self._generations / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.sqlite"

    def _writer_connection(self) -> sqlite3.Connection:
        target = self._current_target()
        if self._writer is None or self._writer_target != target:
            if self._writer is not None:
                self._writer.close()
            writer = _connect(target)
            version = writer.execute("PRAGMA user_version").fetchone()[0]
            empty = writer.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
            if empty:  # a new, empty database file: this writer lays out the current schema
                writer.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:  # written in the old layout, its counts would go wrong
                writer.close()
                raise SunshineError(f"search index {self.path} was built by another version (schema {version}, "
                                    f"expected {SCHEMA_VERSION}): run `sunshine reindex`")
            self._writer = writer
            self._writer.executescript(_SCHEMA + ";".join(_TRIGGERS))
            self._writer.execute("PRAGMA journal_mode = WAL")
            self._writer.execute("PRAGMA synchronous = NORMAL")
            self._writer_target = target
        return self._writer

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A read connection on the current generation, borrowed from the pool and given back."""
        target = self._current_target()
        connection: sqlite3.Connection | None = None
        stale: list[sqlite3.Connection] = []
        with self._pool_lock:
            while self._pool and connection is None:
                pooled_target, pooled = self._pool.pop()
                if pooled_target == target:
                    connection = pooled
                else:
                    stale.append(pooled)
        for old in stale:
            old.close()
        try:
            if connection is None:
                connection = _connect(target)
                connection.execute("PRAGMA query_only = ON")
                # Searches read indexes and FTS doclists at random: map the file rather than copy pages.
                connection.execute(f"PRAGMA mmap_size = {READER_MMAP_BYTES}")
                connection.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
            yield connection
        except sqlite3.Error as exc:
            if connection is not None:
                connection.close()
                connection = None
            raise SunshineError(f"search index {self.path} cannot be read: {exc}") from exc
        finally:
            if connection is not None:
                with self._pool_lock:
                    if len(self._pool) < POOL_SIZE:
                        self._pool.append((target, connection))
                        connection = None
                if connection is not None:
                    connection.close()

    def close(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer, self._writer_target = None, None
        with self._pool_lock:
            pooled, self._pool = self._pool, []
        for _, connection in pooled:
            connection.close()

    def ping(self) -> None:
        try:
            with self._reader() as connection:
                connection.execute("SELECT count(*) FROM (SELECT 1 FROM records LIMIT 1)").fetchone()
                version = connection.execute("PRAGMA user_version").fetchone()[0]
        except SunshineError:
            raise
        except OSError as exc:
            raise SunshineError(f"search index {self.path} cannot be read: {exc}") from exc
        if version != SCHEMA_VERSION:
            raise SunshineError(f"search index {self.path} was built by another version (schema {version}, "
                                f"expected {SCHEMA_VERSION}): run `sunshine reindex`")

    # --- writing -------------------------------------------------------------------------------

    def upsert(self, docs: Iterable[RecordDoc]) -> int:
        """Insert or replace records by record_id, all in one transaction; returns how many."""
        return self._in_write_transaction(lambda connection: _write(connection, docs))

    def delete(self, record_ids: Iterable[str]) -> int:
        """Remove records and their text from the index, in one transaction."""
        keys = [(record_id,) for record_id in record_ids]

        def remove(connection: sqlite3.Connection) -> int:
            connection.executemany(_FTS_DELETE, keys)
            connection.executemany("DELETE FROM changes WHERE record_id = ?", keys)
            # rowcount, not total_changes: the latter also counts the triggers' updates.
            return connection.executemany("DELETE FROM records WHERE record_id = ?", keys).rowcount

        return self._in_write_transaction(remove)

    def _in_write_transaction(self, work: Callable[[sqlite3.Connection], int]) -> int:
        """Run `work` in one immediate transaction on the single writer connection."""
        with self._write_lock:
            try:
                connection = self._writer_connection()
                connection.execute("BEGIN IMMEDIATE")
                try:
                    result = work(connection)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise SunshineError(f"search index {self.path} cannot be written: {exc}") from exc
        return result

    def rebuild(self, docs: Iterable[RecordDoc]) -> int:
        """Build a new generation from `docs`, then swap the link at `path` onto it atomically."""
        with self._write_lock:
            previous = self._current_target() if self.path.exists() else None
            target = self._new_generation()
            building = target.with_name("building-" + target.name)
            try:
                connection = _create_schema(building, triggers=False)
                connection.execute("PRAGMA journal_mode = OFF")
                connection.execute("PRAGMA synchronous = OFF")
                connection.execute("BEGIN")
                written = _write(connection, docs)
                connection.execute(_FILL_FACET_DAYS)
                for trigger in _TRIGGERS:
                    connection.execute(trigger)
                connection.execute("COMMIT")
                connection.execute("INSERT INTO records_fts (records_fts) VALUES ('optimize')")
                connection.execute("PRAGMA journal_mode = WAL")
                connection.close()
                fsync_path(building)
                os.replace(building, target)
                link = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.link")
                os.symlink(target.relative_to(self.path.parent), link)
                if self._writer is not None and previous is not None:
                    # Fold the old WAL into its file for readers still on it; never wait for them.
                    self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
                os.replace(link, self.path)
                fsync_path(self.path.parent)
            except BaseException:
                _remove_database(building)
                raise
            self._drop_old_generations(keep={target, previous})
            if self._writer is not None:
                self._writer.close()
                self._writer, self._writer_target = None, None
        return written

    def _drop_old_generations(self, keep: set[Path | None]) -> None:
        keep_names = {path.name for path in keep if path is not None}
        now = time.time()
        for database in self._generations.glob("*.sqlite"):
            if database.name in keep_names:
                continue
            if database.name.startswith("building-"):  # an interrupted rebuild, once clearly abandoned
                with contextlib.suppress(OSError):
                    if now - database.stat().st_mtime < STALE_BUILD_SECONDS:
                        continue
            _remove_database(database)

    # --- reading -------------------------------------------------------------------------------

    def get(self, record_id: str) -> RecordDoc | None:
        with self._reader() as connection:
            row = connection.execute(
                "SELECT doc FROM records WHERE record_id = ?", (column_text(record_id),)
            ).fetchone()
        return doc_from_json_text(row[0]) if row else None

    def thread(self, thread_id: str) -> list[RecordDoc]:
        with self._reader() as connection:
            rows = connection.execute(
                "SELECT doc FROM records WHERE thread_id = ? ORDER BY created_at, record_id",
                (column_text(thread_id),),
            ).fetchall()
        return [doc_from_json_text(row[0]) for row in rows]

    def counts(self) -> dict[str, int]:
        with self._reader() as connection:
            rows = connection.execute(
                "SELECT platform, count(*) FROM records GROUP BY platform ORDER BY platform"
            ).fetchall()
        return {platform: count for platform, count in rows}

    def latest(self, limit: int = 10) -> list[RecordDoc]:
        """The newest posts written by the department itself (any status), newest first."""
        with self._reader() as connection:
            rows = connection.execute(
                "SELECT doc FROM records WHERE kind = 'post' AND author_is_department = 1 "
                "ORDER BY created_at DESC, record_id LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        return [doc_from_json_text(row[0]) for row in rows]

    def changes(self, query: ChangeQuery) -> ChangePage:
        """The change log, newest first: counted and paged off `changes_newest`, rows read for one page."""
        conditions: list[str] = []
        params: list[Any] = []
        for name in ("platform", "account"):
            if (value := getattr(query, name)) is not None:
                conditions.append(f"{name} = ?")
                params.append(column_text(value))
        if query.date_from:
            conditions.append("detected_at >= ?")
            params.append(query.date_from)
        if query.date_to and (end := next_day(query.date_to)) is not None:
            conditions.append("detected_at < ?")
            params.append(end)
        where = " AND ".join(conditions) or "1"
        with self._reader() as connection, _budget(connection, self.query_budget):
            counts = {kind: 0 for kind in CHANGE_KINDS}
            for kind, count in connection.execute(
                    f"SELECT change, count(*) FROM changes WHERE {where} GROUP BY change", params):
                counts[kind] = count
            if query.change is not None:
                where += " AND change = ?"
                params.append(query.change)
            total = counts.get(query.change, 0) if query.change is not None else sum(counts.values())
            rows = connection.execute(
                f"SELECT entry FROM changes WHERE {where} ORDER BY detected_at DESC, record_id, version DESC "
                "LIMIT ? OFFSET ?", (*params, query.per_page, (query.page - 1) * query.per_page)).fetchall()
        changes = [Change.from_json(json.loads(row[0])) for row in rows]
        return ChangePage(total=total, changes=changes, page=query.page, per_page=query.per_page, counts=counts)

    def search(self, query: SearchQuery) -> SearchPage:
        text_query = bounded_text(query.text)
        positive, excluded = fts5_match_parts(text_query)
        conditions, params = _filters(query)
        offset = (query.page - 1) * query.per_page
        with self._reader() as connection, _budget(connection, self.query_budget):
            order = _ORDERS[query.order(ranked=positive is not None)]
            if positive is None and excluded is None:
                # No text: counted from facet_days, paged off records_newest; no record row is read.
                facets, timeline = _aggregate_days(connection, query)
                where = " AND ".join(conditions) or "1"
                page_sql = (f"SELECT r.id FROM records AS r INDEXED BY records_newest WHERE {where} "
                            f"ORDER BY {order} LIMIT ? OFFSET ?")
            else:
                if positive is not None:
                    source = f"records_fts JOIN records AS r {_BY_ID} ON r.id = records_fts.rowid"
                    conditions.insert(0, "records_fts MATCH ?")
                    params.insert(0, positive)
                else:
                    source = f"records AS r {_BY_ID}"
                    conditions.append("r.id NOT IN (SELECT rowid FROM records_fts WHERE records_fts MATCH ?)")
                    params.append(excluded)
                where = " AND ".join(conditions)
                facets, timeline = _aggregate(connection, source, where, params)
                page_sql = f"SELECT r.id FROM {source} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
            total = sum(facets["platform"].values())
            page_ids = []
            if offset < total:
                page_ids = [row[0] for row in connection.execute(page_sql, (*params, query.per_page, offset))]
            hits = _hits(connection, page_ids, text_query, positive)
        return SearchPage(
            total=total, hits=hits, facets=facets, page=query.page, per_page=query.per_page,
            timeline=timeline,
        )


# --- helpers (module level: they hold no state) -------------------------------------------------------


def _connect(target: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=10.0)
    connection.execute("PRAGMA busy_timeout = 10000")
    return connection


def _create_schema(target: Path, triggers: bool = True) -> sqlite3.Connection:
    connection = _connect(target)
    connection.executescript(_SCHEMA + (";".join(_TRIGGERS) if triggers else ""))
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    connection.execute("PRAGMA journal_mode = WAL")
    return connection


@contextlib.contextmanager
def _budget(connection: sqlite3.Connection, seconds: float) -> Iterator[None]:
    """Interrupt the connection's statements once `seconds` have passed (`SearchTooCostly`).

    FTS5 errors are the search's fault here (a `QueryError`), never a damaged index: every MATCH
    expression comes from `indexer.query`, so one FTS5 refuses is a search it cannot parse.
    """
    deadline = time.monotonic() + seconds
    connection.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if str(exc) == "interrupted":
            raise SearchTooCostly(seconds) from exc
        if str(exc).startswith(("fts5: syntax error", "fts5: parser stack overflow")):
            raise QueryError(f"the search could not be run: {exc}") from exc
        raise
    finally:
        connection.set_progress_handler(None, 0)


def _remove_database(database: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{database}{suffix}")




def _write(connection: sqlite3.Connection, docs: Iterable[RecordDoc]) -> int:
    """Write `docs` in batches inside the caller's transaction, replacing records by record_id."""
    written = 0
    iterator = iter(docs)
    while batch := list(islice(iterator, BATCH)):
        latest = {doc.record_id: doc for doc in batch}  # within a batch, the last one wins
        keys = [(column_text(record_id),) for record_id in latest]
        connection.executemany(_FTS_DELETE, keys)  # a no-op for new records
        connection.executemany("DELETE FROM changes WHERE record_id = ?", keys)
        connection.executemany(
            "INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(column_text(entry.record_id), entry.version, entry.change, column_text(entry.detected_at),
              column_text(entry.platform), column_text(entry.account), canonical_json(entry.to_json()).decode())
             for doc in latest.values() for entry in change_entries(doc)],
        )
        rows = [_row(doc) for doc in latest.values()]
        connection.executemany(_BUCKET, [row[1:6] for row in rows])  # platform .. created_at
        connection.executemany(_UPSERT, rows)
        connection.executemany(
            _FTS_INSERT,
            [(searchable_text(doc.text), searchable_text(doc.author), key[0])
             for doc, key in zip(latest.values(), keys, strict=True)],
        )
        written += len(batch)
    return written


def _row(doc: RecordDoc) -> tuple[Any, ...]:
    return (
        column_text(doc.record_id), column_text(doc.platform), column_text(doc.account),
        column_text(doc.kind), column_text(doc.status), column_text(doc.created_at),
        column_text(doc.thread_id), int(doc.author_is_department), doc_to_json_text(doc),
    )


def _filters(query: SearchQuery, prefix: str = "r.", date_column: str = "created_at",
             ) -> tuple[list[str], list[Any]]:
    """WHERE conditions for the query's facet filters and its inclusive date range.

    Used on records (`r.created_at`) and on the per-day counts (`day`): a day is inside the range
    exactly when the created_at values it counts are.
    """
    conditions: list[str] = []
    params: list[Any] = []
    for name in FACET_FIELDS:
        value = getattr(query, name)
        if value is not None:
            conditions.append(f"{prefix}{name} = ?")
            params.append(column_text(value))
    if query.date_from:
        conditions.append(f"{prefix}{date_column} >= ?")
        params.append(query.date_from)
    if query.date_to and (end := next_day(query.date_to)) is not None:
        conditions.append(f"{prefix}{date_column} < ?")
        params.append(end)
    return conditions, params


def _aggregate(
    connection: sqlite3.Connection, source: str, where: str, params: list[Any]
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Facet counts for every FACET_FIELD and the per-month timeline, in one pass over the result.

    The matches are grouped by their bucket (one integer standing for all five keys: their
    combinations are few), the groups named from `buckets` and summed up here: far cheaper than one
    grouping per field, or one over five strings, over a large result.
    """
    keys = ", ".join(f"b.{name}" for name in FACET_FIELDS)
    sql = (
        f"SELECT {keys}, b.month, n FROM (SELECT r.bucket AS bucket, count(*) AS n FROM {source} "
        f"WHERE {where} GROUP BY r.bucket) JOIN buckets AS b ON b.id = bucket"
    )
    return _summed(connection.execute(sql, params))


def _aggregate_days(
    connection: sqlite3.Connection, query: SearchQuery
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """`_aggregate` for a search without text, from the per-day counts the triggers keep."""
    conditions, params = _filters(query, prefix="", date_column="day")
    conditions.insert(0, "n > 0")
    keys = ", ".join(FACET_FIELDS)
    sql = (
        f"SELECT {keys}, substr(day, 1, 7) AS month, sum(n) FROM facet_days WHERE {' AND '.join(conditions)} "
        f"GROUP BY {keys}, month"
    )
    return _summed(connection.execute(sql, params))


def _summed(rows: Iterable[tuple[Any, ...]]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Rows of (*FACET_FIELDS, month, count) summed per field, most frequent value first."""
    counts: dict[str, dict[str, int]] = {name: {} for name in (*FACET_FIELDS, "month")}
    for row in rows:
        count = row[-1]
        for name, value in zip((*FACET_FIELDS, "month"), row[:-1], strict=True):
            counts[name][value] = counts[name].get(value, 0) + count
    facets = {
        name: dict(sorted(counts[name].items(), key=lambda item: (-item[1], item[0]))) for name in FACET_FIELDS
    }
    return facets, dict(sorted(counts["month"].items()))


def _hits(
    connection: sqlite3.Connection, page_ids: list[int], text_query: TextQuery, positive: str | None
) -> list[SearchHit]:
    """The page's records with highlights, computed only for these rows (not every match)."""
    if not page_ids:
        return []
    marks = ", ".join("?" for _ in page_ids)
    if positive is None:
        rows = connection.execute(f"SELECT id, doc, NULL FROM records WHERE id IN ({marks})", page_ids)
    else:
        rows = connection.execute(
            f"SELECT r.id, r.doc, {_HIGHLIGHT} FROM records_fts JOIN records AS r ON r.id = records_fts.rowid "
            f"WHERE records_fts MATCH ? AND records_fts.rowid IN ({marks})",
            (HIGHLIGHT_START, HIGHLIGHT_END, positive, *page_ids),
        )
    by_id: dict[int, SearchHit] = {}
    for row_id, doc_text, highlight in rows.fetchall():
        record = doc_from_json_text(doc_text)
        if highlight is None:
            if positive is not None and len(record.text) > WHOLE_TEXT_CHARS:
                highlight = long_text_highlight(searchable_text(record.text), text_query, positive)
            else:
                highlight = excerpt(record.text)
        by_id[row_id] = SearchHit(record=record, highlight=highlight)
    return [by_id[row_id] for row_id in page_ids if row_id in by_id]
