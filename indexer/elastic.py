"""Elasticsearch behind `indexer.SearchIndex`: the scale-out read model, same semantics as SQLite FTS5.

Layout: the name the portal reads (`sunshine`) is an alias over one versioned index
(`sunshine-v<SCHEMA>-<timestamp>`), so `rebuild` loads a fresh index and swaps the alias in one atomic
`_aliases` call: readers see the old index or the new one, never a half-built one.

Matching is FTS5's, exactly: every text and author is cut, folded and stemmed by SQLite's own FTS5
tokenizer (`Fts5Terms`, the SQLite backend's `porter unicode61 remove_diacritics 2`) and Elasticsearch
indexes those terms (`stems`, `author_stems`); query words go through the same tokenizer, so totals,
facets and timelines agree with the SQLite backend. The readable `text` field is for highlights: it
is stemmed by porter on a full deployment (analysis-common) or by the core `hunspell` filter with the
en_US dictionary where that module is missing (the integration-test server); `text.exact` keeps
words unstemmed. User text only reaches Elasticsearch as `indexer.query.simple_query_string`
renders it (words, phrases, prefixes, AND/OR/NOT), never as Lucene query syntax. Ranking is bm25 on
both, but Lucene's and FTS5's bm25 differ (IDF floor, length norms), so equal-total pages may order
ties and near-ties differently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from queue import Empty, Queue
from typing import Any
from urllib.parse import urlsplit

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError
from elasticsearch import (
    ApiError,
    BadRequestError,
    Elasticsearch,
    NotFoundError,
    UnsupportedProductError,
    helpers,
)

from archiver.canonical import canonical_json
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
from indexer.query import (
    Clause,
    QueryError,
    SearchTooCostly,
    TextQuery,
    bounded_text,
    parse_text,
    simple_query_string,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4  # 3: bidi controls separate words; 4: the change log beside the records
STALE_BUILD_SECONDS = 24 * 3600  # an unaliased build this old is a crashed rebuild, not one running
MAX_WINDOW = 10_000  # from + size ceiling (index.max_result_window); deeper reading uses `scan`
WHOLE_TEXT_CHARS = 1000  # as the SQLite backend: shorter texts are highlighted whole, longer ones cut
SNIPPET_CHARS = 300
MAX_ANALYZED_OFFSET = 1_000_000  # the index default; past it a text is shown from its start, never refused
FACET_SIZE = 500
QUERY_BUDGET_SECONDS = 3.0  # as SQLite's: a search still running then is stopped (`timeout`), a 400
SIMPLE_QUERY_FLAGS = "AND|OR|NOT|PHRASE|PREFIX|WHITESPACE"
_KEYWORDS = ("record_id", "platform", "account", "kind", "status", "thread_id", "parent_id")
_SEARCHED = ("text", "author")
_ASCII_NON_WORD = re.compile(r"[^A-Za-z0-9]")  # as in FTS5: every word may match either column
# indexer.SORTS: "oldest" is "newest" exactly reversed (as on SQLite); "relevance" puts _score first.
_SORTS: dict[str, list[Any]] = {"newest": [{"created_at": "desc"}, {"record_id": "asc"}],
                                "oldest": [{"created_at": "asc"}, {"record_id": "desc"}]}
# Facets (every value, as SQLite returns them) and the month timeline over the whole filtered result.
_AGGREGATIONS: dict[str, Any] = {
    **{name: {"terms": {"field": name, "size": FACET_SIZE}} for name in FACET_FIELDS},
    "timeline": {"date_histogram": {"field": "created_at", "calendar_interval": "month", "format": "yyyy-MM",
                                    "min_doc_count": 1}},
}


class ElasticIndex:
    """The read model on Elasticsearch; `index` is the alias readers use."""

    def __init__(self, url: str, index: str = "sunshine", *, request_timeout: float = 30.0,
                 query_budget: float = QUERY_BUDGET_SECONDS) -> None:
        if not url:
            raise SunshineError("search backend 'elasticsearch' needs [search] url = \"http://host:9200\"")
        self.url = url
        self.alias = index
        self.query_budget = query_budget
        try:
            if urlsplit(url).scheme not in ("http", "https"):
                raise ValueError("the scheme must be http or https")
            self._es = Elasticsearch(url, request_timeout=request_timeout, max_retries=1,
                                     retry_on_timeout=False)
        except ValueError as exc:  # a malformed URL, found where it is used: never a portal 500
            raise SunshineError(f"[search] url {url!r} is not an Elasticsearch URL such as "
                                f"\"http://localhost:9200\": {exc}") from None

    # -- writing ---------------------------------------------------------------------------------

    def upsert(self, docs: Iterable[RecordDoc]) -> int:
        """Index or replace records by record_id, then refresh so the next search sees them."""
        entries: list[Change] = []
        with self._errors():
            if not self._alias_exists():  # an alias, or an index of that name
                self._swap_aliases({self.alias: self._create_index(), self.changes_alias: self._create_changes_index()})
            elif not self._es.indices.exists(index=self.changes_alias):
                self._swap_aliases({self.changes_alias: self._create_changes_index()})
            written = self._bulk(self.alias, _collecting(docs, entries))
            self._bulk_changes(self.changes_alias, entries)
            self._es.indices.refresh(index=f"{self.alias},{self.changes_alias}")
        return written

    def delete(self, record_ids: Iterable[str]) -> int:
        """Remove records by record_id, then refresh so the next search no longer sees them."""
        ids = list(record_ids)
        actions = ({"_op_type": "delete", "_index": self.alias, "_id": record_id} for record_id in ids)
        removed = 0
        with self._errors():
            if not self._alias_exists():
                return 0
            for ok, item in helpers.streaming_bulk(self._es, actions, chunk_size=1000, raise_on_error=False,
                                                   max_retries=5, initial_backoff=0.5, max_backoff=30):
                result = next(iter(item.values()))
                if ok:
                    removed += 1
                elif result.get("status") != 404:
                    raise SunshineError(f"Elasticsearch could not delete {result.get('_id')}: "
                                        f"{_reason(result.get('error'))}")
            self._es.indices.refresh(index=self.alias)
            self._delete_changes([column_text(record_id) for record_id in ids])
        return removed

    def rebuild(self, docs: Iterable[RecordDoc]) -> int:
        """Load `docs` into a new versioned index, then move the alias to it and drop the old one."""
        with self._errors():
            self._drop_stale_builds()
            new_index = self._create_index(loading=True)
            new_changes = self._create_changes_index()
            # The change log is collected while the records stream past: a few small entries per
            # changed record (changes are a small share of an archive), written after the records.
            entries: list[Change] = []
            try:
                written = self._bulk(new_index, _collecting(docs, entries))
                self._bulk_changes(new_changes, entries)
                self._es.indices.put_settings(index=new_index, settings={"index.refresh_interval": None})
                self._es.indices.refresh(index=f"{new_index},{new_changes}")
            except BaseException:
                self._es.indices.delete(index=f"{new_index},{new_changes}", ignore_unavailable=True)
                raise
            self._swap_aliases({self.alias: new_index, self.changes_alias: new_changes})
        return written

    @property
    def changes_alias(self) -> str:
        """The alias of the change log's index (`indexer.changes`), swapped together with the records'."""
        return f"{self.alias}-changes"

    def _create_changes_index(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        name = f"{self.changes_alias}-v{SCHEMA_VERSION}-{stamp}"
        self._es.indices.create(index=name, settings={"number_of_shards": 1, "auto_expand_replicas": "0-1",
                                                      "max_result_window": MAX_WINDOW},
                                mappings=CHANGE_MAPPINGS, wait_for_active_shards="1")
        return name

    def _bulk_changes(self, index: str, entries: list[Change]) -> None:
        """Write change entries by (record, version): re-indexing a record overwrites its entries."""
        actions = ({"_op_type": "index", "_index": index, "_source": _change_source(entry),
                    "_id": hashlib.sha256(f"{entry.record_id}\x00{entry.version}".encode("utf-8", "surrogatepass"))
                    .hexdigest()} for entry in entries)
        for ok, item in helpers.streaming_bulk(self._es, actions, chunk_size=1000, raise_on_error=False,
                                               max_retries=5, initial_backoff=0.5, max_backoff=30):
            if not ok:
                result = next(iter(item.values()))
                raise SunshineError(f"Elasticsearch rejected a change log entry: {_reason(result.get('error'))}")

    def _delete_changes(self, record_ids: list[str]) -> None:
        if not record_ids or not self._es.indices.exists(index=self.changes_alias):
            return
        # Found and deleted by id, not `_delete_by_query`: that lives in the reindex module, which a
        # core-only node (the integration-test server) lacks. A record has few changes.
        for start in range(0, len(record_ids), 1000):
            query = {"terms": {"record_id": record_ids[start:start + 1000]}}
            while hits := self._es.search(index=self.changes_alias, query=query, size=MAX_WINDOW, source=False,
                                          track_total_hits=False)["hits"]["hits"]:
                actions = ({"_op_type": "delete", "_index": hit["_index"], "_id": hit["_id"]} for hit in hits)
                for ok, item in helpers.streaming_bulk(self._es, actions, chunk_size=1000, raise_on_error=False):
                    result = next(iter(item.values()))
                    if not ok and result.get("status") != 404:
                        raise SunshineError(f"Elasticsearch could not delete a change log entry of "
                                            f"{result.get('_id')}: {_reason(result.get('error'))}")
                self._es.indices.refresh(index=self.changes_alias)

    def changes(self, query: ChangeQuery) -> ChangePage:
        """The change log, newest first; the per-kind counts ignore the `change` filter (a post_filter)."""
        filters: list[dict[str, Any]] = [{"term": {name: column_text(value)}} for name in ("platform", "account")
                                         if (value := getattr(query, name)) is not None]
        bounds: dict[str, str] = {}
        if query.date_from:
            bounds["gte"] = query.date_from
        if query.date_to and (end := next_day(query.date_to)) is not None:
            bounds["lt"] = end
        if bounds:
            filters.append({"range": {"detected_at": bounds}})  # ISO strings: compared as SQLite compares
        body: dict[str, Any] = {
            "query": {"bool": {"filter": filters}}, "from": (query.page - 1) * query.per_page,
            "size": query.per_page, "track_total_hits": True,
            "sort": [{"detected_at": "desc"}, {"record_id": "asc"}, {"version": "desc"}],
            "aggs": {"change": {"terms": {"field": "change", "size": len(CHANGE_KINDS)}}},
            "timeout": f"{round(self.query_budget * 1000)}ms",
        }
        if query.change is not None:
            body["post_filter"] = {"term": {"change": query.change}}
        with self._errors():
            try:
                found = self._es.search(index=self.changes_alias, **body).body
            except NotFoundError as exc:  # nothing indexed yet: no changes
                _raise_if_foreign(exc)
                return ChangePage(0, [], query.page, query.per_page, dict.fromkeys(CHANGE_KINDS, 0))
        if found.get("timed_out"):
            raise SearchTooCostly(self.query_budget)
        counts = dict.fromkeys(CHANGE_KINDS, 0)
        for bucket in found.get("aggregations", {}).get("change", {}).get("buckets", []):
            counts[bucket["key"]] = bucket["doc_count"]
        changes = [Change.from_json(json.loads(hit["_source"]["entry"])) for hit in found["hits"]["hits"]]
        return ChangePage(total=found["hits"]["total"]["value"], changes=changes, page=query.page,
                          per_page=query.per_page, counts=counts)

    def _bulk(self, index: str, docs: Iterable[RecordDoc]) -> int:
        """Stream docs in bounded chunks; retry 429s with backoff; report every doc that failed."""
        actions = _prefetched(_actions(index, docs))  # prepared while the previous chunk is in flight
        written, failed = 0, []
        for ok, item in helpers.streaming_bulk(self._es, actions, chunk_size=1000,
                                               max_chunk_bytes=8 * 1024 * 1024, raise_on_error=False,
                                               max_retries=5, initial_backoff=0.5, max_backoff=30):
            if ok:
                written += 1
            else:
                result = next(iter(item.values()))
                failed.append((result.get("_id"), _reason(result.get("error"))))
        if failed:
            self._es.indices.refresh(index=index)
            shown = "; ".join(f"{rid}: {why}" for rid, why in failed[:20])
            more = f" (and {len(failed) - 20} more)" if len(failed) > 20 else ""
            raise SunshineError(f"Elasticsearch rejected {len(failed)} of {written + len(failed)} "
                                f"records, the rest were written: {shown}{more}")
        return written

    def _alias_exists(self) -> bool:
        """Whether the alias (or an index of that name) exists; a 404 from another server is an error."""
        found = self._es.indices.exists(index=self.alias)
        if not found and found.meta.headers.get("X-Elastic-Product") != "Elasticsearch":
            raise _foreign_error(self.url, found.meta.status)
        return bool(found)

    def _create_index(self, loading: bool = False) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        name = f"{self.alias}-v{SCHEMA_VERSION}-{stamp}"
        settings: dict[str, Any] = {
            "number_of_shards": 1,  # exact facet counts; one department's archive fits one shard
            "auto_expand_replicas": "0-1",
            "max_result_window": MAX_WINDOW,
            "analysis": self._analysis(),
            # Stored newest first, as pages without text are sorted: such a page stops reading after
            # its last hit instead of sorting every match (400 ms -> 3 ms for page 50 of 1M records).
            "sort": {"field": ["created_at", "record_id"], "order": ["desc", "asc"]},
        }
        if loading:
            settings["refresh_interval"] = "-1"
        self._es.indices.create(index=name, settings=settings, mappings=MAPPINGS,
                                wait_for_active_shards="1")
        return name

    def _drop_stale_builds(self) -> None:
        """Delete versioned indices no alias points at, left by rebuilds that died a day or more ago."""
        found = self._es.indices.get(index=f"{self.alias}-v*,{self.changes_alias}-v*", allow_no_indices=True,
                                     filter_path="*.aliases,*.settings.index.creation_date")
        cutoff = (time.time() - STALE_BUILD_SECONDS) * 1000
        stale = [name for name, info in found.body.items() if not info.get("aliases")
                 and int(info["settings"]["index"]["creation_date"]) < cutoff]
        if stale:
            log.warning("deleting abandoned search index builds: %s", ", ".join(stale))
            self._es.indices.delete(index=",".join(stale), ignore_unavailable=True)

    def _swap_aliases(self, targets: dict[str, str]) -> None:
        """One atomic `_aliases` call moving each alias onto its new index (off every old index, or
        a same-named concrete index), so the records and their change log swap together."""
        actions: list[dict[str, Any]] = []
        old: list[str] = []
        for alias, new_index in targets.items():
            if self._es.indices.exists(index=alias) and not self._es.indices.exists_alias(name=alias):
                actions.append({"remove_index": {"index": alias}})
            elif self._es.indices.exists_alias(name=alias):
                stale = [name for name in self._es.indices.get_alias(name=alias) if name != new_index]
                actions += [{"remove": {"index": name, "alias": alias}} for name in stale]
                old += stale
            actions.append({"add": {"index": new_index, "alias": alias, "is_write_index": True}})
        self._es.indices.update_aliases(actions=actions)
        if old:
            self._es.indices.delete(index=",".join(old), ignore_unavailable=True)

    def _analysis(self) -> dict[str, Any]:
        """Porter stemming where the node has analysis-common, else hunspell en_US (core only)."""
        exact: dict[str, Any] = {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]}
        if self._has_filter("porter_stem"):
            stem_filters: list[Any] = ["lowercase", "asciifolding", "porter_stem"]
            exact["filter"] = ["lowercase", "asciifolding"]
        elif self._has_filter({"type": "hunspell", "locale": "en_US"}):
            stem_filters = ["lowercase", "sunshine_hunspell"]
        else:
            log.warning("Elasticsearch at %s has neither porter_stem nor the hunspell en_US dictionary: "
                        "searching without stemming", self.url)
            stem_filters = ["lowercase"]
        return {
            "filter": {"sunshine_hunspell": {"type": "hunspell", "locale": "en_US", "dedup": True}},
            "tokenizer": {"sunshine_long_words": {"type": "standard", "max_token_length": 1024}},
            "analyzer": {"sunshine_stem": {"type": "custom", "tokenizer": "standard", "filter": stem_filters},
                         "sunshine_terms": {"type": "custom", "tokenizer": "sunshine_long_words",
                                            "filter": ["lowercase"]},
                         "sunshine_exact": exact},
        }

    def _has_filter(self, token_filter: str | dict[str, Any]) -> bool:
        try:
            self._es.indices.analyze(tokenizer="standard", filter=[token_filter], text="arrested")
        except BadRequestError:
            return False
        return True

    # -- reading ---------------------------------------------------------------------------------

    def get(self, record_id: str) -> RecordDoc | None:
        key = column_text(record_id)
        if not key or len(key.encode("utf-8")) > 512:  # not an id Elasticsearch can hold
            return None
        with self._errors():
            try:
                found = self._es.get(index=self.alias, id=key, source_includes=["doc"])
            except NotFoundError as exc:
                _raise_if_foreign(exc)
                return None
        return doc_from_json_text(found["_source"]["doc"])

    def thread(self, thread_id: str) -> list[RecordDoc]:
        query = {"bool": {"filter": [{"term": {"thread_id": column_text(thread_id)}}]}}
        return list(self._iterate(query, sort=[{"created_at": "asc"}, {"record_id": "asc"}]))

    def latest(self, limit: int = 10) -> list[RecordDoc]:
        query = {"bool": {"filter": [{"term": {"kind": "post"}}, {"term": {"author_is_department": True}}]}}
        response = self._search(query=query, size=max(0, min(limit, MAX_WINDOW)),
                                sort=[{"created_at": "desc"}, {"record_id": "asc"}], source_includes=["doc"])
        return [doc_from_json_text(hit["_source"]["doc"]) for hit in response["hits"]["hits"]]

    def counts(self) -> dict[str, int]:
        response = self._search(size=0, aggs={"platform": {"terms": {"field": "platform", "size": FACET_SIZE}}})
        buckets = response.get("aggregations", {}).get("platform", {}).get("buckets", [])
        return {bucket["key"]: bucket["doc_count"] for bucket in buckets}

    def search(self, query: SearchQuery) -> SearchPage:
        """One page of hits with highlights, facets and a month timeline over the filtered result.

        Two searches in one `msearch`, run side by side on the node: the exact total, the facets and
        the timeline in a `size=0` request the shard request cache keeps until the next refresh (a
        repeated or paged search costs nothing there), and the page's hits, without counting every
        match, so sorting newest first stops early on the index sorted that way.
        """
        start = (query.page - 1) * query.per_page
        if start + query.per_page > MAX_WINDOW:
            raise QueryError(f"results past the first {MAX_WINDOW:,} cannot be paged to; narrow the search")
        es_query = build_query(query)
        searched = bool(bounded_text(query.text).required)  # as SQLite: a positive match to highlight
        order = query.order(ranked=bool(query.text.strip()))
        sort: list[Any] = _SORTS["oldest" if order == "oldest" else "newest"]
        if order == "relevance":
            sort = ["_score", *sort]
        budget = f"{round(self.query_budget * 1000)}ms"  # each shard stops there and says `timed_out`
        counting = {"query": es_query, "size": 0, "track_total_hits": True, "aggs": _AGGREGATIONS,
                    "timeout": budget}
        paging: dict[str, Any] = {
            "query": es_query, "timeout": budget, "from": start, "size": query.per_page, "sort": sort, "track_total_hits": False,
            "_source": {"includes": ["doc"]},
            # One passage of up to WHOLE_TEXT_CHARS: a shorter text comes back whole, a longer one as
            # the best passage (never the megabytes), cut to a snippet in `_highlight`.
            "highlight": {"fields": {"text": {"type": "unified", "number_of_fragments": 1,
                                              "fragment_size": WHOLE_TEXT_CHARS,
                                              **({"highlight_query": hq} if (hq := highlight_query(query.text))
                                                 else {})}},
                          "max_analyzed_offset": MAX_ANALYZED_OFFSET,
                          "pre_tags": [HIGHLIGHT_START], "post_tags": [HIGHLIGHT_END], "encoder": "default"},
        }
        if not searched:
            del paging["highlight"]  # nothing to mark: the hit shows the text's start
        # The same query goes to the same shard copy, whose request cache then holds its counts.
        preference = hashlib.sha256(json.dumps(es_query, sort_keys=True).encode()).hexdigest()[:16]
        counted, paged = self._msearch([({"request_cache": True, "preference": preference}, counting),
                                        ({"preference": preference}, paging)])
        if counted.get("timed_out") or paged.get("timed_out"):  # partial results: not the answer
            raise SearchTooCostly(self.query_budget)
        hits = []
        for hit in paged["hits"]["hits"]:
            record = doc_from_json_text(hit["_source"]["doc"])
            fragments = hit.get("highlight", {}).get("text")
            hits.append(SearchHit(record=record, highlight=_highlight(record.text, fragments, searched)))
        aggregations = counted.get("aggregations", {})
        facets = {name: {b["key"]: b["doc_count"] for b in aggregations.get(name, {}).get("buckets", [])}
                  for name in FACET_FIELDS}
        timeline = {b["key_as_string"]: b["doc_count"]
                    for b in aggregations.get("timeline", {}).get("buckets", [])}
        return SearchPage(total=counted["hits"]["total"]["value"], hits=hits, facets=facets,
                          page=query.page, per_page=query.per_page, timeline=timeline)

    def _msearch(self, searches: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
        """Run the searches in one `msearch`; each failure raised as `_search` would raise it."""
        body: list[dict[str, Any]] = []
        for header, request in searches:
            body += [{"index": self.alias, **header}, request]
        with self._errors():
            responses = self._es.msearch(searches=body).body["responses"]
        empty = {"hits": {"total": {"value": 0}, "hits": []}, "aggregations": {}}
        answered = []
        for response in responses:
            error = response.get("error")
            if error is None:
                answered.append(response)
            elif isinstance(error, dict) and error.get("type") == "index_not_found_exception":
                answered.append(empty)  # nothing indexed yet: an empty archive, not an outage
            elif response.get("status") == 400 and _is_query_fault_body(response):
                raise QueryError(f"the search could not be run: {_reason(response)}")
            else:
                raise SunshineError(f"Elasticsearch at {self.url} is not answering: "
                                    f"HTTP {response.get('status')} {_reason(response)}")
        return answered

    def scan(self, query: SearchQuery, batch: int = 500) -> Iterator[RecordDoc]:
        """Every record matching `query` (page/per_page ignored), oldest first, with `search_after`
        on a point in time: stable however deep, for exports and reindexing."""
        yield from self._iterate(build_query(query), sort=[{"created_at": "asc"}, {"record_id": "asc"}],
                                 batch=batch)

    def _iterate(self, query: dict[str, Any], sort: list[Any], batch: int = 500) -> Iterator[RecordDoc]:
        with self._errors():
            try:
                pit = self._es.open_point_in_time(index=self.alias, keep_alive="2m")["id"]
            except NotFoundError as exc:
                _raise_if_foreign(exc)
                return
        try:
            after: list[Any] | None = None
            while True:
                with self._errors():
                    response = self._es.search(query=query, size=batch, sort=sort, search_after=after,
                                               pit={"id": pit, "keep_alive": "2m"},
                                               source_includes=["doc"], track_total_hits=False)
                hits = response["hits"]["hits"]
                for hit in hits:
                    yield doc_from_json_text(hit["_source"]["doc"])
                if len(hits) < batch:
                    return
                pit = response.get("pit_id", pit)
                after = hits[-1]["sort"]
        finally:
            try:
                self._es.close_point_in_time(id=pit)
            except (ApiError, TransportError):
                log.debug("could not close point in time on %s", self.url)

    def _search(self, **kwargs: Any) -> dict[str, Any]:
        with self._errors():
            try:
                return self._es.search(index=self.alias, **kwargs).body
            except NotFoundError as exc:  # nothing indexed yet: an empty archive, not an outage
                _raise_if_foreign(exc)
                return {"hits": {"total": {"value": 0}, "hits": []}, "aggregations": {}}

    def ping(self) -> None:
        try:
            health = self._es.options(request_timeout=5).cluster.health()
        except ApiError as exc:
            if _is_foreign(exc):
                raise _foreign_error(self.url, exc.meta.status) from exc
            raise SunshineError(f"Elasticsearch at {self.url} is not answering: {_short(exc)}") from exc
        except TransportError as exc:
            raise SunshineError(f"Elasticsearch at {self.url} is not answering: {_short(exc)}") from exc
        if health.get("status") == "red":
            raise SunshineError(f"Elasticsearch at {self.url} is not answering: cluster health is red")
        with self._errors():
            try:
                names = list(self._es.indices.get_alias(name=self.alias))
            except NotFoundError as exc:
                _raise_if_foreign(exc)
                return  # nothing indexed yet: searches answer with no results
        if names and not any(f"-v{SCHEMA_VERSION}-" in name for name in names):
            raise SunshineError(f"the search index '{self.alias}' at {self.url} was built by another version "
                                f"of Sunshine ({', '.join(names)}): run `sunshine reindex`")

    def close(self) -> None:
        self._es.close()

    def _errors(self) -> _ErrorMap:
        return _ErrorMap(self.url)


class _ErrorMap:
    """Turn transport and server failures into errors the caller can act on."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None or isinstance(exc, SunshineError):
            return False
        if isinstance(exc, ApiError) and _is_foreign(exc):
            raise _foreign_error(self.url, exc.meta.status) from exc
        if isinstance(exc, NotFoundError):
            return False
        if isinstance(exc, BadRequestError) and _is_query_fault(exc):
            raise QueryError(f"the search could not be run: {_reason(exc.body)}") from exc
        if isinstance(exc, (TransportConnectionError, TransportError, ApiError)):
            raise SunshineError(f"Elasticsearch at {self.url} is not answering: {_short(exc)}") from exc
        if isinstance(exc, helpers.BulkIndexError):
            raise SunshineError(f"Elasticsearch bulk write failed: {exc}") from exc
        return False




class Fts5Terms:
    """Words cut, folded and stemmed by SQLite's own FTS5 tokenizer, so both backends match alike.

    Elasticsearch cannot run FTS5's tokenizer, and its own analyzers (porter_stem on a full node,
    hunspell on a core-only one) split, fold and stem differently. So the terms FTS5 would index are
    computed here, with FTS5 itself on an in-memory table and read back in order from an `fts5vocab`
    'instance' table, and Elasticsearch indexes those terms as they are. Query words go through the
    same tokenizer (prefixes too: FTS5 stems `running*` to `run*`).
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(f'CREATE VIRTUAL TABLE words USING fts5(x, tokenize = "{FTS5_TOKENIZE}")')
        self._db.execute("CREATE VIRTUAL TABLE terms USING fts5vocab(words, 'instance')")
        self._lock = threading.Lock()

    def of(self, texts: Sequence[str]) -> list[str]:
        """For each text, its FTS5 terms in order, space-separated."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM words")
            self._db.executemany("INSERT INTO words(rowid, x) VALUES (?, ?)",
                                 ((i, searchable_text(text)) for i, text in enumerate(texts)))
            found = [""] * len(texts)
            # group_concat keeps the order of the ordered subquery it reads (SQLite < 3.44 has no
            # ORDER BY inside aggregates); the tests compare it with the terms one by one.
            for row, joined in self._db.execute(
                    "SELECT doc, group_concat(term, ' ') FROM "
                    "(SELECT doc, term FROM terms ORDER BY doc, offset) GROUP BY doc"):
                found[row] = joined
        return found

    def query(self, query: TextQuery) -> TextQuery:
        """`query` with every clause's words replaced by their FTS5 terms (clauses left empty dropped)."""
        clauses = [clause for _, clause in query.required] + list(query.excluded)
        terms = [tuple(t.split()) for t in self.of([" ".join(clause.words) for clause in clauses])]
        stemmed = dict(zip(clauses, terms, strict=True)) if clauses else {}

        def redo(clause: Clause) -> Clause | None:
            words = stemmed[clause]
            return Clause(words, prefix=clause.prefix and len(words) == 1) if words else None

        required = tuple((op, c) for op, clause in query.required if (c := redo(clause)))
        excluded = tuple(c for clause in query.excluded if (c := redo(clause)))
        return TextQuery(required, excluded)


FTS5_TERMS = Fts5Terms()


def build_query(query: SearchQuery) -> dict[str, Any]:
    """The bool query for a validated `SearchQuery`: text via simple_query_string, filters as terms."""
    filters: list[dict[str, Any]] = [{"term": {name: getattr(query, name)}}
                                     for name in FACET_FIELDS if getattr(query, name)]
    bounds: dict[str, str] = {}
    if query.date_from:
        bounds["gte"] = query.date_from
    if query.date_to and (end := next_day(query.date_to)) is not None:
        bounds["lt"] = end  # inclusive day: everything before the next midnight
    if bounds:
        filters.append({"range": {"created_at": {"format": "strict_date", **bounds}}})
    terms = FTS5_TERMS.query(bounded_text(query.text))
    if terms.is_empty:
        return {"bool": {"filter": filters}}
    # Matched on FTS5's own terms; ranked as SQLite ranks (bm25, text weighing twice the author).
    match = {"simple_query_string": {"query": simple_query_string(terms), "fields": ["stems^2", "author_stems"],
                                     "default_operator": "and", "flags": SIMPLE_QUERY_FLAGS}}
    return {"bool": {"must": [match], "filter": filters}}


def highlight_query(text: str) -> dict[str, Any] | None:
    """What to mark in `text`: every wanted word as typed and as stemmed (never the excluded ones)."""
    parsed = parse_text(text)
    positive = TextQuery(tuple(("OR", clause) for _, clause in parsed.required))
    rendered = [r for r in (simple_query_string(positive), simple_query_string(FTS5_TERMS.query(positive))) if r]
    if not rendered:
        return None
    return {"simple_query_string": {"query": _fold_query(" | ".join(rendered)), "fields": ["text"],
                                    "default_operator": "or", "flags": SIMPLE_QUERY_FLAGS}}


def _fold_query(text: str) -> str:
    """Fold the rendered query's words like indexed text; its operators and quotes pass through."""
    return "".join(c if c.isascii() or not c.isalnum() else _fold_char(c) for c in text
                   if not unicodedata.category(c).startswith("M"))


def _actions(index: str, docs: Iterable[RecordDoc], batch: int = 500) -> Iterator[dict[str, Any]]:
    """Bulk actions, tokenized with FTS5 a batch at a time (bounded memory, one SQLite pass each)."""
    iterator = iter(docs)
    while chunk := list(islice(iterator, batch)):
        terms = FTS5_TERMS.of([doc.text for doc in chunk] + [doc.author for doc in chunk])
        for i, doc in enumerate(chunk):
            body = _source(doc)
            body.update(stems=terms[i], author_stems=terms[len(chunk) + i])
            yield {"_op_type": "index", "_index": index, "_id": column_text(doc.record_id), "_source": body}


def _prefetched(items: Iterator[dict[str, Any]], depth: int = 2000) -> Iterator[dict[str, Any]]:
    """Run `items` in a helper thread, `depth` ahead: tokenizing and serialising the next chunk
    overlaps the bulk request waiting on Elasticsearch (the GIL is free while it waits)."""
    done = object()
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                queue.put(item)
            queue.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            queue.put(exc)

    worker = threading.Thread(target=produce, name="es-bulk-prepare", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(Empty):
                queue.get_nowait()
            worker.join(timeout=0.01)


def _collecting(docs: Iterable[RecordDoc], entries: list[Change]) -> Iterator[RecordDoc]:
    """`docs` as they are, noting each one's change log entries in `entries` on the way."""
    for doc in docs:
        entries.extend(change_entries(doc))
        yield doc


def _change_source(entry: Change) -> dict[str, Any]:
    return {"record_id": column_text(entry.record_id), "version": entry.version, "change": entry.change,
            "detected_at": column_text(entry.detected_at), "platform": column_text(entry.platform),
            "account": column_text(entry.account), "entry": canonical_json(entry.to_json()).decode("utf-8")}


def _source(doc: RecordDoc) -> dict[str, Any]:
    body: dict[str, Any] = {name: column_text(value) if (value := getattr(doc, name)) else value
                            for name in _KEYWORDS}
    body.update(created_at=doc.created_at, author_is_department=doc.author_is_department,
                text=_folded(doc.text), author=_folded(doc.author), doc=doc_to_json_text(doc))
    return body


def _folded(text: str) -> str:
    """`index_form(text)` without the positions; plain ASCII (most posts) takes a fast path."""
    if text.isascii():
        return _ASCII_NON_WORD.sub(" ", text)
    return index_form(text)[0]


def _fold_char(char: str) -> str:
    """A letter without its accents when that is one character (é -> e), else the character."""
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    return base if len(base) == 1 else char


def index_form(text: str) -> tuple[str, Sequence[int]]:
    """`text` as both backends tokenize it, plus where each of its characters came from.

    FTS5's unicode61 splits on every character that is not a letter, digit or mark and drops
    diacritics; the core-only server has neither a char filter nor asciifolding, and its standard
    tokenizer keeps `foo.bar` or `don't` whole. So words are cut and folded here, one character for
    one (combining marks dropped), and `positions` maps the result back to the original text so a
    highlight shows the text as written.
    """
    if text.isascii():
        return _ASCII_NON_WORD.sub(" ", text), range(len(text))
    out: list[str] = []
    positions: list[int] = []
    for index, char in enumerate(searchable_text(text)):
        if char.isalnum():
            out.append(char if char.isascii() else _fold_char(char))
        elif unicodedata.category(char).startswith("M"):
            continue  # a combining mark: FTS5 removes diacritics
        else:
            out.append(" ")
        positions.append(index)
    return "".join(out), positions


def _highlight(text: str, fragments: list[str] | None, searched: bool) -> str:
    """What SQLite's FTS5 shows: short texts whole with their matches marked, long ones a snippet
    around the first match, and the start of the text when nothing in it matched."""
    if not searched:
        return excerpt(text)
    if not fragments:
        clean = searchable_text(text)
        return clean if len(clean) <= WHOLE_TEXT_CHARS else excerpt(text)
    marked = restore_highlight(text, fragments[0])
    if len(text) <= WHOLE_TEXT_CHARS:
        return marked
    plain = marked.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")
    clean = searchable_text(text)
    first = max(0, marked.find(HIGHLIGHT_START))
    start = max(0, first - SNIPPET_CHARS // 3)
    end = min(len(marked), start + SNIPPET_CHARS)
    while marked.count(HIGHLIGHT_START, start, end) != marked.count(HIGHLIGHT_END, start, end) and end < len(marked):
        end += 1  # never cut between a start and an end marker
    before = "…" if start or not clean.startswith(plain) else ""
    after = "…" if end < len(marked) or not clean.endswith(plain) else ""
    return before + marked[start:end] + after


def restore_highlight(original: str, fragment: str) -> str:
    """Map a highlighted fragment of `index_form(original)` back onto the original characters."""
    folded, positions = index_form(original)
    plain = fragment.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")
    start = folded.find(plain)
    if start < 0 or not plain:
        return fragment
    source = searchable_text(original)
    marks: dict[int, str] = {}
    offset = start
    for char in fragment:
        if char in (HIGHLIGHT_START, HIGHLIGHT_END):
            marks[offset] = marks.get(offset, "") + char
        else:
            offset += 1
    end = start + len(plain)
    # The highlighter trims the separators our folding made of punctuation: give back the text's ends.
    start = 0 if not folded[:start].strip() else start
    end = len(folded) if not folded[end:].strip() else end
    pieces: list[str] = []
    for i in range(start, end):
        pieces.append(marks.get(i, ""))
        nxt = positions[i + 1] if i + 1 < len(positions) else len(source)
        pieces.append(source[positions[i]:nxt])  # with any combining marks that followed it
    pieces.append(marks.get(end, ""))
    return "".join(pieces)


def _is_foreign(exc: ApiError) -> bool:
    """Whether an HTTP answer came from something other than Elasticsearch (a web page, another API).

    Elasticsearch names itself in `X-Elastic-Product` on every answer, errors included; the client
    checks that only on successes. A 5xx without it is a proxy in front of a node that is down.
    """
    if isinstance(exc, UnsupportedProductError):
        return True
    return exc.meta.status < 500 and exc.meta.headers.get("X-Elastic-Product") != "Elasticsearch"


def _raise_if_foreign(exc: NotFoundError) -> None:
    """Re-raise a 404 that did not come from Elasticsearch, so `_ErrorMap` reports the URL."""
    if _is_foreign(exc):
        raise exc


def _foreign_error(url: str, status: int) -> SunshineError:
    return SunshineError(f"{url} answered HTTP {status} but is not Elasticsearch "
                         "(no X-Elastic-Product header): check [search] url in the config")


def _is_query_fault(exc: BadRequestError) -> bool:
    return _is_query_fault_body(exc.body)


def _is_query_fault_body(body: Any) -> bool:
    kinds = {"search_phase_execution_exception", "query_shard_exception", "parsing_exception",
             "illegal_argument_exception", "too_many_nested_clauses", "too_many_clauses", "x_content_parse_exception"}
    error = body.get("error", {}) if isinstance(body, dict) else {}
    return isinstance(error, dict) and error.get("type") in kinds


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        inner = error.get("error", error)
        if isinstance(inner, dict):
            cause = (inner.get("root_cause") or [inner])[0]
            return f"{cause.get('type', 'error')}: {str(cause.get('reason', ''))[:300]}"
        return str(inner)[:300]
    return str(error)[:300]


def _short(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return f"HTTP {exc.meta.status} {_reason(exc.body)}"
    return str(exc)[:300] or type(exc).__name__


MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        **{name: {"type": "keyword"} for name in _KEYWORDS},
        # Facet fields: their global ordinals are built at refresh, not by the first search after it.
        **{name: {"type": "keyword", "eager_global_ordinals": True} for name in FACET_FIELDS},
        "author_is_department": {"type": "boolean"},
        "created_at": {"type": "date"},
        "text": {"type": "text", "analyzer": "sunshine_stem",
                 "fields": {"exact": {"type": "text", "analyzer": "sunshine_exact"}}},
        "author": {"type": "text", "analyzer": "sunshine_stem"},
        # FTS5's terms for the text and the author (see Fts5Terms): what search matches and ranks on.
        "stems": {"type": "text", "analyzer": "sunshine_terms"},
        "author_stems": {"type": "text", "analyzer": "sunshine_terms"},
        # The record's canonical JSON, returned by `get` and with hits byte for byte; never indexed.
        "doc": {"type": "text", "index": False, "norms": False},
    },
}

CHANGE_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        **{name: {"type": "keyword"} for name in ("record_id", "change", "platform", "account", "detected_at")},
        "version": {"type": "integer"},
        "entry": {"type": "text", "index": False, "norms": False},  # the `Change` as canonical JSON
    },
}
