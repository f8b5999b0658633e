"""Atom feeds (RFC 4287) built with ElementTree, so every piece of user text is escaped by construction.

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
from dataclasses import dataclass
from urllib.parse import quote

from flask import Response, current_app

from portal.presentation import plain_text

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50  # the most entries one feed answers with
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
