"""Web: the department's own website, walked from robots.txt through its sitemaps to its pages.

A crawl reads `<base_url>/robots.txt` (RFC 9309) first and obeys it for everything after: a path
it disallows for the `sunshine` agent is never fetched, and each one the sitemaps list is recorded as
a failed capture saying so. A missing robots.txt (4xx) allows everything; one that cannot be fetched
(5xx after retries) disallows everything (RFC 9309 §2.3.1.3-4), so the source stops there with an
error. The sitemaps come from its `Sitemap:` lines, else `<base_url>/sitemap.xml` (sitemaps.org
protocol: a `urlset` of `url/loc` + `lastmod`, or a `sitemapindex` of nested sitemaps, followed to any
depth, each once). Only URLs on the site's own origin are followed (the protocol's rule; a hostile
sitemap cannot send the crawler elsewhere).

Incremental runs: the sitemaps' `lastmod` is the site's own statement of change. With a plan, a
nested sitemap whose `lastmod` is older than `stop_before` (the recent window's edge) is not fetched,
and a page whose `lastmod` is not newer than `changed_after` (the newest `lastmod` the last complete
walk listed) is not fetched but counted as still there (the deletion sweep leaves it); an entry
without `lastmod` always is fetched. So the window's sitemaps are read every run, and a window page
missing from them is asked for on its own (404: deleted). Older pages are rechecked by the rotating
revisit like any platform's threads.

Every HTML page a sitemap lists is one `post` record (a department's website is its publication;
there are no replies), completing its own "thread". Its images (`<img src>` in the article) are
fetched as media. A page answering 404 or 410 is gone (the only deletion signal): a `Tombstone`.
Pages are capped at `PAGE_MAX_BYTES` (Scrapy's `download_maxsize`; a bigger page is a failed capture
with the reason), parsed by lxml without fetching or executing anything (scripts are dropped, never
run), and their text is kept as plain text (the portal escapes it when it shows it).

Native-object rule (part of the archive format, docs/archive-format.md): the record object is the
canonical extraction `extract_page(body)` of the page's HTML bytes, a pure function:
    url        the page's own absolute URL: `<link rel="canonical" href>`, else `<meta property="og:url">`
               (a page that names no URL of its own is a failed capture: its id could not be re-derived)
    title      the article's first `<h1>`, else `og:title`, else `<title>` (whitespace collapsed)
    published  `<meta property="article:published_time" content>`, else the article's first
               `<time datetime>`, else null
    text       the article's plain text (see `article_text`)
    images     `[{"src": absolute URL, "alt": alt text, whitespace collapsed}]` of the article's `<img>`
               elements, in order (`src` resolved against `url`)
Its native id is the path (and `?query`) of `url`, so it does not change when the site changes host or
scheme. No keys are volatile: the extraction already leaves out what changes without the page
changing (scripts, navigation, counters, `article:modified_time`). `find_native` decodes an archived
body with the same `extract_page`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from lxml import etree, html
from scrapy.http import Request

from archiver.clock import utc_now
from archiver.model import Capture, HttpExchange, MediaRef, ParsedRecord, Tombstone
from spiders.base import FEED_PRIORITY, ApiSpider, Outcome, PayloadError
from spiders.platform import NativeRule, Platform

PLATFORM = "web"
ROBOTS_AGENT = "sunshine"  # the product token robots.txt groups name (our User-Agent starts with it)
PAGE_MAX_BYTES = 8 * 1024 * 1024  # a news page bigger than this is refused (recorded, not parsed)
SITEMAP_MAX_BYTES = 50 * 1024 * 1024  # the sitemaps protocol's own limit for one file
GONE = frozenset({404, 410})
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ACCOUNT = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[^\s?#]*)?")

# Elements whose content is never text: code, embedded documents, forms and page furniture.
_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe", "object",
                      "embed", "canvas", "form", "button", "select", "textarea", "nav", "header",
                      "footer", "aside", "head", "title"})
# Elements that start a new paragraph of the plain text.
_BLOCKS = frozenset({"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6",
                     "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "figure", "figcaption",
                     "table", "tr", "td", "th", "br", "hr", "address", "details", "summary"})
_SPACE = re.compile(r"[ \t\n\r\f]+")  # HTML's ASCII whitespace; U+00A0 and U+200B are text
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BREAK = "\x00"  # paragraph marker while walking (NUL never survives HTML parsing as text)


def _collapse(value: str) -> str:
    return _SPACE.sub(" ", value).strip()


def _encoding(body: bytes) -> str:
    """The encoding a page declares in its first 1024 bytes (the HTML prescan window), else UTF-8."""
    if body.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    found = _CHARSET.search(body[:1024])
    name = found.group(1).decode("ascii").lower() if found else "utf-8"
    return "utf-8" if name in ("utf8", "unicode") else name


def parse_html(body: bytes) -> Any:
    """The lxml document of a page; ValueError when there is no document at all.

    lxml's HTML parser recovers from any markup (as browsers do), fetches nothing and runs nothing.
    """
    if not body.strip():
        raise ValueError("empty body")
    try:
        parser = html.HTMLParser(encoding=_encoding(body), remove_comments=True, no_network=True)
    except LookupError:
        parser = html.HTMLParser(encoding="utf-8", remove_comments=True, no_network=True)
    try:
        root = html.document_fromstring(body, parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError) as exc:
        raise ValueError(f"not HTML: {exc}") from None
    return root


def _article(root: Any) -> Any:
    """The element holding the page's own content: `<article>`, else `<main>`, else `<body>`."""
    for path in ("//article", "//main", "//body"):
        found = root.xpath(path)
        if found:
            return found[0]
    return root


def article_text(article: Any) -> str:
    """The article's plain text: its paragraphs, each with whitespace collapsed, joined by a blank line.

    Paragraphs break at block elements (`p`, headings, lists, `div`, `br`, …). Left out: scripts,
    styles, embedded documents, forms and the article's `<header>`, `<footer>`, `<nav>` and `<aside>`
    (title, date and byline are fields of their own). Entities are decoded; nothing is interpreted.
    """
    parts: list[str] = []

    def walk(element: Any) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        block = tag.lower() in _BLOCKS
        if block:
            parts.append(_BREAK)
        if element.text and tag:
            parts.append(element.text)
        for child in element:
            child_tag = child.tag.lower() if isinstance(child.tag, str) else ""
            if child_tag not in _SKIPPED and child_tag:
                walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append(_BREAK)

    walk(article)
    paragraphs = (_collapse(chunk) for chunk in "".join(parts).split(_BREAK))
    return "\n\n".join(chunk for chunk in paragraphs if chunk)


def _first(root: Any, xpath: str) -> str | None:
    for value in root.xpath(xpath):
        text = _collapse(str(value))
        if text:
            return text
    return None


def extract_page(body: bytes) -> dict[str, Any]:
    """The native object of a page (see the module docstring); ValueError if `body` is no document."""
    root = parse_html(body)
    article = _article(root)
    url = _first(root, "//link[contains(concat(' ', normalize-space(translate(@rel, 'CANONICAL', 'canonical')),"
                       " ' '), ' canonical ')]/@href") or _first(root, "//meta[@property='og:url']/@content")
    headline = article.xpath(".//h1")
    title = (_collapse(headline[0].text_content()) if headline else None) \
        or _first(root, "//meta[@property='og:title']/@content") or _first(root, "//title/text()")
    published = _first(root, "//meta[@property='article:published_time']/@content") \
        or _first(article, ".//time/@datetime")
    images = []
    for img in article.xpath(".//img[@src]"):
        src = img.get("src").strip()
        images.append({"src": urljoin(url, src) if url else src, "alt": _collapse(img.get("alt") or "")})
    return {"url": url, "title": title, "published": published, "text": article_text(article),
            "images": images}


def page_id(url: str) -> str:
    """A page's native id: the path and query of its URL (`/news/2026/road-closure`)."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def iter_raw_objects(payload: Any) -> Iterator[dict[str, Any]]:
    """A decoded page is one record object."""
    if isinstance(payload, dict) and isinstance(payload.get("url"), str):
        yield payload


def native_id_of(page: dict[str, Any]) -> str | None:
    url = page.get("url")
    return page_id(url) if isinstance(url, str) and url else None


NATIVE = NativeRule(volatile=frozenset(), iter_raw_objects=iter_raw_objects, native_id_of=native_id_of,
                    decode=extract_page)


def parse_page(body: bytes, account: str, listed: str | None = None) -> ParsedRecord:
    """A 200 page → its `post` record (PayloadError naming what is missing).

    `listed`: the sitemap's `lastmod`, the published date of last resort.
    """
    if b"</html" not in body[-4096:].lower():
        raise PayloadError("html: not valid HTML: the page ends before </html> (truncated?)")
    try:
        page = extract_page(body)
    except ValueError as exc:
        raise PayloadError(f"html: not valid HTML: {exc}") from None
    if not page["url"]:
        raise PayloadError('html.head: not valid HTML for a page of the site: it names no URL of its own (no <link rel="canonical"> '
                           'or <meta property="og:url">)')
    if not page["title"]:
        raise PayloadError("html.head.title: not valid HTML for a page of the site: it has no title (<h1>, og:title or <title>)")
    native_id = page_id(page["url"])
    created = page["published"] or listed or ""
    return ParsedRecord(
        platform=PLATFORM, account=account, kind="post", native_id=native_id, native=NATIVE.native_object(page),
        url=page["url"], author=account, author_is_department=True, created_at=created, text=page["text"],
        thread_native_id=native_id,
        media=tuple(MediaRef(url=image["src"]) for image in page["images"]
                    if image["src"].startswith(("http://", "https://"))),
    )


def parse_sitemap(body: bytes) -> tuple[str, list[tuple[str, str | None]]]:
    """A sitemap → ("urlset" | "sitemapindex", [(loc, lastmod)]) (PayloadError naming the bad entry).

    Parsed without DTDs, entities or network access, so a hostile sitemap cannot expand or fetch.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise PayloadError(f"sitemap: not valid XML: {exc}") from None
    if root is None:
        raise PayloadError("sitemap: not valid XML: empty document")
    kind = etree.QName(root).localname
    entry = {"urlset": "url", "sitemapindex": "sitemap"}.get(kind)
    if entry is None or etree.QName(root).namespace not in (SITEMAP_NS[1:-1], None):
        raise PayloadError(f"sitemap: expected <urlset> or <sitemapindex> of {SITEMAP_NS[1:-1]}, got <{root.tag}>")
    found = []
    for index, item in enumerate(child for child in root if etree.QName(child).localname == entry):
        values = {etree.QName(child).localname: (child.text or "").strip()
                  for child in item if isinstance(child.tag, str)}
        if not values.get("loc"):
            raise PayloadError(f"{kind}.{entry}[{index}].loc: expected a URL, got nothing")
        found.append((values["loc"], values.get("lastmod") or None))
    return kind, found


class WebSpider(ApiSpider):
    """Walks one website: robots.txt, its sitemaps, every page they list, page images, deletion sweep."""

    name = "web"
    platform = PLATFORM
    default_base_url = ""  # the site's own address: a source's `account` unless `base_url` says otherwise
    payload_format = "HTML"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = (self.source.base_url or self.source.account).rstrip("/")
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.robots = RobotFileParser()
        self.robots.allow_all = True  # until robots.txt says otherwise
        self._sitemaps_seen: set[str] = set()
        self._sitemaps_pending = 0
        self._pages_seen: set[str] = set()
        self._blocked: list[Capture] = []  # robots.txt refusals, yielded after the response that found them

    # -- what the base asks for -------------------------------------------------------------------

    def decode_payload(self, body: bytes, ctx: dict[str, Any]) -> Any:
        """The raw bytes: robots.txt, sitemaps and pages each parse them in their own handler, so a
        non-200 answer always reaches `http_error` whatever its body."""
        return body

    def first_requests(self) -> list[Request]:
        return [self.api_request(f"{self.base_url}/robots.txt", self.on_robots, {"feed": True, "robots": True},
                                 priority=FEED_PRIORITY)]

    def object_request(self, native_id: str) -> Request:
        return self.page_request(self.origin + native_id, None, sweep=True)

    def http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        if ctx.get("robots") and 400 <= status < 500:
            return self.on_robots(b"", ctx)  # RFC 9309 §2.3.1.3: no robots.txt, no restrictions
        if status in GONE and ctx.get("native_id"):
            return Outcome(tombstones=[Tombstone(PLATFORM, ctx["native_id"])])
        what = "robots.txt (RFC 9309: an unreachable robots.txt disallows the whole site)" if ctx.get("robots") \
            else "sitemap" if ctx.get("sitemap") else "page"
        return Outcome(error=f"HTTP {status} for the {what}")

    # -- requests -------------------------------------------------------------------------------

    def allowed(self, url: str) -> bool:
        return self.robots.can_fetch(ROBOTS_AGENT, url)

    def on_site(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" == self.origin

    def sitemap_request(self, url: str) -> Request:
        self._sitemaps_seen.add(url)
        self._sitemaps_pending += 1
        request = self.api_request(url, self.on_sitemap, {"feed": True, "sitemap": url}, priority=FEED_PRIORITY,
                                   headers={"Accept": "application/xml, text/xml;q=0.9, */*;q=0.1"})
        request.meta["download_maxsize"] = SITEMAP_MAX_BYTES
        return request

    def page_request(self, url: str, lastmod: str | None, *, sweep: bool = False) -> Request:
        ctx: dict[str, Any] = {"native_id": page_id(url), "lastmod": lastmod}
        if not sweep:
            ctx["thread"] = True
        request = self.api_request(url, self.on_page, ctx, headers={"Accept": "text/html, */*;q=0.1"})
        request.meta["download_maxsize"] = PAGE_MAX_BYTES
        return request

    def blocked(self, url: str, what: str) -> Capture:
        """A failed capture for a URL robots.txt disallows: recorded, never fetched."""
        exchange = HttpExchange(url=url, method="GET", request_headers=(), status=0,
                                reason="not fetched: disallowed by robots.txt", response_headers=(), body=b"",
                                fetched_at=utc_now())
        return Capture(source=self.source.name, exchange=exchange,
                       error=f"robots.txt disallows the {what} {url} for {ROBOTS_AGENT}: not fetched")

    # -- handlers ---------------------------------------------------------------------------------

    def on_robots(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        robots = RobotFileParser()
        robots.parse(payload.decode("utf-8", "replace").splitlines())
        self.robots = robots
        listed = robots.site_maps() or [f"{self.base_url}/sitemap.xml"]
        return self._follow_sitemaps(listed)

    def _follow_sitemaps(self, urls: list[str]) -> Outcome:
        outcome = Outcome()
        for url in urls:
            if url in self._sitemaps_seen or not self.on_site(url):
                continue
            if self.allowed(url):
                outcome.requests.append(self.sitemap_request(url))
            else:
                self._sitemaps_seen.add(url)
                self._blocked.append(self.blocked(url, "sitemap"))
        if self._sitemaps_pending == 0:
            self.feed_done()
        return outcome

    def on_sitemap(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        kind, entries = parse_sitemap(payload)
        self._sitemaps_pending -= 1
        for _loc, lastmod in entries:
            self.note_seen(lastmod)
        if kind == "sitemapindex":
            return self._follow_sitemaps([loc for loc, lastmod in entries if not self.older_than_plan(lastmod)])
        outcome = Outcome()
        for loc, lastmod in entries:
            if loc in self._pages_seen or not self.on_site(loc):
                continue
            self._pages_seen.add(loc)
            if self.unchanged(lastmod):
                self.present.add(page_id(loc))  # unchanged since the last complete walk: still there
            elif self.allowed(loc):
                outcome.requests.append(self.page_request(loc, lastmod))
            else:
                self._blocked.append(self.blocked(loc, "page"))
        if self._sitemaps_pending == 0:
            self.feed_done()
        return outcome

    def on_page(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        record = parse_page(payload, self.account, ctx.get("lastmod"))
        media = tuple(ref for ref in record.media if self.allowed(ref.url))
        return Outcome(records=[replace(record, media=media)],
                       completes_thread=record.native_id if ctx.get("thread") else None)

    def _on_api_response(self, response: Any, handler: Any, ctx: dict[str, Any]) -> Iterator[Any]:
        yield from super()._on_api_response(response, handler, ctx)
        blocked, self._blocked = self._blocked, []
        yield from blocked


SPEC = Platform(
    name=PLATFORM, spider=WebSpider, native=NATIVE,
    account_pattern=ACCOUNT, account_description="the website's base URL (https://www.springfieldpd.example)",
    token_required=False,
)
