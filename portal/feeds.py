"""Atom feeds (RFC 4287) built with ElementTree, so every piece of user text is escaped by construction.

Routes here: `/feed.atom` (the newest records) and `/search.atom` (any search, with its filters);
`/changes.atom` is `portal.changes`'. Entries carry the read model's public text, which is already
redacted (`archiver.redaction`), never the stored originals.

XML 1.0 cannot carry some characters at all, escaped or not (NUL and most C0 controls, lone
surrogates, U+FFFE/U+FFFF): hostile posts hold them, so `xml_text` replaces them with U+FFFD rather
than emit a feed no reader can parse. Links are relative, resolved by readers against `xml:base`:
the configured `[portal] public_url` when there is one, else the feed's own address; the request's
Host header is never used. Entry ids are `tag:` URIs (RFC 4151) that do not depend on the host.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.datastructures import MultiDict

from archiver.model import RecordDoc
from indexer import SearchQuery
from indexer.documents import excerpt
from portal.backends import index
from portal.presentation import plain_text
from portal.search_args import parse_args

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50  # the most entries one feed answers with
SUMMARY_CHARS = 500  # of a record's text in its entry (the whole text is on its page)
EPOCH = "1970-01-01T00:00:00Z"  # an empty feed's `updated` (required, and nothing was ever updated)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Entry:
    id: str  # a tag: URI (`tag_uri`)
    title: str
    updated: str  # RFC 3339
    link: str  # relative to the site root, e.g. "records/x#v2"
    summary: str
    published: str | None = None
    author: str | None = None


def xml_text(text: str | None) -> str:
    """`text` with the characters XML 1.0 cannot hold (and the index's highlight markers) as U+FFFD."""
    return _NOT_XML.sub("\ufffd", plain_text(text or ""))


def tag_uri(*parts: str | int) -> str:
    """A stable, host-independent entry id: tag:sunshine.archive,2025:<part>/<part>…"""
    return "tag:sunshine.archive,2025:" + "/".join(quote(str(part), safe="") for part in parts)


def atom_response(*, feed_id: str, title: str, self_path: str, html_path: str, entries: Iterable[Entry]) -> Response:
    """The feed as `application/atom+xml`; paths are site-relative ("changes?change=edit")."""
    entries = list(entries)[:FEED_ENTRIES]
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    base = current_app.jinja_env.globals.get("public_url")
    if base:
        feed.set("{http://www.w3.org/XML/1998/namespace}base", base.rstrip("/") + "/")
    _child(feed, "id", feed_id)
    _child(feed, "title", title)
    _child(feed, "updated", max((entry.updated for entry in entries), default=EPOCH))
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _child(author, "name", str(current_app.jinja_env.globals.get("department") or "Sunshine archive"))
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", type="application/atom+xml", href=self_path)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=html_path)
    for item in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _child(entry, "id", item.id)
        _child(entry, "title", item.title)
        _child(entry, "updated", item.updated or EPOCH)
        if item.published:
            _child(entry, "published", item.published)
        if item.author:
            _child(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", item.author)
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=item.link)
        _child(entry, "summary", item.summary).set("type", "text")
    body = ET.tostring(feed, encoding="unicode", xml_declaration=False)
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + body,
                    content_type="application/atom+xml; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=60"})


def _child(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = xml_text(text)
    return element


# --- the feeds of records: new captures and any search ------------------------------------------------

bp = Blueprint("feeds", __name__)
FEED_ARGS = ("q", "platform", "account", "kind", "status", "from", "to", "sort")


@bp.get("/feed.atom")
def captures_feed() -> Response:
    """The newest records the archive holds (posts and replies), newest first."""
    page = index().search(SearchQuery(sort="newest", per_page=FEED_ENTRIES))
    return atom_response(feed_id=tag_uri("records"), title="New in the archive: posts and replies",
                         self_path=url_for("feeds.captures_feed"), html_path=url_for("public.search"),
                         entries=[record_entry(hit.record) for hit in page.hits])


@bp.get("/search.atom")
def search_feed() -> Response:
    """Any search as a feed: its text and filters, newest first unless it asks for another order.

    Always the first `FEED_ENTRIES` results: `page` and `per_page` are the HTML page's and the API's.
    """
    args = {key: value for key in FEED_ARGS if (value := request.args.get(key, ""))}
    query = replace(parse_args(MultiDict(args)), per_page=FEED_ENTRIES)
    if query.sort is None:
        query = replace(query, sort="newest")  # a feed reader wants what is new, whatever the words
    page = index().search(query)
    described = ", ".join(f"{key} {value}" for key, value in args.items() if key not in ("q", "sort"))
    title = "Search" + (f" for “{query.text}”" if query.text else "") + (f" ({described})" if described else "")
    return atom_response(feed_id=tag_uri("search", *(f"{key}={value}" for key, value in sorted(args.items()))),
                         title=title, self_path=url_for("feeds.search_feed", **args),
                         html_path=url_for("public.search", **args),
                         entries=[record_entry(hit.record) for hit in page.hits])


def record_entry(record: RecordDoc) -> Entry:
    """A record as a feed entry: its public (redacted) text, updated when its latest version was captured."""
    latest = record.versions[-1] if record.versions else {}
    status = "" if record.status == "active" else f" ({record.status})"
    return Entry(id=tag_uri("record", record.record_id),
                 title=f"{record.kind.capitalize()} by {record.author} on {record.platform}{status}",
                 updated=str(latest.get("captured_at") or record.created_at), published=record.created_at,
                 author=record.author, link=url_for("public.record", record_id=record.record_id),
                 summary=excerpt(record.text, SUMMARY_CHARS))
