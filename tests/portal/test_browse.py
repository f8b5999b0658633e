"""Browsing the search: sort links (and `sort` validated on the page and the API), linked month facets
with the per-month chart and its table, the account page link from the account facet, and the search
help page, whose limits and examples are the parser's own."""

from __future__ import annotations

import html as htmllib
import re
import time

import pytest

from indexer import SORTS
from indexer.query import MAX_CLAUSES, MAX_PREFIX_CLAUSES, MAX_QUERY_CHARS, MAX_WORDS, parse_text
from portal.charts import month_bounds
from portal.help import EXAMPLES
from tests.portal import both_backends

client = both_backends.client


def _result_ids(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/records/([^"]+)"', html)


@pytest.mark.parametrize("path", ["/search", "/api/v1/search"])
def test_sort_newest_and_oldest_order_results_by_date(client, archive, path: str) -> None:
    rss = sorted((doc for doc in archive.builder.docs if doc.platform == "rss"), key=lambda doc: doc.created_at)
    pages = {}
    for sort in ("newest", "oldest"):
        response = client.get(f"{path}?q=bulletin&sort={sort}")
        assert response.status_code == 200
        pages[sort] = (_result_ids(response.get_data(as_text=True)) if path == "/search"
                       else [item["record_id"] for item in response.get_json()["results"]])
    assert pages["oldest"] == [doc.record_id for doc in rss[:20]]
    assert pages["newest"] == [doc.record_id for doc in rss[::-1][:20]]


@pytest.mark.parametrize("value", ["bogus", "NEWEST", "relevance;drop", "x" * 5000, "\u202eoldest"])
@pytest.mark.parametrize("path", ["/search", "/api/v1/search", "/search.atom"])
def test_an_unknown_sort_is_a_400_naming_the_parameter(client, path: str, value: str) -> None:
    started = time.monotonic()
    response = client.get(path, query_string={"q": "parade", "sort": value})
    assert response.status_code == 400
    assert "sort must be one of " + ", ".join(SORTS) in htmllib.unescape(response.get_data(as_text=True))
    assert time.monotonic() - started < 2


def test_sort_links_mark_the_order_in_force_and_keep_the_filters(client) -> None:
    html = client.get("/search?q=parade&platform=bluesky").get_data(as_text=True)
    nav = html[html.index('aria-label="Order of results"'):html.index("</nav>", html.index("Order of results"))]
    assert '<strong aria-current="true">Best match</strong>' in nav
    for sort in ("newest", "oldest"):
        assert re.search(rf'href="/search\?[^"]*sort={sort}', nav) and "platform=bluesky" in nav
    without_text = client.get("/search?platform=bluesky").get_data(as_text=True)
    assert '<strong aria-current="true">Newest first</strong>' in without_text and "Best match" not in without_text


def test_each_month_links_to_the_search_limited_to_that_month(client, archive) -> None:
    html = client.get("/search?q=parade | bulletin | meeting").get_data(as_text=True)
    table = html[html.index('<table class="months">'):html.index("</table>")]
    links = [htmllib.unescape(link) for link in re.findall(r'<a href="([^"]+)">', table)]
    months = {re.search(r"from=(\d{4}-\d{2})", link).group(1): link for link in links}
    assert set(months) == {"2026-02", "2026-03", "2026-04"}
    for month, link in months.items():
        first, last = month_bounds(month)
        assert f"from={first}" in link and f"to={last}" in link and "q=parade" in link
        limited = client.get(link).get_data(as_text=True)
        found = _result_ids(limited)
        assert found and all(archive.builder.docs and _created(archive, record_id).startswith(month)
                             for record_id in found)
        assert '<strong aria-current="true">' in limited  # the month shown is marked, not linked


def _created(archive, record_id: str) -> str:
    return next(doc.created_at for doc in archive.builder.docs if doc.record_id == record_id)


def test_search_chart_is_an_accessible_svg(client) -> None:
    html = client.get("/search").get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg and "style=" not in svg
    assert "<caption>" in html


def test_the_account_facet_links_the_account_page(client) -> None:
    html = client.get("/search?account=spd@police.example").get_data(as_text=True)
    assert 'href="/accounts/mastodon/spd@police.example">Account page</a>' in html
    assert client.get("/accounts/mastodon/spd@police.example").status_code == 200


def test_help_page_states_the_parser_s_limits(client) -> None:
    response = client.get("/help/search")
    assert response.status_code == 200
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))
    assert f"{MAX_QUERY_CHARS:,} characters" in text
    assert f"{MAX_WORDS} words" in text
    assert f"{MAX_CLAUSES} different words and phrases" in text
    assert f"{MAX_PREFIX_CLAUSES} prefix searches" in text
    for sort in SORTS:
        assert f"sort={sort}" in text


def test_help_examples_mean_what_the_page_says_and_each_is_a_working_search(client) -> None:
    meanings = {
        "road closure": lambda q: [op for op, _ in q.required] == ["AND", "AND"] and not q.excluded,
        '"road closure"': lambda q: len(q.required) == 1 and q.required[0][1].words == ("road", "closure"),
        "parade OR festival": lambda q: [op for op, _ in q.required][1:] == ["OR"],
        "parade -tickets": lambda q: len(q.required) == 1 and q.excluded[0].words == ("tickets",),
        "arr*": lambda q: q.required[0][1].prefix,
    }
    html = htmllib.unescape(client.get("/help/search").get_data(as_text=True))
    for example in EXAMPLES:
        assert f"<code>{example.query}</code>" in html
        assert meanings.get(example.query, lambda q: not q.is_empty)(parse_text(example.query)), example
        assert client.get("/search", query_string={"q": example.query}).status_code == 200
    found = _result_ids(client.get("/search", query_string={"q": "arr*"}).get_data(as_text=True))
    assert found  # "arrest statistics" is in the standard archive


@pytest.mark.parametrize("query", ["sort=", "sort=newest&sort=bogus", "from=2026-02-30", "page=0&sort=oldest",
                                   "q=%00", "q=" + "a*%20" * 6, "account=" + "x" * 300, "q=%ED%A0%80"])
@pytest.mark.parametrize("path", ["/search", "/help/search", "/accounts/bluesky/spd"])
def test_hostile_query_strings_answer_200_or_a_400_quickly(client, path: str, query: str) -> None:
    started = time.monotonic()
    response = client.get(f"{path}?{query}")
    assert response.status_code in (200, 400)
    if response.status_code == 400:  # the message names the parameter at fault
        body = htmllib.unescape(response.get_data(as_text=True))
        message = body[body.index('<main'):body.index("</main>")]
        keys = {pair.split("=")[0] for pair in query.split("&")}
        assert any(re.search(rf"\b{key}\b", message) for key in keys), message
    assert time.monotonic() - started < 2
