"""Elasticsearch-only behaviour of `ElasticIndex` on a real node (the shared semantics are in
test_index_contract.py): the alias swap on rebuild, bulk failures reported, outages failing fast."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.errors import SunshineError
from archiver.model import RecordDoc
from indexer import HIGHLIGHT_END, HIGHLIGHT_START, SearchQuery
from indexer.elastic import FTS5_TERMS, FTS5_TOKENIZE, ElasticIndex, index_form, restore_highlight
from indexer.query import QueryError, SearchTooCostly, parse_search_args


def record(n: int, text: str = "", created_at: str | None = None, **fields: object) -> RecordDoc:
    values: dict = dict(
        record_id=f"bluesky-{n}", platform="bluesky", account="springfieldpd", kind="post", native_id=str(n),
        url=f"https://example.test/{n}", author="Springfield PD", author_is_department=True,
        created_at=created_at or f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}T12:00:00Z",
        text=text or f"Record {n}: road closure on Main Street", parent_id=None, thread_id=f"bluesky-{n}",
        status="active", sha256="0" * 64, ledger_index=n,
    )
    values.update(fields)
    return RecordDoc(**values)


@pytest.fixture
def index(es_url: str) -> Iterator[ElasticIndex]:
    name = f"test-{uuid.uuid4().hex[:10]}"
    idx = ElasticIndex(es_url, name)
    yield idx
    idx.close()
    with Elasticsearch(es_url) as es:
        es.indices.delete(index=f"{name}*", ignore_unavailable=True, allow_no_indices=True)


def _backing(es_url: str, alias: str) -> list[str]:
    with Elasticsearch(es_url) as es:
        return sorted(es.indices.get(index=f"{alias}-v*", allow_no_indices=True).keys())


def test_rebuild_swaps_the_alias_and_readers_never_see_an_empty_index(index: ElasticIndex, es_url: str) -> None:
    assert index.rebuild(record(n) for n in range(300)) == 300
    (first,) = _backing(es_url, index.alias)
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.append(index.search(SearchQuery()).total)

    thread = threading.Thread(target=reader)
    thread.start()

    def slow_docs() -> Iterator[RecordDoc]:  # a rebuild that takes a while, readers busy meanwhile
        for n in range(500):
            if n % 100 == 0:
                time.sleep(0.2)
            yield record(n, text=f"Rebuilt {n}: arrested downtown")

    try:
        assert index.rebuild(slow_docs()) == 500
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    assert set(seen) <= {300, 500} and 300 in seen and seen[-1] == 500
    assert seen == sorted(seen)  # once swapped, never back to the old index
    (second,) = _backing(es_url, index.alias)  # the old index is gone
    assert second != first and index.search(SearchQuery(text="arrest")).total == 500


def test_a_rebuild_that_fails_keeps_the_old_index_serving(index: ElasticIndex, es_url: str) -> None:
    index.rebuild(record(n) for n in range(10))
    (before,) = _backing(es_url, index.alias)

    def broken() -> Iterator[RecordDoc]:
        yield record(1)
        raise RuntimeError("store went away")

    with pytest.raises(RuntimeError):
        index.rebuild(broken())
    assert _backing(es_url, index.alias) == [before]
    assert index.search(SearchQuery()).total == 10


def test_bulk_of_20k_reports_every_rejected_record_and_writes_the_rest(index: ElasticIndex) -> None:
    bad = {137, 15_000}

    def docs() -> Iterator[RecordDoc]:
        for n in range(20_000):
            yield record(n, created_at="not a date" if n in bad else None)

    with pytest.raises(SunshineError) as failure:
        index.upsert(docs())
    message = str(failure.value)
    assert "2 of 20000" in message and "bluesky-137" in message and "bluesky-15000" in message
    assert index.search(SearchQuery()).total == 19_998
    assert index.get("bluesky-137") is None and index.get("bluesky-136") is not None


def test_upsert_replaces_by_record_id_and_is_visible_at_once(index: ElasticIndex) -> None:
    index.upsert([record(1, text="first words")])
    index.upsert([record(1, text="edited words", status="edited")])
    page = index.search(SearchQuery(text="edited"))
    assert page.total == 1 and page.hits[0].record.status == "edited"
    assert index.search(SearchQuery(text="first")).total == 0


def test_scan_reads_past_the_paging_window_in_a_stable_order(index: ElasticIndex) -> None:
    index.upsert(record(n) for n in range(1200))
    ids = [doc.record_id for doc in index.scan(SearchQuery(platform="bluesky"), batch=250)]
    assert len(ids) == len(set(ids)) == 1200
    with pytest.raises(QueryError):
        index.search(SearchQuery(page=501, per_page=20))


def test_hostile_text_round_trips_and_cannot_forge_highlights(index: ElasticIndex) -> None:
    text = f"arrested \ud800 {HIGHLIGHT_START}fake{HIGHLIGHT_END} <script>x</script> café"
    index.upsert([record(1, text=text)])
    assert index.get("bluesky-1").text == text
    (hit,) = index.search(SearchQuery(text="arrest cafe")).hits
    assert hit.highlight.count(HIGHLIGHT_START) == hit.highlight.count(HIGHLIGHT_END) == 2
    assert f"{HIGHLIGHT_START}arrested{HIGHLIGHT_END}" in hit.highlight
    assert f"{HIGHLIGHT_START}café{HIGHLIGHT_END}" in hit.highlight


def test_index_form_keeps_one_position_per_character() -> None:
    folded, positions = index_form("Café, don't e\u0301")
    assert folded == "Cafe  don t e" and len(positions) == len(folded)
    marked = f"Cafe  {HIGHLIGHT_START}don{HIGHLIGHT_END} t e"
    assert restore_highlight("Café, don't e\u0301", marked) == f"Café, {HIGHLIGHT_START}don{HIGHLIGHT_END}'t e\u0301"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_query_text_is_answered_or_refused_never_a_server_error(index: ElasticIndex, text: str) -> None:
    try:
        query = parse_search_args({"q": text})
    except QueryError:
        return
    with contextlib.suppress(QueryError):  # a bounded, explained refusal is fine; a 5xx is not
        index.search(query)


def test_a_stopped_server_fails_fast_with_a_clear_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on, as after `infra/services stop`
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    idx = ElasticIndex(url, "sunshine")
    started = time.monotonic()
    with pytest.raises(SunshineError, match="is not answering"):
        idx.ping()
    with pytest.raises(SunshineError, match=f"Elasticsearch at {url} is not answering"):
        idx.search(SearchQuery(text="arrest"))
    assert time.monotonic() - started < 5


def test_a_hung_server_times_out_instead_of_hanging() -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        idx = ElasticIndex(f"http://127.0.0.1:{listener.getsockname()[1]}", "sunshine", request_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(SunshineError, match="is not answering"):
            idx.search(SearchQuery())
        assert time.monotonic() - started < 10


def test_terms_come_from_the_same_fts5_tokenizer_as_the_sqlite_backend() -> None:
    from indexer import sqlite_fts

    assert f'tokenize = "{FTS5_TOKENIZE}"' in sqlite_fts._SCHEMA
    assert FTS5_TERMS.of(["\u2067\u05e9\u05dc\u05d5\u05dd\u2069 x\u202ey"]) == ["\u05e9\u05dc\u05d5\u05dd x y"]
    assert FTS5_TERMS.of(["Officers ARRESTED the café's runner", ""]) == ["offic arrest the cafe s runner", ""]
    backwards = " ".join(f"w{n:04d}" for n in range(3000, 0, -1))  # terms in text order, not sorted
    assert FTS5_TERMS.of([backwards] * 3) == [backwards] * 3


def test_matching_follows_porter_even_where_hunspell_would_not(index: ElasticIndex) -> None:
    index.upsert([record(1, text="Runs and running"), record(2, text="We ran"), record(3, text="Robbery reported")])
    assert {hit.record.record_id for hit in index.search(SearchQuery(text="run")).hits} == {"bluesky-1"}
    assert index.search(SearchQuery(text="robberies")).total == 1
    assert index.search(SearchQuery(text="running*")).total == 1  # FTS5 stems a prefix too: run*


def test_ping_asks_for_a_reindex_when_the_index_is_from_another_schema(index: ElasticIndex, es_url: str) -> None:
    index.ping()  # nothing indexed yet is fine
    with Elasticsearch(es_url) as es:
        es.indices.create(index=f"{index.alias}-v0-20200101000000000000", aliases={index.alias: {}})
    with pytest.raises(SunshineError, match="sunshine reindex"):
        index.ping()
    index.rebuild([record(1)])
    index.ping()
    assert len(_backing(es_url, index.alias)) == 1


@pytest.mark.parametrize("url", ["localhost-9200", "localhost:9200", "http://localhost", "ftp://host:9200",
                                 "http://host:99999"])
def test_a_malformed_url_is_a_clear_error_where_the_client_is_opened(url: str) -> None:
    with pytest.raises(SunshineError, match=r"\[search\] url .* is not an Elasticsearch URL such as"):
        ElasticIndex(url, "sunshine")


class _NotElasticsearch(BaseHTTPRequestHandler):
    """Answers every request like a web server or another API would: HTML, or a JSON 404."""

    answer_html = True

    def _answer(self) -> None:
        html = type(self).answer_html
        body = b"<html><body>It works!</body></html>" if html else b'{"error": "no route"}'
        self.send_response(200 if html else 404)
        self.send_header("Content-Type", "text/html" if html else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("answer_html", [True, False], ids=["html-200", "json-404"])
def test_a_server_that_is_not_elasticsearch_is_named_in_a_clear_error(answer_html: bool) -> None:
    handler = type("Handler", (_NotElasticsearch,), {"answer_html": answer_html})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    idx = ElasticIndex(url, "sunshine")
    try:
        for call in (lambda: idx.rebuild([record(1)]), lambda: idx.upsert([record(1)]), idx.ping,
                     lambda: idx.search(SearchQuery(text="a")), lambda: idx.get("bluesky-1"),
                     lambda: idx.thread("bluesky-1"), idx.counts, lambda: idx.delete(["bluesky-1"])):
            with pytest.raises(SunshineError, match=f"{url} answered HTTP .* but is not Elasticsearch"):
                call()
    finally:
        idx.close()
        server.shutdown()
        server.server_close()


def test_each_search_carries_the_time_budget_and_a_timed_out_answer_is_not_shown(
    index: ElasticIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.upsert([record(1, text="arrest downtown")])
    sent: list[dict] = []
    real_msearch = index._es.msearch

    def spying(**kwargs: object):
        sent.extend(body for body in kwargs["searches"] if "query" in body)
        return real_msearch(**kwargs)

    monkeypatch.setattr(index._es, "msearch", spying)
    assert index.search(SearchQuery(text="arrest")).total == 1
    assert sent and all(body["timeout"] == "3000ms" for body in sent)

    class TimedOut:
        body = {"responses": [{"timed_out": True, "hits": {"total": {"value": 0}, "hits": []}}] * 2}

    monkeypatch.setattr(index._es, "msearch", lambda **kwargs: TimedOut())
    with pytest.raises(SearchTooCostly, match=r"stopped after 3 s"):
        index.search(SearchQuery(text="arrest"))
