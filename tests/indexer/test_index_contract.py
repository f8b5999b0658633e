"""The search contract: every `SearchIndex` backend answers the same corpus with the same semantics.

Expected match sets are written out by record id (the corpus is built so each query word lives only
in the named marker records), and everything computable from fields alone (filters, facets, the
timeline, counts, latest, threads) is computed from the corpus in plain Python. Writes are visible to
reads once `upsert`/`rebuild` return. Ranking is only pinned where it is unambiguous (a short record
holding the phrase against a long one).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from indexer import FACET_FIELDS, HIGHLIGHT_END, HIGHLIGHT_START, SearchIndex, SearchQuery
from indexer.query import QueryError
from tests.indexer.conftest import Backend
from tests.indexer.corpus import HOSTILE_TEXTS, build_corpus, edited

CORPUS = build_corpus()
BY_ID = {doc.record_id: doc for doc in CORPUS}
ALL = frozenset(BY_ID)
ARREST = frozenset({"m-arrest-1", "m-arrest-2", "m-arrest-3"})
CAFE = frozenset({"m-cafe-1", "m-cafe-2"})
WORD_A = frozenset({"m-arrest-1", "m-cafe-1", "m-cafe-2", "m-fireworks"})

QUERIES: dict[str, frozenset[str]] = {
    "arrest": ARREST,  # one word, stemming both ways
    "ARRESTED": ARREST,
    "arrests": ARREST,
    "cafe": CAFE,  # diacritics either way
    "café": CAFE,
    "CAFÉ": CAFE,
    "arrest suspect": frozenset({"m-arrest-1", "m-arrest-3"}),  # every word required
    "city council meeting": frozenset({"m-council-2"}),
    '"city council"': frozenset({"m-council-1", "m-council-long"}),  # a phrase
    '"council of the city"': frozenset({"m-council-2"}),
    '"stolen bicycle': frozenset({"m-bike-1"}),  # an unclosed quote runs to the end
    '"unbalanced': frozenset(),
    "bicycle | fireworks": frozenset({"m-bike-1", "m-bike-2", "m-fireworks"}),
    "bicycle OR fireworks": frozenset({"m-bike-1", "m-bike-2", "m-fireworks"}),
    "bicycle or fireworks": frozenset(),  # lower-case "or" is a word
    "bicycle AND stolen": frozenset({"m-bike-1"}),
    "bicycle + stolen": frozenset({"m-bike-1"}),
    "bicycle -stolen": frozenset({"m-bike-2"}),
    '-"stolen bicycle" bicycle': frozenset({"m-bike-2"}),
    "arrest downtown | fireworks": frozenset({"m-arrest-1", "m-fireworks"}),  # left to right
    "fireworks | arrest downtown": frozenset({"m-arrest-1"}),
    "arrest AND OR cafe": ARREST | CAFE,
    "a | arrest | cafe | bicycle": WORD_A | ARREST | CAFE | {"m-bike-1", "m-bike-2"},
    "-arrest": ALL - ARREST,  # only exclusions: everything else
    "-arrest -cafe": ALL - ARREST - CAFE,
    "burgl*": frozenset({"m-arrest-3", "m-burglary"}),  # prefix
    "arr*": ARREST,
    "-burgl* arrest": frozenset({"m-arrest-1", "m-arrest-2"}),
    "quixote": frozenset({"m-author"}),  # the author is searched too
    "wendell thanks": frozenset({"m-author"}),
    "ravens": frozenset({"m-visitor-post"}),
    "marigold": frozenset({"m-hostile-surrogate"}),  # hostile texts are searchable by their words
    "surrogate": frozenset({"m-hostile-surrogate"}),
    "tulip override": frozenset({"m-hostile-rtl"}),
    "lavender": frozenset({"m-hostile-script"}),
    "script onerror": frozenset({"m-hostile-script"}),
    "peony byte": frozenset({"m-hostile-nul"}),
    "fake marker": frozenset({"m-hostile-nul"}),
    "zinnia": frozenset({"m-hostile-big"}),
    "nosuchword": frozenset(),
    # query-syntax junk from Lucene and FTS5 is just words (or nothing)
    "title:(a OR": frozenset(),  # the phrase "title a"
    "*:*": ALL,
    "\\": ALL,
    "": ALL,
    "   ": ALL,
    "-": ALL,
    "NEAR(": frozenset({"m-bike-1"}),
    "NEAR(cafe, arrest)": frozenset(),
    "a AND": WORD_A,
    "OR a": WORD_A,
    "a": WORD_A,  # no stop words
    "cafe)": CAFE,
    "arrest^2 ~cafe": frozenset(),
    'col:"x" {} [] \' ; -- /* */': frozenset(),
    "\x00arrest": ARREST,
}


def all_ids(index: SearchIndex, query: SearchQuery) -> list[str]:
    """Every hit of `query`, page by page (100 a page)."""
    ids: list[str] = []
    page = 1
    while True:
        result = index.search(SearchQuery(**{**query.__dict__, "page": page, "per_page": 100}))
        ids.extend(hit.record.record_id for hit in result.hits)
        if page * 100 >= result.total:
            return ids
        page += 1


def expected_facets(ids: set[str] | frozenset[str]) -> dict[str, dict[str, int]]:
    docs = [BY_ID[record_id] for record_id in ids]
    return {name: dict(Counter(getattr(doc, name) for doc in docs)) for name in FACET_FIELDS}


def expected_timeline(ids: set[str] | frozenset[str]) -> dict[str, int]:
    return dict(Counter(BY_ID[record_id].created_at[:7] for record_id in ids))


@pytest.mark.parametrize("text", list(QUERIES), ids=[repr(text) for text in QUERIES])
def test_match_sets_totals_and_facets(corpus_index: SearchIndex, text: str) -> None:
    expected = QUERIES[text]
    page = corpus_index.search(SearchQuery(text=text, per_page=100))
    assert page.total == len(expected)
    assert set(all_ids(corpus_index, SearchQuery(text=text))) == expected
    assert {name: dict(values) for name, values in page.facets.items() if values} == {
        name: values for name, values in expected_facets(expected).items() if values
    }
    assert dict(page.timeline) == expected_timeline(expected)


FILTERS: list[dict[str, str]] = [
    {"platform": "facebook"},
    {"platform": "facebook", "account": "987654321"},
    {"kind": "reply"},
    {"kind": "media"},
    {"status": "deleted"},
    {"status": "hidden", "platform": "x"},
    {"date_from": "2024-03-01"},
    {"date_to": "2024-02-29"},
    {"date_from": "2024-05-01", "date_to": "2024-06-30"},
    {"date_from": "2024-07-08", "date_to": "2024-07-08"},
    {"platform": "mastodon", "kind": "post", "date_from": "2024-01-01", "date_to": "2024-12-31"},
    {"account": "no-such-account"},
]


def _filtered(ids: frozenset[str], filters: dict[str, str]) -> set[str]:
    keep = set()
    for record_id in ids:
        doc = BY_ID[record_id]
        day = doc.created_at[:10]
        if any(getattr(doc, name) != filters[name] for name in FACET_FIELDS if name in filters):
            continue
        if filters.get("date_from") and day < filters["date_from"]:
            continue
        if filters.get("date_to") and day > filters["date_to"]:
            continue
        keep.add(record_id)
    return keep


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f) for f in FILTERS])
@pytest.mark.parametrize("text", ["", "a | arrest | cafe | bicycle"])
def test_filters_combine_with_text_and_facets_count_the_filtered_result(
    corpus_index: SearchIndex, filters: dict[str, str], text: str
) -> None:
    expected = _filtered(QUERIES[text] if text else ALL, filters)
    page = corpus_index.search(SearchQuery(text=text, per_page=100, **filters))
    assert page.total == len(expected)
    assert set(all_ids(corpus_index, SearchQuery(text=text, **filters))) == expected
    assert {name: values for name, values in page.facets.items() if values} == {
        name: values for name, values in expected_facets(expected).items() if values
    }
    assert page.timeline == expected_timeline(expected)


def test_date_filter_days_are_inclusive_at_both_ends(corpus_index: SearchIndex) -> None:
    day = BY_ID["m-arrest-1"].created_at[:10]
    hits = all_ids(corpus_index, SearchQuery(text="arrest", date_from=day, date_to=day))
    assert "m-arrest-1" in hits


@pytest.mark.parametrize("text", ["", "a | arrest | cafe | bicycle | -nosuchword"])
@pytest.mark.parametrize("per_page", [1, 7, 20])
def test_pages_cover_every_hit_exactly_once(corpus_index: SearchIndex, text: str, per_page: int) -> None:
    first = corpus_index.search(SearchQuery(text=text, per_page=per_page))
    seen: list[str] = []
    for number in range(1, first.total // per_page + 2):
        page = corpus_index.search(SearchQuery(text=text, page=number, per_page=per_page))
        assert page.total == first.total and page.page == number and page.per_page == per_page
        assert len(page.hits) <= per_page
        seen.extend(hit.record.record_id for hit in page.hits)
    assert len(seen) == len(set(seen)) == first.total


def test_without_text_newest_first(corpus_index: SearchIndex) -> None:
    page = corpus_index.search(SearchQuery(per_page=30, platform="x"))
    newest = sorted((doc for doc in CORPUS if doc.platform == "x"), key=lambda doc: doc.created_at, reverse=True)
    assert [hit.record.record_id for hit in page.hits] == [doc.record_id for doc in newest[:30]]


def test_short_phrase_match_ranks_above_a_long_one(corpus_index: SearchIndex) -> None:
    page = corpus_index.search(SearchQuery(text='"city council"'))
    assert [hit.record.record_id for hit in page.hits] == ["m-council-1", "m-council-long"]


def _marked(highlight: str) -> list[str]:
    """The words between the highlight markers."""
    words = []
    for part in highlight.split(HIGHLIGHT_START)[1:]:
        assert HIGHLIGHT_END in part
        words.append(part.split(HIGHLIGHT_END)[0])
    return words


def test_highlights_mark_the_matched_words(corpus_index: SearchIndex) -> None:
    page = corpus_index.search(SearchQuery(text="arrest"))
    assert page.hits
    for hit in page.hits:
        marked = _marked(hit.highlight)
        assert marked and all(word.lower().startswith("arrest") for word in marked), hit.highlight
    (cafe,) = [hit for hit in corpus_index.search(SearchQuery(text="cafe")).hits if hit.record.record_id == "m-cafe-1"]
    assert _marked(cafe.highlight) == ["Café"]
    assert HIGHLIGHT_START + "Café" + HIGHLIGHT_END + " Luna" in cafe.highlight


def test_highlight_of_a_huge_text_is_a_bounded_fragment_around_the_match(corpus_index: SearchIndex) -> None:
    (hit,) = corpus_index.search(SearchQuery(text="zinnia")).hits
    assert hit.record.text == HOSTILE_TEXTS["m-hostile-big"]
    assert len(hit.highlight) < 2_000
    assert HIGHLIGHT_START + "zinnia" + HIGHLIGHT_END in hit.highlight


def test_highlight_without_text_is_the_text_start_without_markers(corpus_index: SearchIndex) -> None:
    for hit in corpus_index.search(SearchQuery(per_page=100)).hits:
        assert HIGHLIGHT_START not in hit.highlight and HIGHLIGHT_END not in hit.highlight
        assert len(hit.highlight) < 2_000


def test_records_cannot_smuggle_highlight_markers(corpus_index: SearchIndex) -> None:
    (hit,) = corpus_index.search(SearchQuery(text="peony")).hits
    assert _marked(hit.highlight) == ["peony"]
    assert hit.record.text == HOSTILE_TEXTS["m-hostile-nul"]  # the record itself is untouched


@pytest.mark.parametrize("record_id", sorted(HOSTILE_TEXTS))
def test_hostile_records_round_trip_exactly(corpus_index: SearchIndex, record_id: str) -> None:
    assert corpus_index.get(record_id) == BY_ID[record_id]
    assert corpus_index.get(record_id).to_json() == BY_ID[record_id].to_json()


def test_get_returns_the_whole_record_or_none(corpus_index: SearchIndex) -> None:
    for doc in CORPUS[::9]:
        assert corpus_index.get(doc.record_id) == doc
    assert corpus_index.get("no-such-record") is None
    assert corpus_index.get("") is None


def test_search_hits_carry_whole_records(corpus_index: SearchIndex) -> None:
    for hit in corpus_index.search(SearchQuery(text="bicycle | arrest", per_page=100)).hits:
        assert hit.record == BY_ID[hit.record.record_id]


def test_thread_is_every_record_of_it_oldest_first(corpus_index: SearchIndex) -> None:
    for thread_id in ("t00-post", "t01-post", "t07-post", "m-arrest-1"):
        expected = sorted((doc for doc in CORPUS if doc.thread_id == thread_id), key=lambda doc: doc.created_at)
        assert corpus_index.thread(thread_id) == expected
    assert len(corpus_index.thread("t01-post")) > 3
    assert corpus_index.thread("no-such-thread") == []


def test_counts_per_platform(corpus_index: SearchIndex) -> None:
    assert corpus_index.counts() == dict(Counter(doc.platform for doc in CORPUS))


def test_latest_is_newest_department_posts(corpus_index: SearchIndex) -> None:
    posts = sorted(
        (doc for doc in CORPUS if doc.kind == "post" and doc.author_is_department),
        key=lambda doc: doc.created_at, reverse=True,
    )
    assert corpus_index.latest(7) == posts[:7]
    assert [doc.record_id for doc in corpus_index.latest()] == [doc.record_id for doc in posts[:10]]
    assert "m-visitor-post" not in {doc.record_id for doc in corpus_index.latest(1000)}


def test_ping_answers(corpus_index: SearchIndex) -> None:
    corpus_index.ping()


def test_empty_index_answers_everything(backend: Backend) -> None:
    index = backend.new_index()
    index.ping()
    page = index.search(SearchQuery(text="arrest", platform="x"))
    assert (page.total, page.hits, page.timeline) == (0, [], {})
    assert all(not values for values in page.facets.values())
    assert index.counts() == {} and index.latest() == [] and index.thread("x") == [] and index.get("x") is None


def _ids(index: SearchIndex, text: str) -> set[str]:
    return set(all_ids(index, SearchQuery(text=text)))


def test_upsert_replaces_by_record_id(backend: Backend) -> None:
    index = backend.new_index()
    docs = build_corpus()[:40]
    assert index.upsert(docs) == 40
    target = docs[5]
    changed = edited(target, "Now about a stolen kayak")
    assert index.upsert([changed]) == 1
    assert index.get(target.record_id) == changed
    assert _ids(index, "kayak") == {target.record_id}
    assert target.record_id not in _ids(index, target.text.split()[0])
    assert sum(index.counts().values()) == 40
    assert index.search(SearchQuery(status="edited")).total == sum(
        1 for doc in docs if doc.status == "edited" and doc is not target
    ) + 1


def test_upsert_of_the_same_record_twice_in_one_call_keeps_the_last(backend: Backend) -> None:
    index = backend.new_index()
    doc = build_corpus()[0]
    index.upsert([edited(doc, "first canoe"), edited(doc, "second dinghy")])
    assert index.get(doc.record_id).text == "second dinghy"
    assert _ids(index, "canoe") == set() and _ids(index, "dinghy") == {doc.record_id}
    assert index.counts() == {doc.platform: 1}


def test_rebuild_swaps_the_content(backend: Backend) -> None:
    index = backend.new_index()
    docs = build_corpus()
    index.upsert(docs[:50])
    fresh = [edited(docs[60], "Rebuilt record about a stolen kayak"), *docs[100:110]]
    assert index.rebuild(fresh) == len(fresh)
    assert sum(index.counts().values()) == len(fresh)
    assert index.get(docs[0].record_id) is None
    assert _ids(index, "kayak") == {docs[60].record_id}
    assert index.search(SearchQuery()).total == len(fresh)
    assert index.rebuild([]) == 0
    assert index.search(SearchQuery()).total == 0 and index.counts() == {}



def test_delete_removes_records_from_every_answer(backend: Backend) -> None:
    index = backend.new_index()
    docs = build_corpus()[:40]
    index.upsert(docs)
    gone = [docs[3], docs[7]]
    assert index.delete([doc.record_id for doc in gone] + ["no-such-record"]) == 2
    for doc in gone:
        assert index.get(doc.record_id) is None
        assert doc.record_id not in set(all_ids(index, SearchQuery()))
    assert sum(index.counts().values()) == 38
    assert index.search(SearchQuery()).total == 38
    assert index.delete([]) == 0


# --- hostile requests: extreme dates, repeated or too many clauses, long-text highlights ---------------


@pytest.mark.parametrize("dates", [{"date_to": "9999-12-31"}, {"date_from": "0001-01-01", "date_to": "9999-12-31"},
                                   {"date_from": "9999-12-31"}, {"date_to": "0001-01-01"}])
@pytest.mark.parametrize("text", ["", "arrest", "-arrest"])
def test_the_first_and_last_dates_there_are_filter_like_any_other(
    corpus_index: SearchIndex, dates: dict[str, str], text: str
) -> None:
    expected = _filtered(QUERIES[text] if text else ALL, dates)
    assert set(all_ids(corpus_index, SearchQuery(text=text, **dates))) == expected


def test_a_repeated_clause_is_searched_once(corpus_index: SearchIndex) -> None:
    assert set(all_ids(corpus_index, SearchQuery(text=" ".join(["arr*"] * 96)))) == ARREST
    assert set(all_ids(corpus_index, SearchQuery(text=" | ".join(["burgl*", "arr*"] * 40)))) == ARREST | {"m-burglary"}


@pytest.mark.parametrize("text", [" ".join(f"word{n}" for n in range(98)), " ".join(f"w{n}*" for n in range(6))])
def test_a_search_too_big_for_a_backend_is_a_query_error_naming_the_limit(corpus_index: SearchIndex,
                                                                         text: str) -> None:
    with pytest.raises(QueryError, match="at most"):
        corpus_index.search(SearchQuery(text=text))


LONG_FILLER = " ".join(["lorem ipsum dolor sit amet"] * 60)  # well past the length highlighted whole
LONG_TEXTS = {
    "long-diacritics": (f"{LONG_FILLER} the Café opened {LONG_FILLER}", "cafe", "Café"),
    "long-stem": (f"{LONG_FILLER} officers arrested him {LONG_FILLER}", "arrests", "arrested"),
    "long-bidi": (f"{LONG_FILLER} \u2067שלום\u2069 friends {LONG_FILLER}", "שלום", "שלום"),
    "long-prefix": (f"{LONG_FILLER} the burglaries went down {LONG_FILLER}", "burgl*", "burglaries"),
}


@pytest.fixture(scope="module")
def long_text_index(backend: Backend) -> SearchIndex:
    index = backend.new_index()
    index.upsert([replace(BY_ID["m-arrest-1"], record_id=record_id, text=text)
                  for record_id, (text, _, _) in LONG_TEXTS.items()])
    return index


@pytest.mark.parametrize("record_id", sorted(LONG_TEXTS))
def test_long_texts_highlight_what_the_index_matched(long_text_index: SearchIndex, record_id: str) -> None:
    text, query, marked = LONG_TEXTS[record_id]
    (hit,) = long_text_index.search(SearchQuery(text=query)).hits
    assert hit.record.record_id == record_id
    assert _marked(hit.highlight) == [marked], hit.highlight
    assert len(hit.highlight) < 2_000
