"""Account pages: counts by kind and status, a per-month chart with its table, the latest posts, 404s
for accounts the archive does not hold, 400s naming what is wrong, and links from records to them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.charts import MAX_CHART_MONTHS, month_bounds, month_series, month_svg
from tests.portal import both_backends

client = both_backends.client  # every page test on both backends

SVG = "{http://www.w3.org/2000/svg}"


def _account_docs(archive, platform: str, account: str):
    return [doc for doc in archive.builder.docs if doc.platform == platform and doc.account == account]


@pytest.mark.parametrize(("platform", "account"), [("bluesky", "spd"), ("mastodon", "spd@police.example"),
                                                    ("rss", "https://police.example/feed")])
def test_account_page_counts_what_the_archive_holds(client, archive, platform: str, account: str) -> None:
    docs = _account_docs(archive, platform, account)
    response = client.get(f"/accounts/{platform}/{account}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    assert f"{len(docs):,} record" in html
    for kind, count in Counter(doc.kind for doc in docs).items():
        assert re.search(rf"<dt>{kind.capitalize()}s</dt><dd><a [^>]*>{count:,}</a>", html), kind
    for status, count in Counter(doc.status for doc in docs).items():
        assert re.search(rf"<dt>{status.capitalize()}</dt><dd><a [^>]*>{count:,}</a>", html), status


def test_account_page_lists_the_latest_posts_newest_first(client, archive) -> None:
    docs = sorted((doc for doc in _account_docs(archive, "rss", "https://police.example/feed") if doc.kind == "post"),
                  key=lambda doc: doc.created_at, reverse=True)
    html = client.get("/accounts/rss/https://police.example/feed").get_data(as_text=True)
    latest = html[html.index('id="h-latest"'):]
    positions = [latest.find(f"/records/{doc.record_id}\"") for doc in docs[:10]]
    assert all(position >= 0 for position in positions) and positions == sorted(positions)
    assert f"/records/{docs[10].record_id}\"" not in latest  # bounded: a link to all of them instead
    assert f"All {len(docs):,} posts" in latest


def test_the_chart_is_an_accessible_svg_with_a_table_of_the_same_months(client, archive) -> None:
    docs = _account_docs(archive, "bluesky", "spd")
    html = client.get("/accounts/bluesky/spd").get_data(as_text=True)
    svg_text = html[html.index("<svg"):html.index("</svg>") + 6]
    svg = ET.fromstring(svg_text)
    assert svg.get("role") == "img"
    title = svg.find(f"{SVG}title")
    assert title is not None and title.text and svg.get("aria-labelledby", "").startswith(title.get("id"))
    assert "style=" not in svg_text and "<script" not in html.lower()
    per_month = Counter(doc.created_at[:7] for doc in docs)
    bars = [(rect.find(f"{SVG}title").text, float(rect.get("height"))) for rect in svg.iter(f"{SVG}rect")]
    assert len(bars) == len(month_series(per_month).months)
    table = html[html.index('<table class="months">'):html.index("</table>")]
    assert "<caption>" in table and '<th scope="col">Month</th>' in table
    for month, count in per_month.items():
        assert re.search(rf"{month_bounds(month)[0]}.*?</th><td>{count:,}</td>", table), month


def test_month_rows_link_to_the_account_s_search_for_that_month(client) -> None:
    html = client.get("/accounts/bluesky/spd").get_data(as_text=True)
    links = re.findall(r'<a href="(/search\?[^"]*from=2026-03-01[^"]*)"', html)
    assert links
    page = client.get(links[0].replace("&amp;", "&")).get_data(as_text=True)
    assert "2026-03-31" in links[0] and "result" in page


@pytest.mark.parametrize("path", ["/accounts/bluesky/nobody", "/accounts/myspace/spd", "/accounts/bluesky/spd%20",
                                  "/accounts/bluesky/SPD", "/accounts/bluesky/%ED%A0%80",
                                  "/accounts/rss/https:/police.example/feed"])
def test_an_account_the_archive_does_not_hold_is_a_404(client, path: str) -> None:
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("account", ["a" * 201, "bad%00name", "x%09y"])
def test_an_impossible_account_name_is_a_400_naming_it(client, account: str) -> None:
    response = client.get(f"/accounts/bluesky/{account}")
    assert response.status_code == 400
    assert "account" in response.get_data(as_text=True)


def test_records_and_search_results_link_their_account_page(client, archive) -> None:
    meeting = archive.records["meeting"]
    html = client.get(f"/records/{meeting.record_id}").get_data(as_text=True)
    assert 'href="/accounts/mastodon/spd@police.example"' in html
    html = client.get("/search?q=meeting").get_data(as_text=True)
    assert 'href="/accounts/mastodon/spd@police.example"' in html


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8) | st.from_regex(r"[0-9]{4}-[0-9]{2}", fullmatch=True),
                       st.integers(min_value=-3, max_value=10**9), max_size=30))
def test_month_series_is_gap_free_bounded_and_keeps_every_count_it_shows(timeline: dict[str, int]) -> None:
    series = month_series(timeline)
    assert len(series.months) <= MAX_CHART_MONTHS
    months = [month for month, _ in series.months]
    assert months == sorted(months) and len(set(months)) == len(months)
    for (earlier, _), (later, _) in zip(series.months, series.months[1:], strict=False):
        assert month_bounds(later)[0] > month_bounds(earlier)[1]  # consecutive: no month skipped
        assert month_bounds(earlier)[1][:7] == earlier
    for month, count in series.months:
        assert count == max(timeline.get(month, 0), 0)
    svg = month_svg(series, title="<t>&", chart_id="c")
    if series.months:
        root = ET.fromstring(str(svg))
        assert len(list(root.iter(f"{SVG}rect"))) == len(series.months)
        assert all(float(rect.get("height")) >= 0 for rect in root.iter(f"{SVG}rect"))
