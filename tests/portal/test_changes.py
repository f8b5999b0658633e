"""The changes page and its Atom feed: every edit, hide and deletion, newest first, each linking to
its version (status and diff) on the record page; filters validated; feeds valid Atom, escaped."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import feedparser
import pytest

from indexer.changes import change_entries
from tests.portal.conftest import HOSTILE

ATOM = "{http://www.w3.org/2005/Atom}"


def _expected(archive) -> list[tuple[str, int, str]]:
    entries = [entry for doc in archive.builder.docs for entry in change_entries(doc)]
    entries.sort(key=lambda entry: (entry.record_id, -entry.version))
    entries.sort(key=lambda entry: entry.detected_at, reverse=True)
    return [(entry.record_id, entry.version, entry.change) for entry in entries]


def assert_valid_atom(body: bytes) -> feedparser.FeedParserDict:
    """Well-formed XML with RFC 4287's required elements, and a parse feedparser does not flag."""
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{name}") is not None, name
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert (entry.find(f"{ATOM}{name}").text or "").strip(), name
        assert entry.find(f"{ATOM}link[@rel='alternate']") is not None
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_changes_page_lists_every_change_newest_first(client, archive) -> None:
    response = client.get("/changes")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    expected = _expected(archive)
    assert {change for _, _, change in expected} == {"edit", "hide", "delete"}
    links = [f'/records/{record_id}#v{version}' for record_id, version, _ in expected]
    positions = [html.find(link) for link in links]
    assert all(position >= 0 for position in positions), links
    assert positions == sorted(positions)


def test_each_change_links_to_its_version_with_status_and_diff(client, archive) -> None:
    edited = archive.records["post"]
    page = client.get(f"/records/{edited.record_id}").get_data(as_text=True)
    assert 'id="v2"' in page and "<ins>" in page  # the version the change links to, with its diff
    deleted = archive.records["rtl"]
    page = client.get(f"/records/{deleted.record_id}").get_data(as_text=True)
    assert 'id="v2"' in page and "badge-deleted" in page


@pytest.mark.parametrize("change", ["edit", "hide", "delete"])
def test_filter_by_kind(client, archive, change: str) -> None:
    html = client.get(f"/changes?change={change}").get_data(as_text=True)
    for record_id, version, kind in _expected(archive):
        assert (f"/records/{record_id}#v{version}" in html) == (kind == change)


def test_filter_by_platform_account_and_date(client, archive) -> None:
    html = client.get("/changes?platform=mastodon").get_data(as_text=True)
    assert "0 changes" in html
    html = client.get("/changes?platform=bluesky&account=spd&from=2000-01-01&to=9999-12-31").get_data(as_text=True)
    assert all(f"/records/{record_id}#v{version}" in html for record_id, version, _ in _expected(archive))


@pytest.mark.parametrize("query", [
    "change=nuked", "platform=%3Cscript%3E", "from=2026-02-30", "from=2026-03-02&to=2026-03-01",
    "page=99999999999999999999", "page=-1", "account=" + "a" * 5000, "account=%00", "to=%F0%9F%92%A9",
])
@pytest.mark.parametrize("path", ["/changes", "/changes.atom"])
def test_hostile_parameters_are_a_400_naming_the_problem(client, path: str, query: str) -> None:
    started = time.monotonic()
    response = client.get(f"{path}?{query}")
    assert time.monotonic() - started < 2
    if path.endswith(".atom") and query.startswith("page="):
        assert response.status_code == 200  # a feed is always its newest entries: page is not read
        return
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert any(name in body for name in ("change", "platform", "from", "page", "account", "to"))
    assert "<script>" not in body


def test_unknown_parameters_and_repeats_are_harmless(client) -> None:
    assert client.get("/changes?x=1&change=edit&change=hide&per_page=100000").status_code == 200


def test_feed_is_valid_atom_in_detection_order_and_links_to_diffs(client, archive) -> None:
    response = client.get("/changes.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    parsed = assert_valid_atom(response.data)
    expected = _expected(archive)
    assert [urlsplit(entry.link).path + "#" + urlsplit(entry.link).fragment for entry in parsed.entries] == \
        [f"/records/{record_id}#v{version}" for record_id, version, _ in expected]
    assert len({entry.id for entry in parsed.entries}) == len(parsed.entries)


def test_feed_escapes_user_content_and_is_bounded(client, archive) -> None:
    from indexer.changes import Change, ChangePage
    from portal import create_app
    from tests.portal.conftest import RTL

    hostile = Change(record_id="r<&>\"'\x00", version=2, change="edit", detected_at="2026-03-11T00:00:00Z",
                     created_at="2026-03-10T00:00:00Z", platform="bluesky", account="a&b</account>",
                     kind="reply", author="<img src=x onerror=alert(1)>\x01", summary=HOSTILE + RTL + "\ud800\ufffe")

    class Index:
        def changes(self, query):
            return ChangePage(total=500, changes=[hostile] * query.per_page, page=1, per_page=query.per_page,
                              counts={"edit": 500})

        def close(self) -> None:
            pass

    app = create_app(archive.config_path, index=Index(), settings={"RATE_LIMIT_PER_MINUTE": 0})
    response = app.test_client().get("/changes.atom")
    parsed = assert_valid_atom(response.data)
    assert len(parsed.entries) == 50
    assert b"<script>" not in response.data and b"<img" not in response.data
    assert "<script>" in parsed.entries[0].summary  # shown as text, never markup
    page = app.test_client().get("/changes").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_changes_page_has_no_inline_script_or_style(client) -> None:
    response = client.get("/changes")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    html = response.get_data(as_text=True)
    assert "<script" not in html and "style=" not in html and "<style" not in html
