"""News feeds: RSS 2.0 and Atom. Every entry is a `post` record; each entry's article page is captured too.

A source's `account` is the feed's URL: absolute, or relative to the source's `base_url`. The feed
is walked page by page along `<link rel="next">` (RFC 5005 §3 paged feeds; an RSS channel carries it
as `atom:link`), and every entry's own link (`atom:link rel="alternate"`, RSS `<link>`) is fetched
as the entry's "thread": its HTML exchange goes into the WARC, redirects followed, and the capture
names the entry (`completes_thread`), which is how the page is linked to its record. Feeds have no
replies. No token: a feed is public.

Deletion: a feed is a window (the newest N entries), so an entry missing from it is NOT a deletion.
The deletion sweep requests the entry's native id when it is an http(s) URL (an RSS `guid` that is a
permalink, an Atom `id` that is a URL, the usual case for CMS feeds); only 404 or 410 there is a
deletion (a Tombstone). Any 2xx means the entry is still published outside the window: nothing is
recorded. A native id that is not a URL (`tag:` ids) cannot be checked; no deletion is recorded.

Conditional GET: a 304 Not Modified answer to a feed request is recorded as "unchanged" (a capture
without records or error) and the walk stops there, since the page's `next` link is not in it.
`feed_request(url, etag=..., last_modified=...)` sends `If-None-Match`/`If-Modified-Since` when a
caller has validators from an earlier run.

Throttle: HTTP 429 with `Retry-After` and 503 are retried by `spiders.middlewares` (nothing
platform-specific). Per-call cost: one request, no quota units.

Native-object rule (part of the archive format, docs/archive-format.md "Native object", rss): the
payload is XML, so the native object of an entry is a canonical JSON rendering of its element
(Atom `feed/entry`, RSS `rss/channel/item`), exactly as parsed from the archived response body by
`decode_feed` (defusedxml; comments and processing instructions are not part of the tree):
    {"tag": name, "attributes": {name: value, ...}, "text": text, "children": [child, ...]}
and each child also has "tail" (the text after its end tag, before the next sibling). Names are in
expanded form `{namespace-uri}local` (Clark notation), un-namespaced names as they are; text is
exactly as the parser reports it (entities resolved, CDATA as text, whitespace kept, "" when none);
children in document order. Volatile: child elements that are counters, not content, are left out
(with their tail): `{http://purl.org/rss/1.0/modules/slash/}comments` and
`{http://purl.org/syndication/thread/1.0}total` (comment counts). Atom `updated` is kept: RFC 4287
§4.2.15 defines it as the last change "the publisher considers significant", so a new `updated` is
a new version. The native id is the entry's Atom `id`, else its RSS `guid`, else its RSS `link`
(whitespace around the text stripped).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from scrapy.http import Request, Response

from archiver.model import Capture, MediaRef, ParsedRecord, Tombstone
from spiders.base import FEED_PRIORITY, THREAD_PRIORITY, ApiSpider, Outcome, PayloadError, exchange_of
from spiders.platform import NativeRule, Platform

PLATFORM = "rss"
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
VOLATILE_CHILDREN = frozenset({
    "{http://purl.org/rss/1.0/modules/slash/}comments",
    "{http://purl.org/syndication/thread/1.0}total",
})
GONE_STATUSES = (404, 410)  # the article page's answer that confirms a deletion
FEED_ACCEPT = "application/atom+xml, application/rss+xml;q=0.9, application/xml;q=0.8, */*;q=0.1"
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
ACCOUNT = re.compile(r"https?://[^\s/]+(?:/\S*)?|[^\s:?#][^\s]*")
_URL = re.compile(r"https?://\S+")


def decode_feed(body: bytes) -> ET.Element:
    """The root element of a feed body; ValueError for XML that does not parse or is refused.

    defusedxml refuses entity declarations (billion laughs) and external entities or DTDs, so a
    hostile feed is one failed capture, never a blown-up run.
    """
    try:
        return fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(str(exc)) from None
    except DefusedXmlException as exc:
        raise ValueError(f"refused: {exc!r}") from None


def render(elem: ET.Element, *, with_tail: bool = False) -> dict[str, Any]:
    """The canonical JSON rendering of an element (see the module docstring)."""
    out: dict[str, Any] = {
        "tag": elem.tag, "attributes": dict(elem.attrib), "text": elem.text or "",
        "children": [render(child, with_tail=True) for child in elem if child.tag not in VOLATILE_CHILDREN],
    }
    if with_tail:
        out["tail"] = elem.tail or ""
    return out


def entry_elements(root: ET.Element) -> Iterator[tuple[ET.Element, str]]:
    """Each entry element of a feed and its path (`rss/channel/item[2]`, `feed/entry[0]`)."""
    if root.tag == ATOM + "feed":
        for index, entry in enumerate(root.findall(ATOM + "entry")):
            yield entry, f"feed/entry[{index}]"
    elif root.tag == "rss":
        channel = root.find("channel")
        if channel is not None:
            for index, item in enumerate(channel.findall("item")):
                yield item, f"rss/channel/item[{index}]"


def iter_raw_objects(payload: Any) -> Iterator[dict[str, Any]]:
    """The rendering of every entry in a parsed feed (nothing for anything else)."""
    if isinstance(payload, ET.Element):
        for entry, _ in entry_elements(payload):
            yield render(entry)


def _child_text(obj: dict[str, Any], tag: str) -> str | None:
    for child in obj.get("children") or ():
        if isinstance(child, dict) and child.get("tag") == tag and isinstance(child.get("text"), str):
            return child["text"].strip()
    return None


def native_id_of(obj: dict[str, Any]) -> str | None:
    """Atom `id`, else RSS `guid`, else RSS `link`."""
    for tag in (ATOM + "id", "guid", "link"):
        value = _child_text(obj, tag)
        if value:
            return value
    return None


NATIVE = NativeRule(volatile=frozenset(), iter_raw_objects=iter_raw_objects, native_id_of=native_id_of,
                    decode=decode_feed)


# -- pure parsers ----------------------------------------------------------------------------------

def _text(elem: ET.Element | None) -> str | None:
    if elem is None:
        return None
    if len(elem) and elem.get("type") == "xhtml":  # Atom xhtml content: the div's text, markup dropped
        return "".join(elem.itertext())
    return elem.text or ""


def _required(parent: ET.Element, tag: str, where: str, name: str) -> str:
    value = _text(parent.find(tag))
    if value is None or not value.strip():
        raise PayloadError(f"{where}/{name}: expected text, got {'nothing' if value is None else 'empty'}")
    return value


def _rfc822(value: str, where: str) -> str:
    """An RSS date (RFC 822, as RFC 2822 parses it) as RFC 3339 UTC, so dates sort as text."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        raise PayloadError(f"{where}: expected an RFC 822 date, got {value!r}") from None
    if parsed.tzinfo is None:  # "-0000": RFC 2822 §3.3's "no zone information"
        raise PayloadError(f"{where}: expected an RFC 822 date with a zone, got {value!r}")
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _image(url: str | None, mime: str | None) -> MediaRef | None:
    if url and mime and mime.startswith("image/"):
        return MediaRef(url=url, mime=mime)
    return None


def atom_alternate(entry: ET.Element) -> str | None:
    """The entry's `link rel="alternate"` (a link with no rel is one, RFC 4287 §4.2.7.2)."""
    for link in entry.findall(ATOM + "link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href")
    return None


def parse_atom_entry(entry: ET.Element, where: str, account: str, feed_author: str, base: str) -> ParsedRecord:
    entry_id = _required(entry, ATOM + "id", where, "id").strip()
    updated = _required(entry, ATOM + "updated", where, "updated").strip()
    published = _text(entry.find(ATOM + "published"))
    link = atom_alternate(entry)
    text = _text(entry.find(ATOM + "content"))
    if text is None:
        text = _text(entry.find(ATOM + "summary"))
    if text is None:
        text = _text(entry.find(ATOM + "title"))
    if text is None:
        raise PayloadError(f"{where}/title: expected a title, a summary or content, got none")
    author = _text(entry.find(f"{ATOM}author/{ATOM}name")) or feed_author
    media = tuple(ref for link_elem in entry.findall(ATOM + "link") if link_elem.get("rel") == "enclosure"
                  if (ref := _image(urljoin(base, link_elem.get("href") or ""), link_elem.get("type"))))
    url = urljoin(base, link) if link else (entry_id if _URL.fullmatch(entry_id) else "")
    return ParsedRecord(
        platform=PLATFORM, account=account, kind="post", native_id=entry_id, native=render(entry), url=url,
        author=author.strip(), author_is_department=True, created_at=(published or updated).strip(), text=text,
        thread_native_id=entry_id, media=media,
    )


def parse_rss_item(item: ET.Element, where: str, account: str, feed_author: str, base: str) -> ParsedRecord:
    guid = _text(item.find("guid"))
    link = _text(item.find("link"))
    native_id = (guid or "").strip() or (link or "").strip()
    if not native_id:
        raise PayloadError(f"{where}/guid: expected a guid or a link, got neither")
    text = _text(item.find(CONTENT_ENCODED))
    if text is None:
        text = _text(item.find("description"))
    if text is None:
        text = _text(item.find("title"))
    if text is None:  # RSS 2.0: "at least one of title or description must be present"
        raise PayloadError(f"{where}/title: expected a title or a description, got neither")
    date = _text(item.find("pubDate"))
    created = _rfc822(date, f"{where}/pubDate") if date and date.strip() else ""
    guid_elem = item.find("guid")
    permalink = guid and guid_elem is not None and guid_elem.get("isPermaLink", "true") != "false"
    url = (link or "").strip() or (guid.strip() if permalink and guid else "")
    author = _text(item.find("author")) or _text(item.find(DC_CREATOR)) or feed_author
    enclosure = item.find("enclosure")
    media: tuple[MediaRef, ...] = ()
    if enclosure is not None and (ref := _image(urljoin(base, enclosure.get("url") or ""), enclosure.get("type"))):
        media = (ref,)
    return ParsedRecord(
        platform=PLATFORM, account=account, kind="post", native_id=native_id, native=render(item),
        url=urljoin(base, url) if url else "", author=author.strip(), author_is_department=True,
        created_at=created, text=text, thread_native_id=native_id, media=media,
    )


def next_link(root: ET.Element, base: str) -> str | None:
    """RFC 5005 §3 `link rel="next"` of the feed (Atom) or the channel (RSS `atom:link`), absolute."""
    holder = root if root.tag == ATOM + "feed" else root.find("channel")
    if holder is None:
        return None
    for link in holder.findall(ATOM + "link"):
        if link.get("rel") == "next" and link.get("href"):
            return urljoin(base, link.get("href") or "")
    return None


def parse_feed(root: Any, account: str, base: str) -> tuple[list[ParsedRecord], str | None]:
    """A parsed feed page → (its entries as records, the next page's URL or None).

    `base` is the page's URL, against which relative links resolve.
    """
    if not isinstance(root, ET.Element):
        raise PayloadError(f"response: expected an XML element, got {type(root).__name__}")
    if root.tag == ATOM + "feed":
        feed_author = _text(root.find(f"{ATOM}author/{ATOM}name")) or _text(root.find(ATOM + "title")) or ""
        parse = parse_atom_entry
    elif root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise PayloadError("rss/channel: expected an element, got nothing")
        feed_author = _text(channel.find("title")) or ""
        parse = parse_rss_item
    else:
        raise PayloadError(f"response: expected an <rss> or Atom <feed> root, got <{root.tag}>")
    records = [parse(entry, where, account, feed_author.strip(), base) for entry, where in entry_elements(root)]
    return records, next_link(root, base)


# -- the spider ------------------------------------------------------------------------------------

class RssSpider(ApiSpider):
    """Pulls one feed: its pages along rel=next, each entry's article page, the deletion check."""

    name = "rss"
    platform = PLATFORM
    default_base_url = ""
    payload_format = "XML"

    @property
    def feed_url(self) -> str:
        return self.localize(urljoin(self.base_url + "/", self.account) if self.base_url else self.account)

    def localize(self, url: str) -> str:
        """`url` as fetched: on the account's own site and with a `base_url` set, from `base_url`.

        An absolute feed URL names the department's site; `base_url` (a mirror, or the simulator)
        says where that site is actually fetched from, so permalinks (native ids) keep their
        published form while the deletion check and the walk go to `base_url`.
        """
        origin = _origin(self.account)
        if self.base_url and origin and (url == origin or url.startswith(origin + "/")):
            return self.base_url + url[len(origin):]
        return url

    def decode_payload(self, body: bytes, ctx: dict[str, Any]) -> Any:
        """The feed's root element; None for an empty body (a 304 has none; a 200 then fails to parse)."""
        return decode_feed(body) if body.strip() else None

    def feed_request(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Request:
        headers = {"Accept": FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self.api_request(url, self.on_feed, {"feed": True, "url": url}, priority=FEED_PRIORITY,
                                headers=headers)

    def page_request(self, url: str, native_id: str, *, thread: bool) -> Request:
        """The entry's article page. Redirects are followed (CMS pages move); other statuses come here."""
        return Request(url, callback=self.on_page, errback=self._on_failure, priority=THREAD_PRIORITY,
                       headers={"Accept": PAGE_ACCEPT},
                       meta={"handle_httpstatus_list": list(range(400, 600))},
                       cb_kwargs={"ctx": {"native_id": native_id, "thread": thread}})

    def first_requests(self) -> list[Request]:
        return [self.feed_request(self.feed_url)]

    def object_request(self, native_id: str) -> Request:
        if _URL.fullmatch(native_id):
            return self.page_request(self.localize(native_id), native_id, thread=False)
        # Not a URL: nothing can confirm a deletion. The feed again (dropped by Scrapy's duplicate
        # filter, as the walk fetched it) records nothing, which is the honest answer.
        return self.feed_request(self.feed_url)

    def on_feed(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        records, _ = parse_feed(payload, self.account, ctx["url"])
        outcome = Outcome(records=records)
        outcome.requests.extend(self.salvage(payload, ctx))
        for record in records:
            if record.native_id not in self.skip_threads and _URL.fullmatch(record.url):
                outcome.requests.append(self.page_request(self.localize(record.url), record.native_id, thread=True))
        return outcome

    def salvage(self, payload: Any, ctx: dict[str, Any]) -> list[Request]:
        if not ctx.get("feed"):
            return []
        following = next_link(payload, ctx["url"]) if isinstance(payload, ET.Element) else None
        if following and self.localize(following) != ctx["url"]:
            return [self.feed_request(self.localize(following))]
        self.feed_done()
        return []

    def on_page(self, response: Response, ctx: dict[str, Any]) -> Iterator[Capture]:
        """An article page: 200 completes the entry; 404/410 to the deletion check is a Tombstone."""
        native_id = ctx["native_id"]
        outcome = Outcome()
        if response.status == 200:
            outcome.completes_thread = native_id if ctx["thread"] else None
        elif response.status in GONE_STATUSES and not ctx["thread"]:
            outcome.tombstones.append(Tombstone(PLATFORM, native_id))
        else:
            outcome.error = f"article page of {native_id}: HTTP {response.status} {response_phrase(response)}"
            self._note_failure(ctx)
        yield self._capture(exchange_of(response), outcome)

    def http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        """A feed request's non-200 answer (its body parsed as XML)."""
        if status == 304:
            return Outcome()  # unchanged since the validators sent; the walk stops here
        return Outcome(error=f"HTTP {status} for the feed {ctx.get('url', self.feed_url)}")


def _origin(url: str) -> str:
    """`scheme://host[:port]` of an absolute http(s) URL, else ""."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def response_phrase(response: Response) -> str:
    return exchange_of(response).reason


SPEC = Platform(
    name=PLATFORM, spider=RssSpider, native=NATIVE,
    account_pattern=ACCOUNT,
    account_description="the feed's URL (https://…/feed.xml), or its path relative to base_url",
    token_required=False,
)
