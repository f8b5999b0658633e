"""The web puller: its pure parsers (published examples and generated pages) and what only a website
does (robots.txt obeyed and refusals recorded, the page size cap), crawled against a tiny site."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.robotparser import RobotFileParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import SourceConfig
from spiders.base import PayloadError
from spiders.extract import find_native
from spiders.web import PAGE_MAX_BYTES, ROBOTS_AGENT, extract_page, page_id, parse_page, parse_sitemap
from tests.spiders.conftest import run_crawl

FIXTURES = Path(__file__).with_name("fixtures") / "web"
SITE = "https://www.springfieldpd.example"


def test_sitemaps_org_examples_parse() -> None:
    kind, urls = parse_sitemap((FIXTURES / "sitemaps-org-urlset.xml").read_bytes())
    assert kind == "urlset" and len(urls) == 5
    assert urls[0] == ("http://www.example.com/", "2005-01-01")
    assert urls[1] == ("http://www.example.com/catalog?item=12&desc=vacation_hawaii", None)  # &amp; decoded
    kind, maps = parse_sitemap((FIXTURES / "sitemaps-org-index.xml").read_bytes())
    assert kind == "sitemapindex"
    assert maps == [("http://www.example.com/sitemap1.xml.gz", "2004-10-01T18:23:17+00:00"),
                    ("http://www.example.com/sitemap2.xml.gz", "2005-01-01")]


def test_rfc9309_example_as_the_spider_reads_it() -> None:
    robots = RobotFileParser()
    robots.parse((FIXTURES / "rfc9309-robots.txt").read_text().splitlines())
    assert not robots.can_fetch(ROBOTS_AGENT, "http://www.example.com/example/page.html")
    assert robots.can_fetch(ROBOTS_AGENT, "http://www.example.com/publications/report.html")


def test_ogp_example_page_names_itself_and_its_title() -> None:
    body = (FIXTURES / "ogp-basic.html").read_bytes()
    page = extract_page(body)
    assert page["url"] == "https://www.imdb.com/title/tt0117500/" and page["title"] == "The Rock"
    assert page_id(page["url"]) == "/title/tt0117500/"
    assert find_native("web", body, "/title/tt0117500/") == page


@pytest.mark.parametrize("body,where", [
    (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><lastmod>2005-01-01</lastmod></url></urlset>',
     "urlset.url[0].loc"),
    (b"<urlset", "sitemap: not valid XML"),
    (b"<rss><channel/></rss>", "expected <urlset> or <sitemapindex>"),
    (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
     b"<url><loc>&a;</loc></url></urlset>", "urlset.url[0].loc"),  # entities are never expanded
])
def test_malformed_sitemaps_name_the_entry(body: bytes, where: str) -> None:
    with pytest.raises(PayloadError, match=where.replace("[", r"\[").replace("]", r"\]")):
        parse_sitemap(body)


def _page(paragraphs: list[str], title: str, url: str, *, images: tuple[tuple[str, str], ...] = (),
          published: str | None = "2026-01-05T14:03:00Z") -> bytes:
    """A news page as a CMS writes one, with script, navigation and footer around the article."""
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    figures = "".join(f'<figure><img src="{escape(src)}" alt="{escape(alt)}"></figure>' for src, alt in images)
    body = "".join(f"<p>{escape(p)}</p>\n" for p in paragraphs)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)} | Site</title>'
            f'<link rel="canonical" href="{escape(url)}">{meta}<script>var x = "<p>not text</p>";</script></head>'
            f'<body><nav>Home News</nav><article><header><h1>{escape(title)}</h1></header>\n{body}{figures}'
            f"<footer>Share</footer></article><footer>City of Springfield</footer></body></html>").encode()


_word = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=12)
_paragraph = st.lists(_word, min_size=1, max_size=8).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(paragraphs=st.lists(_paragraph, min_size=1, max_size=5), title=_paragraph,
       alt=st.text(max_size=20).filter(lambda s: "\x00" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s)))
def test_generated_pages_extract_exactly(paragraphs: list[str], title: str, alt: str) -> None:
    url = f"{SITE}/news/2026/01/notice-1?x=1&y=2"
    body = _page(paragraphs, title, url, images=(("/img/a.png", alt),))
    record = parse_page(body, SITE)
    assert record.text == "\n\n".join(paragraphs)
    assert record.native_id == "/news/2026/01/notice-1?x=1&y=2" and record.kind == "post"
    assert record.native["title"] == title and record.created_at == "2026-01-05T14:03:00Z"
    assert record.native["images"] == [{"src": f"{SITE}/img/a.png", "alt": re.sub(r"[ \t\n\r\f]+", " ", alt).strip()}]
    assert [ref.url for ref in record.media] == [f"{SITE}/img/a.png"]
    assert find_native("web", body, record.native_id) == record.native


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_are_a_page_or_a_payload_error(body: bytes) -> None:
    try:
        parse_page(body + b"</html>", SITE)
    except PayloadError as exc:
        assert str(exc).startswith("html")


def test_unfinished_and_anonymous_pages_are_refused_naming_why() -> None:
    body = _page(["Road closed."], "Closure", f"{SITE}/news/a")
    with pytest.raises(PayloadError, match="truncated"):
        parse_page(body[: len(body) // 2], SITE)
    with pytest.raises(PayloadError, match="names no URL of its own"):
        parse_page(b"<!doctype html><html><body>Please log in to continue.</body></html>", SITE)
    record = parse_page(_page(["x"], "T", f"{SITE}/news/a", published=None), SITE, listed="2026-01-01")
    assert record.created_at == "2026-01-01" and record.native["published"] is None


# ----- a tiny site, crawled for real -----------------------------------------------------------


class _Site(BaseHTTPRequestHandler):
    files: dict[str, tuple[int, str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        status, kind, body = self.files.get(self.path, (404, "text/html", b"<html><body>Not found</body></html>"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_robots_refusals_are_recorded_never_fetched_and_big_pages_are_refused(site: str) -> None:
    pages = {path: _page([f"Notice {path}"], f"Notice {path}", f"{site}{path}") for path in ("/news/1", "/news/2")}
    urls = "".join(f"<url><loc>{site}{path}</loc></url>" for path in (*pages, "/private/3", "/news/big"))
    big = _page(["x" * (PAGE_MAX_BYTES + 10)], "Big", f"{site}/news/big")
    _Site.files = {
        "/robots.txt": (200, "text/plain", b"User-agent: sunshine\nDisallow: /private/\n"),
        "/sitemap.xml": (200, "application/xml",
                         f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()),
        "/private/3": (200, "text/html", _page(["secret"], "Secret", f"{site}/private/3")),
        "/news/big": (200, "text/html", big),
        **{path: (200, "text/html; charset=utf-8", body) for path, body in pages.items()},
    }
    source = SourceConfig(name="site", platform="web", account=site, base_url=site)
    result = run_crawl(source)
    assert {r.native_id for r in result.records} == {"/news/1", "/news/2"}
    fetched = [c.exchange.url for c in result.captures if c.exchange.status]
    assert f"{site}/private/3" not in fetched
    errors = {c.exchange.url: c.error for c in result.errors}
    assert "robots.txt disallows the page" in errors[f"{site}/private/3"]
    assert "download max size" in errors[f"{site}/news/big"] or "maxsize" in errors[f"{site}/news/big"].lower()
    assert len(errors) == 2
