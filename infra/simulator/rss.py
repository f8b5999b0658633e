"""News feed profile: the department's news as an Atom feed and an RSS 2.0 feed, and each article's page.

Routes under `/rss` (the department's website as the simulator serves it; a source's `base_url`
stands for `SITE`): `/rss/news/feed.atom` (Atom, RFC 4287) and `/rss/news/feed.rss` (RSS 2.0), each
paged newest first, `PAGE_SIZE` entries a page, along RFC 5005 §3 `link rel="next"` (`?page=` an
opaque cursor over the sort key, so pages stay stable while the world changes); `/rss/news/<key>` the
article's HTML page, 404 once the department deleted it. An entry's id (Atom `id`, RSS `guid`) is
its permalink on `SITE`; its `link` is where this server serves the page. Feeds carry no replies.
Throttle: HTTP 429 with `Retry-After` (an HTML body, as a CDN sends it).
"""

from __future__ import annotations

import base64
from bisect import bisect_right
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from infra.simulator import ids
from infra.simulator.profile import Profile, Route
from infra.simulator.text import DEPARTMENT_NAME
from infra.simulator.wire import Reply

if TYPE_CHECKING:
    from infra.simulator.world import Node, World

RSS = "rss"
SITE = "https://springfield-pd.example"  # the department's website, as its feeds name it
FEED_ACCOUNT = f"{SITE}/news/feed.atom"
PAGE_SIZE = 10
ATOM_TYPE = "application/atom+xml; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
FEED_TITLE = f"{DEPARTMENT_NAME}: News"
_XML_ESCAPES = {"\r": "&#13;"}  # a literal CR would be normalised away by every XML parser


def setup(world: World) -> None:
    return None


def assign_ids(world: World, node: Node, images: int) -> None:
    """A numeric article key (unique per seed) and its permalink on the department's site."""
    node.key = str(world.id_base + node.idx)
    node.native_id = f"{SITE}/news/{node.key}"
    node.images = tuple(f"rss-{node.key}-{k}" for k in range(images))


def author_label(world: World, node: Node) -> str:
    return DEPARTMENT_NAME


def account_state(world: World) -> dict[str, Any]:
    return {"feed": FEED_ACCOUNT, "title": FEED_TITLE}


def rss_time(ms: int) -> str:
    """`Mon, 05 Jan 2026 14:03:00 GMT` (RFC 822 as RSS 2.0 uses it)."""
    return format_datetime(datetime.fromtimestamp(ms // 1000, UTC), usegmt=True)


def _text(value: str) -> str:
    return escape(value, _XML_ESCAPES)


def _title(world: World, node: Node) -> str:
    words = world.text_of(node).split()
    title = " ".join(words[:10])
    return title if len(title) <= 90 else title[:89] + "…"


def page_url(base_url: str, node: Node) -> str:
    return f"{base_url}/rss/news/{node.key}"


def _encode_cursor(node: Node) -> str:
    return base64.urlsafe_b64encode(f"{node.created_ms}:{node.idx}".encode("ascii")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        created, idx = raw.split(":")
        return (-int(created), -int(idx))
    except (ValueError, UnicodeDecodeError):
        return None


def atom_entry(world: World, node: Node, base_url: str) -> str:
    enclosures = "".join(
        f'<link rel="enclosure" type="image/png" length="{len(world.media_png(name) or b"")}" '
        f'href={quoteattr(f"{base_url}/media/{name}.png")}/>' for name in node.images)
    return (f"<entry><id>{_text(node.native_id)}</id><title>{_text(_title(world, node))}</title>"
            f"<updated>{ids.rfc3339(node.edited_ms)}</updated><published>{ids.rfc3339(node.created_ms)}</published>"
            f'<link rel="alternate" type="text/html" href={quoteattr(page_url(base_url, node))}/>{enclosures}'
            f"<author><name>{_text(DEPARTMENT_NAME)}</name></author><category term=\"news\"/>"
            f'<content type="text">{_text(world.text_of(node))}</content></entry>')


def rss_item(world: World, node: Node, base_url: str) -> str:
    enclosure = ""
    if node.images:  # RSS 2.0 allows one enclosure per item
        name = node.images[0]
        enclosure = (f'<enclosure url={quoteattr(f"{base_url}/media/{name}.png")} '
                     f'length="{len(world.media_png(name) or b"")}" type="image/png"/>')
    return (f"<item><title>{_text(_title(world, node))}</title><link>{_text(page_url(base_url, node))}</link>"
            f"<description>{_text(world.text_of(node))}</description>"
            f"<author>news@springfield-pd.example ({_text(DEPARTMENT_NAME)})</author><category>News</category>"
            f'<guid isPermaLink="true">{_text(node.native_id)}</guid><pubDate>{rss_time(node.created_ms)}</pubDate>'
            f"{enclosure}</item>")


def html_page(status: int, title: str, body: str, canonical: str | None = None) -> Reply:
    link = f"<link rel=\"canonical\" href={quoteattr(canonical)}>" if canonical else ""
    page = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>{link}"
            f"</head><body>{body}</body></html>")
    return Reply(status, page.encode("utf-8"), HTML_TYPE)


def not_found(path: str) -> Reply:
    return html_page(404, "Page not found", f"<h1>Page not found</h1><p>{escape(path)}</p>")


def feed(world: World, route: Route, kind: str) -> Reply:
    items, keys = world.feed(RSS)
    start = 0
    if route.params.get("page"):
        after = _decode_cursor(route.params["page"])
        if after is None:
            return not_found(route.target)
        start = bisect_right(keys, after)
    page = items[start:start + PAGE_SIZE]
    self_url = f"{route.base_url}{route.target}"
    next_url = None
    if start + PAGE_SIZE < len(items) and page:
        next_url = f"{route.base_url}{route.path}?page={_encode_cursor(page[-1])}"
    updated = ids.rfc3339(max((n.edited_ms for n in items), default=world.now_ms))
    if kind == "atom":
        links = f'<link rel="self" href={quoteattr(self_url)}/><link rel="alternate" href="{SITE}/news"/>'
        if next_url:
            links += f'<link rel="next" href={quoteattr(next_url)}/>'
        body = (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
                f"<id>{SITE}/news/feed.atom</id><title>{_text(FEED_TITLE)}</title><updated>{updated}</updated>"
                f"<author><name>{_text(DEPARTMENT_NAME)}</name></author>{links}"
                + "".join(atom_entry(world, node, route.base_url) for node in page) + "</feed>")
        return Reply(200, body.encode("utf-8"), ATOM_TYPE)
    links = f'<atom:link rel="self" type="application/rss+xml" href={quoteattr(self_url)}/>'
    if next_url:
        links += f'<atom:link rel="next" href={quoteattr(next_url)}/>'
    body = (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
            f"<channel><title>{_text(FEED_TITLE)}</title><link>{SITE}/news</link>"
            f"<description>News from the {_text(DEPARTMENT_NAME)}</description><language>en-us</language>"
            f"<lastBuildDate>{rss_time(world.now_ms)}</lastBuildDate>{links}"
            + "".join(rss_item(world, node, route.base_url) for node in page) + "</channel></rss>")
    return Reply(200, body.encode("utf-8"), RSS_TYPE)


def article(world: World, route: Route, key: str) -> Reply:
    node = world.node(RSS, f"{SITE}/news/{key}")
    if node is None or node.deleted:
        return not_found(route.path)
    text = escape(world.text_of(node), _XML_ESCAPES)
    return html_page(200, _title(world, node),
                     f"<article><h1>{escape(_title(world, node))}</h1><time datetime=\"{ids.rfc3339(node.created_ms)}\">"
                     f"</time><p>{text}</p></article>", canonical=node.native_id)


def handle(world: World, route: Route) -> Reply:
    """`GET /rss/news/feed.atom`, `/rss/news/feed.rss` (`?page=`), `/rss/news/<key>`; no token."""
    if len(route.parts) == 2 and route.parts[0] == "news":
        name = route.parts[1]
        if name == "feed.atom":
            return feed(world, route, "atom")
        if name == "feed.rss":
            return feed(world, route, "rss")
        if name.isdigit():
            return article(world, route, name)
    return not_found(route.path)


def throttled(retry_after: int, target: str) -> Reply:
    """HTTP 429 with `Retry-After`, an HTML body (what a site's CDN answers)."""
    reply = html_page(429, "Too Many Requests", "<h1>429 Too Many Requests</h1>")
    return Reply(429, reply.body, HTML_TYPE, (("Retry-After", str(retry_after)),))


def unsupported_method(target: str) -> Reply:
    reply = html_page(405, "Method Not Allowed", "<h1>405 Method Not Allowed</h1>")
    return Reply(405, reply.body, HTML_TYPE, (("Allow", "GET, HEAD"),))


PROFILE = Profile(
    name=RSS, prefix="/rss", api_path="/rss", account=FEED_ACCOUNT, token_required=False,
    feed_has_replies=False, hides_comments=False, setup=setup, assign_ids=assign_ids,
    timestamp=ids.rfc3339, author_label=author_label, account_state=account_state, handle=handle,
    throttled=throttled, unsupported_method=unsupported_method, has_replies=False, lone_surrogates=False,
)
