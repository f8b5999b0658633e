"""Atom feeds of new captures (/feed.atom) and of any search (/search.atom): valid Atom, newest first,
the search's own filters, at most FEED_ENTRIES entries, hostile text escaped, redacted text only."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET

import pytest

from archiver.catalog import Redaction
from archiver.config import load_config
from archiver.redaction import apply_redactions, placeholder
from portal.feeds import FEED_ENTRIES
from tests.portal import both_backends
from tests.portal.conftest import HOSTILE, ArchiveBuilder, open_sqlite_index, write_config
from tests.portal.test_changes import ATOM, assert_valid_atom

client = both_backends.client


def _entry_links(body: bytes) -> list[str]:
    root = ET.fromstring(body)
    return [entry.find(f"{ATOM}link[@rel='alternate']").get("href") for entry in root.findall(f"{ATOM}entry")]


def _newest(docs) -> list[str]:
    ordered = sorted(docs, key=lambda doc: doc.record_id)
    return [f"/records/{doc.record_id}" for doc in sorted(ordered, key=lambda doc: doc.created_at, reverse=True)]


def test_captures_feed_is_valid_atom_of_the_newest_records(client, archive) -> None:
    response = client.get("/feed.atom")
    assert response.status_code == 200
    assert response.content_type.startswith("application/atom+xml")
    parsed = assert_valid_atom(response.data)
    assert _entry_links(response.data) == _newest(archive.builder.docs)[:FEED_ENTRIES]
    assert len({entry.id for entry in parsed.entries}) == len(parsed.entries)


@pytest.mark.parametrize("args", [{"q": "parade"}, {"platform": "rss"}, {"q": "bulletin", "from": "2026-02-10",
                                                                            "to": "2026-02-12"},
                                  {"account": "spd", "kind": "reply"}, {"status": "deleted"}])
def test_search_feed_holds_the_search_s_results_newest_first(client, archive, args) -> None:
    response = client.get("/search.atom", query_string=args)
    assert response.status_code == 200
    assert_valid_atom(response.data)
    api = client.get("/api/v1/search", query_string={**args, "sort": "newest", "per_page": 100}).get_json()
    assert api["total"] > 0
    assert _entry_links(response.data) == [f"/records/{item['record_id']}" for item in api["results"]][:FEED_ENTRIES]
    root = ET.fromstring(response.data)
    self_link = root.find(f"{ATOM}link[@rel='self']").get("href")
    assert self_link.startswith("/search.atom") and all(f"{key}=" in self_link for key in args)


def test_search_feed_follows_an_explicit_sort(client) -> None:
    newest = _entry_links(client.get("/search.atom?platform=rss&sort=newest").data)
    oldest = _entry_links(client.get("/search.atom?platform=rss&sort=oldest").data)
    assert oldest == newest[::-1]


def test_search_page_links_its_feed(client) -> None:
    html = client.get("/search?q=parade&platform=bluesky").get_data(as_text=True)
    link = re.search(r'<a href="(/search\.atom\?[^"]+)" type="application/atom\+xml"', html)
    assert link and "q=parade" in link.group(1) and "platform=bluesky" in link.group(1)


def test_hostile_text_is_escaped_and_kept(client, archive) -> None:
    response = client.get("/search.atom", query_string={"q": "arrest update"})
    assert b"<script>" not in response.data and b"<b>" not in response.data
    parsed = assert_valid_atom(response.data)
    hostile = archive.records["hostile"]
    entry = next(entry for entry in parsed.entries if entry.link.endswith(hostile.record_id))
    assert entry.summary == HOSTILE and entry.author == hostile.author


@pytest.mark.parametrize("query", ["sort=bogus", "from=2026-13-01", "q=" + "x" * 1001, "q=%00", "page=0",
                                   "per_page=1000000", "q=a*%20b*%20c*%20d*%20e*%20f*", "platform=myspace"])
def test_hostile_query_strings_answer_200_or_a_400_naming_the_parameter(client, query: str) -> None:
    started = time.monotonic()
    response = client.get(f"/search.atom?{query}")
    key = query.split("=")[0]
    if key in ("page", "per_page"):  # the feed is always its first FEED_ENTRIES results
        assert response.status_code == 200
        assert len(_entry_links(response.data)) <= FEED_ENTRIES
    else:
        assert response.status_code == 400
        assert key in response.get_data(as_text=True)
    assert time.monotonic() - started < 2


@pytest.fixture(scope="module")
def big_client(tmp_path_factory):
    """An archive with more records than a feed holds, one of them redacted."""
    from portal import create_app

    root = tmp_path_factory.mktemp("feeds")
    builder = ArchiveBuilder(root)
    for number in range(FEED_ENTRIES + 15):
        builder.add(f"n{number}", [f"Notice {number} about the harbor"], platform="rss", account="feed",
                    created_at=f"2026-0{1 + number // 28}-{1 + number % 28:02d}T08:00:00Z")
    secret = builder.add("secret", ["Officer met Wilhelmina Quaxley at the harbor"], kind="reply",
                         author="Wilhelmina Quaxley", author_is_department=False, platform="rss", account="feed",
                         created_at="2026-12-01T00:00:00Z")
    builder.finish()
    redaction = Redaction("red-1", secret.record_id, "text", "wilhelmina quaxley", "Fla. Stat. 119.071(2)(j)", "",
                          "2026-12-02T00:00:00Z", "clerk")
    docs = [apply_redactions(doc, [redaction]) if doc.record_id == secret.record_id else doc for doc in builder.docs]
    index = open_sqlite_index(root / "search.sqlite")
    index.rebuild(docs)
    index.close()
    app = create_app(load_config(write_config(root)), settings={"RATE_LIMIT_PER_MINUTE": 0})
    return app.test_client()


@pytest.mark.parametrize("path", ["/feed.atom", "/search.atom?q=harbor", "/search.atom?q=harbor&sort=oldest"])
def test_feeds_hold_at_most_feed_entries(big_client, path: str) -> None:
    response = big_client.get(path)
    assert len(assert_valid_atom(response.data).entries) == FEED_ENTRIES


def test_feeds_carry_only_the_redacted_text(big_client) -> None:
    body = big_client.get("/feed.atom").get_data(as_text=True)
    assert "Quaxley" not in body and "Wilhelmina" not in body
    assert placeholder("Fla. Stat. 119.071(2)(j)") in ET.fromstring(body).find(f"{ATOM}entry/{ATOM}summary").text
    assert "Quaxley" not in big_client.get("/search.atom?q=harbor&sort=newest").get_data(as_text=True)
