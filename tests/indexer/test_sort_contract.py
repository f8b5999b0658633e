"""Sorting (`SearchQuery.sort`) on both backends: relevance, newest or oldest, with and without text.

Orders are computed from the corpus in plain Python: newest is created_at descending then record_id
ascending, oldest its exact reverse; relevance (bm25) only where the corpus pins it.
"""

from __future__ import annotations

import pytest

from indexer import SORTS, SearchIndex, SearchQuery
from indexer.query import QueryError, parse_search_args
from tests.indexer.test_index_contract import BY_ID, CORPUS, all_ids

FILTERS = [{}, {"platform": "x"}, {"kind": "reply"}]


def newest(ids) -> list[str]:
    ordered = sorted(ids)  # record_id ascending breaks created_at ties
    return sorted(ordered, key=lambda record_id: BY_ID[record_id].created_at, reverse=True)


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f) for f in FILTERS])
@pytest.mark.parametrize("text", ["", "a | arrest | cafe | bicycle", "-arrest"])
def test_newest_and_oldest_are_exact_reverses_over_every_page(corpus_index: SearchIndex, filters, text) -> None:
    found = all_ids(corpus_index, SearchQuery(text=text, sort="newest", **filters))
    assert found == newest(found)
    assert len(found) == len(set(found))
    assert all_ids(corpus_index, SearchQuery(text=text, sort="oldest", **filters)) == found[::-1]


def test_pages_of_oldest_start_with_the_oldest_record(corpus_index: SearchIndex) -> None:
    page = corpus_index.search(SearchQuery(sort="oldest", per_page=5))
    assert [hit.record.record_id for hit in page.hits] == newest(BY_ID)[::-1][:5]
    assert page.total == len(CORPUS)


def test_relevance_ranks_when_there_is_text_and_is_newest_without(corpus_index: SearchIndex) -> None:
    ranked = corpus_index.search(SearchQuery(text='"city council"', sort="relevance"))
    assert [hit.record.record_id for hit in ranked.hits] == ["m-council-1", "m-council-long"]
    by_date = all_ids(corpus_index, SearchQuery(text='"city council"', sort="oldest"))
    assert by_date == newest(by_date)[::-1]
    assert all_ids(corpus_index, SearchQuery(sort="relevance", platform="x")) == \
        all_ids(corpus_index, SearchQuery(sort="newest", platform="x"))


def test_sort_changes_neither_total_nor_facets(corpus_index: SearchIndex) -> None:
    pages = [corpus_index.search(SearchQuery(text="a | arrest", sort=sort)) for sort in (None, *SORTS)]
    assert len({(page.total, repr(page.facets), repr(page.timeline)) for page in pages}) == 1


@pytest.mark.parametrize("value", ["random", "NEWEST", "newest ", "_score", "created_at:asc", "\u202eoldest"])
def test_an_unknown_sort_is_refused_naming_the_parameter(value: str) -> None:
    with pytest.raises(QueryError, match="sort must be one of relevance, newest, oldest"):
        parse_search_args({"sort": value})


def test_sort_is_optional_and_parsed() -> None:
    assert parse_search_args({}).sort is None
    assert parse_search_args({"sort": ""}).sort is None
    assert parse_search_args({"sort": "oldest"}).sort == "oldest"
