"""Web profile: the department's own website (robots.txt, sitemaps, news pages) over a `World`.

Routes under `/web` (the site's root, as a source's `base_url` names it): `robots.txt` (RFC 9309, with
a `Sitemap:` line), `sitemap.xml` (a sitemaps.org `sitemapindex` with one `urlset` per month of news,
`sitemaps/news-YYYY-MM.xml`), and one HTML page per department post at `news/YYYY/MM/notice-<n>`.
A website has no replies and no token. A deleted page answers 404 with an HTML "not found" page,
unknown paths too; the rate limit is HTTP 429 with `Retry-After` (and an HTML body, as web servers
send). Pages carry what a CMS writes around the article (scripts, navigation, share links, a site
footer), so the spider's extraction has something to leave out; texts are HTML-escaped, so hostile
text arrives as text. Docs: docs/platform-api.md ("Web").
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

from infra.simulator import ids
from infra.simulator.profile import Profile, Route
from infra.simulator.text import DEPARTMENT_NAME
from infra.simulator.wire import Reply

if TYPE_CHECKING:
    from infra.simulator.world import Node, World

WEB = "web"
WEB_SITE = "https://www.springfieldpd.example"  # the site's public address (the source's account)
PREFIX = "/web"
HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
TITLE_CHARS = 90


def setup(world: World) -> None:
    return None


def _month(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y/%m")


def assign_ids(world: World, node: Node, images: int) -> None:
    """`/web/news/YYYY/MM/notice-<n>`: the path is the page's native id."""
    node.key = f"{_month(node.created_ms)}/notice-{world.id_base // 10**9}{node.idx:06d}"
    node.native_id = f"{PREFIX}/news/{node.key}"
    node.images = tuple(f"web-{node.key.replace('/', '-')}-{k}" for k in range(images))


def author_label(world: World, node: Node) -> str:
    return DEPARTMENT_NAME


def account_state(world: World) -> dict[str, Any]:
    return {"site": WEB_SITE, "name": DEPARTMENT_NAME}


def page(status: int, title: str, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    body = (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"</head><body><h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>\n")
    return Reply(status, body.encode("utf-8"), HTML, headers)


def not_found(path: str) -> Reply:
    return page(404, "Page not found", f"There is no page at {path}.")


def title_of(text: str) -> str:
    """The headline: the first paragraph, cut at a word before `TITLE_CHARS` characters."""
    first = text.split("\n\n", 1)[0].strip()
    if len(first) <= TITLE_CHARS:
        return first
    cut = first[:TITLE_CHARS].rsplit(" ", 1)[0]
    return (cut or first[:TITLE_CHARS]) + "…"


def news_page(world: World, node: Node, base: str) -> Reply:
    """The HTML of one news page as a CMS writes it (the article plus the site around it)."""
    text = world.text_of(node)
    title = escape(title_of(text))
    url = f"{base}{node.native_id}"
    published = ids.rfc3339(node.created_ms)
    human = datetime.fromtimestamp(node.created_ms // 1000, UTC).strftime("%B %d, %Y")
    paragraphs = "\n".join(f"<p>{escape(part)}</p>" for part in text.split("\n\n"))
    figures = "".join(f'<figure><img src="{base}/media/{name}.png" alt="Photo {k + 1} from the '
                      f'{DEPARTMENT_NAME}" width="64" height="64"></figure>\n' for k, name in enumerate(node.images))
    body = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | {DEPARTMENT_NAME}</title>
<link rel="canonical" href="{url}">
<meta name="author" content="{DEPARTMENT_NAME}">
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:url" content="{url}">
<meta property="article:published_time" content="{published}">
<meta property="article:modified_time" content="{ids.rfc3339(node.edited_ms)}">
<style>body {{ font-family: sans-serif; }}</style>
<script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"page": "news"}});</script>
</head>
<body>
<header class="site-header"><a href="{base}{PREFIX}/">{DEPARTMENT_NAME}</a>
<nav><a href="{base}{PREFIX}/news/">News</a> <a href="{base}{PREFIX}/contact">Contact</a></nav></header>
<main id="content">
<article class="news">
<header><h1>{title}</h1>
<p class="byline">{DEPARTMENT_NAME} &middot; <time datetime="{published}">{human}</time></p></header>
{paragraphs}
{figures}<footer class="share"><a href="https://www.facebook.com/sharer/sharer.php?u={url}">Share</a></footer>
</article>
</main>
<footer class="site-footer"><p>&copy; City of Springfield. In an emergency call 911.</p></footer>
</body>
</html>
"""
    return Reply(200, body.encode("utf-8"), HTML)


def robots_txt(base: str) -> Reply:
    body = (f"# {DEPARTMENT_NAME}\nUser-agent: *\nDisallow: {PREFIX}/admin/\nDisallow: {PREFIX}/search\n\n"
            f"Sitemap: {base}{PREFIX}/sitemap.xml\n")
    return Reply(200, body.encode("utf-8"), "text/plain; charset=utf-8")


def _months(world: World) -> dict[str, list[Node]]:
    """Live pages by month of publication (`YYYY-MM`), oldest month first, oldest page first."""
    items, _ = world.feed(WEB)
    months: dict[str, list[Node]] = {}
    for node in sorted(items, key=lambda n: (n.created_ms, n.idx)):
        months.setdefault(_month(node.created_ms).replace("/", "-"), []).append(node)
    return months


def sitemap_index(world: World, base: str) -> Reply:
    entries = "".join(
        f"<sitemap><loc>{base}{PREFIX}/sitemaps/news-{month}.xml</loc>"
        f"<lastmod>{ids.rfc3339(max(n.edited_ms for n in nodes))}</lastmod></sitemap>\n"
        for month, nodes in _months(world).items())
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{SITEMAP_NS}">\n{entries}</sitemapindex>\n'
    return Reply(200, body.encode("utf-8"), XML)


def urlset(world: World, month: str, base: str) -> Reply:
    nodes = _months(world).get(month)
    if nodes is None:
        return not_found(f"{PREFIX}/sitemaps/news-{month}.xml")
    entries = "".join(f"<url><loc>{base}{n.native_id}</loc><lastmod>{ids.rfc3339(n.edited_ms)}</lastmod></url>\n"
                      for n in nodes)
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}">\n{entries}</urlset>\n'
    return Reply(200, body.encode("utf-8"), XML)


def handle(world: World, route: Route) -> Reply:
    """`GET /web/robots.txt`, `/web/sitemap.xml`, `/web/sitemaps/news-YYYY-MM.xml`, `/web/news/…`."""
    parts, base = route.parts, route.base_url
    if parts == ["robots.txt"]:
        return robots_txt(base)
    if parts == ["sitemap.xml"]:
        return sitemap_index(world, base)
    if len(parts) == 2 and parts[0] == "sitemaps" and parts[1].startswith("news-") and parts[1].endswith(".xml"):
        return urlset(world, parts[1][len("news-"):-len(".xml")], base)
    if parts[:1] == ["news"]:
        node = world.node(WEB, route.path)
        if node is not None and not node.deleted:
            return news_page(world, node, base)
    return not_found(route.path)


def throttled(retry_after: int, target: str) -> Reply:
    """HTTP 429 with `Retry-After` (RFC 6585) and a small HTML page, as a web server or CDN answers."""
    return page(429, "Too Many Requests", "You have sent too many requests. Please slow down.",
                (("Retry-After", str(retry_after)),))


def unsupported_method(target: str) -> Reply:
    return page(405, "Method Not Allowed", "Only GET is supported.", (("Allow", "GET, HEAD"),))


PROFILE = Profile(
    name=WEB, prefix=PREFIX, api_path=PREFIX, account=WEB_SITE, token_required=False,
    feed_has_replies=False, hides_comments=False, setup=setup, assign_ids=assign_ids,
    timestamp=ids.rfc3339, author_label=author_label, account_state=account_state, handle=handle,
    throttled=throttled, unsupported_method=unsupported_method, has_replies=False, lone_surrogates=False,
)
