"""The HTML pages over a real archive: home, search, record (thread, versions, diffs)."""

from __future__ import annotations

import re
import time

from markupsafe import escape

from tests.portal.conftest import DEPARTMENT, HOSTILE


def text_of(response) -> str:
    assert response.status_code == 200, response.data[:500]
    return response.get_data(as_text=True)


def test_home_shows_department_counts_and_latest_posts(client, archive):
    page = text_of(client.get("/"))
    assert DEPARTMENT in page
    assert '<form class="search" method="get" action="/search"' in page
    assert '<label for="f-q">' in page
    assert "/search?platform=rss" in page
    assert re.search(r"rss</span> <span class=\"count\">25<", page)
    assert "Community meeting on Thursday" in page  # newest post


def test_search_highlights_and_counts(client):
    page = text_of(client.get("/search?q=parade"))
    assert "<mark>" in page
    assert re.search(r"\d+ results? for “<bdi>parade</bdi>”", page)
    assert "/records/bluesky-3kparade" in page


def test_search_facets_are_links_that_add_a_filter(client):
    page = text_of(client.get("/search?q=traffic"))
    assert "/search?q=traffic&amp;platform=rss" in page
    filtered = text_of(client.get("/search?q=traffic&platform=rss"))
    assert "Remove filter" in filtered
    assert 'href="/search?q=traffic"' in filtered


def test_search_paginates(client):
    first = text_of(client.get("/search?platform=rss"))
    assert "25 results" in first
    assert "Page 1 of 2" in first
    assert 'rel="next" href="/search?platform=rss&amp;page=2"' in first
    second = text_of(client.get("/search?platform=rss&page=2"))
    assert "Page 2 of 2" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_hostile_text_is_escaped_everywhere(client, archive):
    hostile = archive.records["hostile"]
    for url in ("/search?q=arrest", f"/records/{hostile.record_id}", "/records/bluesky-3kparade",
                "/search?q=owned"):
        page = text_of(client.get(url))
        assert "<script>" not in page, url
        assert "<img src=x>" not in page, url
        assert "<b>bold</b>" not in page, url
    assert str(escape(HOSTILE)) in text_of(client.get(f"/records/{hostile.record_id}"))


def test_record_page_shows_versions_with_diff_and_links(client, archive):
    post = archive.records["post"]
    page = text_of(client.get(f"/records/{post.record_id}"))
    assert "Version 1" in page and "Version 2" in page
    assert "<ins>holiday </ins>" in page
    for version in post.versions:
        assert version["content_sha256"] in page
        assert f'/records/{post.record_id}/raw?version={version["version"]}' in page
        assert f'/records/{post.record_id}/capture?version={version["version"]}' in page
        assert f"#{version['ledger_index']}" in page
    assert "2026-03-03 12:00 UTC" in page


def test_record_page_nests_the_thread(client, archive):
    post, hostile, rtl = archive.records["post"], archive.records["hostile"], archive.records["rtl"]
    page = text_of(client.get(f"/records/{post.record_id}"))
    thread = page[page.index('id="h-thread"'):]
    assert "Thread (4 records)" in thread
    # The reply to the reply sits in a list nested inside the first reply's item.
    start = thread.index(f"/records/{hostile.record_id}")
    nested = thread[start:]
    assert nested.index("<ul>") < nested.index(f"/records/{rtl.record_id}")


def test_deleted_record_keeps_versions_and_shows_tombstone(client, archive):
    rtl = archive.records["rtl"]
    page = text_of(client.get(f"/records/{rtl.record_id}"))
    assert "the platform confirmed this reply gone" in page
    assert "The platform confirmed it gone at" in page
    assert "Version 1" in page and "Version 2" in page
    assert '<span class="badge badge-deleted">deleted</span>' in page


def test_hidden_record_is_shown_as_hidden(client, archive):
    page = text_of(client.get(f"/records/{archive.records['hidden'].record_id}"))
    assert "Hidden: this reply is hidden on the platform" in page
    assert "badge-hidden" in page


def test_user_text_is_bidi_isolated(client, archive):
    page = text_of(client.get(f"/records/{archive.records['post'].record_id}"))
    evil = page.index("\u202eevil")
    assert page.rindex("<bdi>", 0, evil) > page.rindex("</bdi>", 0, evil)


def test_unsafe_urls_are_not_links(client, archive):
    page = text_of(client.get(f"/records/{archive.records['meeting'].record_id}"))
    assert "javascript:" not in page
    assert "image/png" in page


def test_megabyte_text_renders_truncated_with_full_text_link(client, archive):
    big = archive.records["big"]
    started = time.monotonic()
    page = text_of(client.get(f"/records/{big.record_id}"))
    assert time.monotonic() - started < 5
    assert len(page) < 200_000
    assert "Show full text" in page
    assert f"/records/{big.record_id}/raw" in page


def test_huge_thread_is_cut_short(archive, monkeypatch, client):
    from portal import public

    monkeypatch.setattr(public, "THREAD_LIMIT", 2)
    page = text_of(client.get(f"/records/{archive.records['hidden'].record_id}"))
    assert "Thread (4 records)" in page
    assert "Showing the first 3 records of this thread" in page  # two, plus the record itself
    assert "This reply" in page


def test_head_requests_work(client, archive):
    post = archive.records["post"]
    response = client.head(f"/records/{post.record_id}/raw")
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{post.versions[-1]["content_sha256"]}"'


def test_megabyte_text_in_search_results_stays_small(client):
    started = time.monotonic()
    page = text_of(client.get("/search?q=lorem"))
    assert time.monotonic() - started < 5
    assert "<mark>" in page
    assert len(page) < 50_000
