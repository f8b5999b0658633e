"""A demo run's edits, hides and deletions all appear on the changes page and in its Atom feed, in
detection order, each linking to the version (status and diff) on its record page.

Ground truth is the catalog the demo wrote (the portal itself never reads it): every version after a
record's first is one change, its kind read from its status and the status before it.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import feedparser

from indexer.changes import classify
from tests.e2e.conftest import catalog_query

_LINK = re.compile(r'<h2><span class="badge badge-change-(\w+)">[^<]*</span>\s*<a href="([^"]+)">')


def _truth(data_dir) -> list[tuple[str, str]]:
    """(link to the version, change kind), most recently detected first."""
    rows = catalog_query(data_dir, "SELECT record_id, version, status, captured_at FROM versions "
                                   "ORDER BY record_id, version")
    changes = []
    for (rid, _, before, _), (record_id, version, status, seen) in zip(rows, rows[1:], strict=False):
        if rid == record_id:
            changes.append((seen, record_id, version, classify(before, status)))
    changes.sort(key=lambda item: (item[1], -item[2]))
    changes.sort(key=lambda item: item[0], reverse=True)
    return [(f"/records/{record_id}#v{version}", kind) for _, record_id, version, kind in changes]


def _listed(client) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    url = "/changes"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        found += [(html.unescape(href), kind) for kind, href in _LINK.findall(text)]
        more = re.search(r'<a href="([^"]+)" rel="next">', text)
        url = html.unescape(more.group(1)) if more else None
    return found


def test_demo_changes_page_and_feed(demo_archive, client) -> None:
    truth = _truth(demo_archive.data_dir)
    kinds = {kind for _, kind in truth}
    assert {"edit", "hide", "delete"} <= kinds, kinds  # the demo makes each of them
    assert _listed(client) == truth

    feed = client.get("/changes.atom")
    parsed = feedparser.parse(feed.data)
    assert not parsed.bozo and parsed.version == "atom10"
    links = [urlsplit(entry.link).path + "#" + urlsplit(entry.link).fragment for entry in parsed.entries]
    assert links == [link for link, _ in truth[:50]]

    for link, kind in truth[:10] + [next(item for item in truth if item[1] == name) for name in kinds]:
        path, anchor = link.split("#")
        page = client.get(path)
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert f'id="{anchor}"' in body
        if kind == "edit":
            section = body[body.index(f'id="{anchor}"'):]
            assert "Changes from the previous version" in section[:4000] or "Text unchanged" in section[:4000]
