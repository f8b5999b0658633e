"""SQLite-only behaviour of `SqliteIndex` (the shared semantics are in test_index_contract.py): readers never
blocked by the writer, the generation swap on rebuild, thread safety, bounded highlight cost."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.errors import SunshineError
from archiver.model import RecordDoc
from indexer import HIGHLIGHT_END, HIGHLIGHT_START, SearchQuery
from indexer.query import QueryError, SearchTooCostly
from indexer.sqlite_fts import SqliteIndex, _budget
from tests.indexer.corpus import build_corpus

BASE = build_corpus()[0]


def record(n: int, text: str | None = None) -> RecordDoc:
    return replace(BASE, record_id=f"r-{n}", thread_id=f"r-{n}", text=text or f"road closure number {n}",
                   created_at=f"2024-01-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[SqliteIndex]:
    made = SqliteIndex(tmp_path / "search.sqlite")
    yield made
    made.close()


def test_path_is_a_link_to_the_current_generation(index: SqliteIndex, tmp_path: Path) -> None:
    assert index.path.is_symlink()
    target = Path(os.readlink(index.path))
    assert not target.is_absolute()  # the archive folder can be moved as a whole
    assert (tmp_path / target).exists()


def test_readers_are_not_blocked_by_an_open_write(index: SqliteIndex) -> None:
    index.upsert(record(n) for n in range(10))
    in_transaction, release = threading.Event(), threading.Event()

    def slow_docs() -> Iterator[RecordDoc]:
        yield from (record(n) for n in range(10, 20))
        in_transaction.set()
        release.wait(10)
        yield record(20)

    writer = threading.Thread(target=index.upsert, args=(slow_docs(),))
    writer.start()
    try:
        assert in_transaction.wait(10)
        started = time.monotonic()
        assert index.search(SearchQuery(text="road")).total == 10  # the write is not visible yet
        assert index.get("r-15") is None
        assert time.monotonic() - started < 2
    finally:
        release.set()
        writer.join(10)
    assert index.search(SearchQuery(text="road")).total == 21


def test_concurrent_readers_see_only_whole_upserts(index: SqliteIndex) -> None:
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.append(index.search(SearchQuery(text="closure", per_page=5)).total)
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for batch in range(10):
            index.upsert(record(batch * 50 + n) for n in range(50))
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not errors
    assert seen and all(total % 50 == 0 for total in seen)
    assert index.search(SearchQuery(text="closure")).total == 500


def test_rebuild_is_atomic_for_readers(index: SqliteIndex) -> None:
    index.upsert(record(n, "old words") for n in range(300))
    seen: set[tuple[int, frozenset[str]]] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            page = index.search(SearchQuery(text="old | new", per_page=100))
            seen.add((page.total, frozenset(hit.record.text for hit in page.hits)))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(3):
            index.rebuild(record(n, "new words") for n in range(200))
            index.rebuild(record(n, "old words") for n in range(300))
    finally:
        stop.set()
        thread.join(10)
    assert seen <= {(300, frozenset({"old words"})), (200, frozenset({"new words"}))}
    assert seen


def test_open_connections_keep_the_old_generation_and_new_instances_see_the_new(
    index: SqliteIndex, tmp_path: Path
) -> None:
    index.upsert(record(n, "old words") for n in range(5))
    old_file = index.path.parent / os.readlink(index.path)
    held = sqlite3.connect(old_file)
    held.execute("BEGIN")
    assert held.execute("SELECT count(*) FROM records").fetchone() == (5,)
    other = SqliteIndex(tmp_path / "search.sqlite")  # as the portal in another process would
    assert other.search(SearchQuery(text="old")).total == 5
    index.rebuild(record(n, "new words") for n in range(7))
    assert held.execute("SELECT count(*) FROM records").fetchone() == (5,)
    held.close()
    assert other.search(SearchQuery(text="new")).total == 7  # the link changed: it moved over
    assert other.search(SearchQuery(text="old")).total == 0
    other.close()


def test_failed_rebuild_leaves_the_index_as_it_was(index: SqliteIndex) -> None:
    index.upsert(record(n) for n in range(5))

    def broken() -> Iterator[RecordDoc]:
        yield record(100)
        raise RuntimeError("store unreachable")

    with pytest.raises(RuntimeError):
        index.rebuild(broken())
    assert index.search(SearchQuery()).total == 5
    generations = index.path.with_name(index.path.name + ".gen")
    assert not list(generations.glob("building-*"))


def test_old_generations_are_removed(index: SqliteIndex) -> None:
    for round_number in range(4):
        index.rebuild(record(n) for n in range(round_number + 1))
    generations = index.path.with_name(index.path.name + ".gen")
    assert len(list(generations.glob("*.sqlite"))) <= 2
    assert index.search(SearchQuery()).total == 4


def test_a_plain_database_file_is_used_until_the_first_rebuild(tmp_path: Path) -> None:
    plain = tmp_path / "plain.sqlite"
    sqlite3.connect(plain).close()
    index = SqliteIndex(plain)
    index.upsert([record(1)])
    assert not plain.is_symlink() and index.search(SearchQuery()).total == 1
    index.rebuild([record(2), record(3)])
    assert plain.is_symlink() and index.search(SearchQuery()).total == 2
    index.close()


def test_threads_share_one_index(index: SqliteIndex) -> None:
    index.upsert(record(n) for n in range(100))
    with ThreadPoolExecutor(8) as pool:
        totals = list(pool.map(lambda n: index.search(SearchQuery(text=f"road {n % 3}")).total, range(64)))
    assert set(totals) <= {0, 1, 2, 3, 100}
    index.close()  # closing and using again reopens
    assert index.search(SearchQuery()).total == 100


def test_a_huge_repetitive_text_highlights_quickly(index: SqliteIndex) -> None:
    """FTS5's snippet() is quadratic in matches: this took minutes before long texts were chunked."""
    index.upsert([record(1, "word " * 200_000)])
    started = time.monotonic()
    (hit,) = index.search(SearchQuery(text="word")).hits
    assert time.monotonic() - started < 5
    assert hit.highlight.startswith(HIGHLIGHT_START + "word" + HIGHLIGHT_END) and len(hit.highlight) < 2_000


def test_a_broken_index_is_reported_not_raised_raw(tmp_path: Path) -> None:
    index = SqliteIndex(tmp_path / "search.sqlite")
    target = index.path.parent / os.readlink(index.path)
    index.close()
    target.unlink()
    target.mkdir()  # something unreadable where the database was
    with pytest.raises(SunshineError, match="search index .* cannot be read"):
        index.ping()
    with pytest.raises(SunshineError, match="cannot be read"):
        index.search(SearchQuery(text="x"))


def _counted(index: SqliteIndex, **filters: str) -> tuple[int, dict, dict]:
    page = index.search(SearchQuery(**filters))
    return page.total, {name: values for name, values in page.facets.items() if values}, page.timeline


def test_counts_without_text_follow_upserts_deletes_and_rebuilds(index: SqliteIndex) -> None:
    """A search without text is counted from per-day totals the triggers keep; they must always agree
    with counting the records themselves (an exclusion nothing matches reads every record)."""
    corpus = build_corpus()
    index.rebuild(corpus[:60])
    index.upsert([replace(doc, status="deleted", created_at="2025-02-03T04:05:06Z") for doc in corpus[10:20]])
    index.upsert([replace(doc, platform="youtube", kind="media") for doc in corpus[50:70]])
    index.delete([doc.record_id for doc in corpus[0:5]] + [doc.record_id for doc in corpus[55:58]])
    index.upsert(corpus[20:25])  # unchanged: counted once, not twice
    for filters in ({}, {"status": "deleted"}, {"platform": "youtube"}, {"kind": "media", "platform": "youtube"},
                    {"date_from": "2025-02-03", "date_to": "2025-02-03"}, {"date_to": "2024-03-31"},
                    {"account": corpus[30].account}):
        assert _counted(index, **filters) == _counted(index, text="-nosuchword", **filters), filters
    assert index.search(SearchQuery()).total == 60 + 10 - 8
    with sqlite3.connect(index.path) as connection:  # the same per-day totals as counted from scratch
        kept = connection.execute("SELECT platform, account, kind, status, day, n FROM facet_days "
                                  "WHERE n > 0 ORDER BY 1, 2, 3, 4, 5").fetchall()
        fresh = connection.execute("SELECT platform, account, kind, status, substr(created_at, 1, 10), count(*) "
                                   "FROM records GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5").fetchall()
    assert kept == fresh


def test_deep_pages_without_text_are_newest_first_then_by_record_id(index: SqliteIndex) -> None:
    docs = [replace(record(n), created_at=f"2024-01-{1 + n % 3:02d}T00:00:00Z") for n in range(30)]
    index.rebuild(docs)
    expected = sorted(docs, key=lambda doc: doc.record_id)
    expected = sorted(expected, key=lambda doc: doc.created_at, reverse=True)
    seen = [hit.record.record_id for page in range(1, 5)
            for hit in index.search(SearchQuery(page=page, per_page=8)).hits]
    assert seen == [doc.record_id for doc in expected]
    assert index.search(SearchQuery(page=5, per_page=8)).hits == []


def test_an_index_of_another_schema_refuses_reads_and_writes_until_reindexed(tmp_path: Path) -> None:
    docs = build_corpus()[:20]
    index = SqliteIndex(tmp_path / "search.sqlite")
    index.upsert(docs)
    index.close()
    with sqlite3.connect(tmp_path / "search.sqlite") as old:
        old.execute("PRAGMA user_version = 1")
    stale = SqliteIndex(tmp_path / "search.sqlite")
    with pytest.raises(SunshineError, match="sunshine reindex"):
        stale.ping()
    with pytest.raises(SunshineError, match="sunshine reindex"):
        stale.upsert(docs[:1])
    assert stale.rebuild(docs) == len(docs)
    stale.ping()
    assert stale.upsert(docs[:1]) == 1
    assert stale.search(SearchQuery()).total == len(docs)
    stale.close()


def test_a_search_past_its_time_budget_is_stopped_as_the_searchs_fault(tmp_path: Path) -> None:
    spent = SqliteIndex(tmp_path / "search.sqlite", query_budget=0.0)  # every search is over budget at once
    spent.upsert(record(n, f"t{n} tango{n} tulip{n} road closure") for n in range(2000))
    with pytest.raises(SearchTooCostly, match="stopped after 0 s"):
        spent.search(SearchQuery(text="t*"))
    spent.query_budget = 5.0
    assert spent.search(SearchQuery(text="t*")).total == 2000  # the interrupted connection is still good
    spent.close()


def test_an_expression_fts5_refuses_is_a_query_error_not_a_broken_index(tmp_path: Path) -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5 (x)")
    nested = "(" * 120 + '"a"' + ")" * 120
    for expression in ('"a" AND', nested):
        with pytest.raises(QueryError, match="the search could not be run: fts5: "), _budget(connection, 5.0):
            connection.execute("SELECT * FROM t WHERE t MATCH ?", (expression,)).fetchall()
    with pytest.raises(sqlite3.OperationalError, match="no such table"), _budget(connection, 5.0):
        connection.execute("SELECT * FROM missing").fetchall()  # anything else is not the search's fault
