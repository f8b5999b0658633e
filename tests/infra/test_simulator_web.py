"""The web profile: robots.txt, a sitemap index over monthly urlsets, news pages, and its error answers."""

from __future__ import annotations

from infra.simulator import World
from infra.simulator.app import SimulatorApp
from infra.simulator.web import WEB
from spiders.web import parse_page, parse_sitemap

BASE = "http://127.0.0.1:1"


def _get(app: SimulatorApp, url: str):
    return app.handle("GET", url.removeprefix(BASE))


def _walk(app: SimulatorApp) -> tuple[int, list[str]]:
    kind, maps = parse_sitemap(_get(app, f"{BASE}/web/sitemap.xml").body)
    assert kind == "sitemapindex"
    pages = []
    for loc, lastmod in maps:
        assert lastmod
        kind, urls = parse_sitemap(_get(app, loc).body)
        assert kind == "urlset"
        pages.extend(loc for loc, _ in urls)
    return len(maps), pages


def test_sitemaps_list_every_live_page_once_over_several_files() -> None:
    app = SimulatorApp(World(7, 1200), base_url=BASE)
    robots = _get(app, f"{BASE}/web/robots.txt")
    assert robots.status == 200 and f"Sitemap: {BASE}/web/sitemap.xml" in robots.body.decode()
    files, pages = _walk(app)
    assert files >= 3
    live = {r.native_id for r in app.world.records() if r.platform == WEB}
    assert sorted(pages) == sorted(f"{BASE}{nid}" for nid in live)
    for url in pages[:20]:
        reply = _get(app, url)
        assert reply.status == 200 and reply.content_type == "text/html; charset=utf-8"
        record = parse_page(reply.body, "https://www.springfieldpd.example")
        assert record.text == app.world.record(WEB, record.native_id).text


def test_deleted_page_is_404_and_leaves_the_sitemap() -> None:
    app = SimulatorApp(World(7, 600), base_url=BASE)
    change = app.advance()
    gone = [ref.native_id for ref in change.deleted if ref.platform == WEB]
    assert gone
    reply = _get(app, f"{BASE}{gone[0]}")
    assert reply.status == 404 and reply.content_type.startswith("text/html")
    assert f"{BASE}{gone[0]}" not in _walk(app)[1]


def test_throttle_and_method_answers() -> None:
    app = SimulatorApp(World(7, 300), base_url=BASE, rate_limit_every=2, retry_after=3)
    assert _get(app, f"{BASE}/web/robots.txt").status == 200
    throttled = _get(app, f"{BASE}/web/robots.txt")
    assert throttled.status == 429 and ("Retry-After", "3") in throttled.headers
    assert throttled.content_type.startswith("text/html")
    app = SimulatorApp(World(7, 300), base_url=BASE)
    posted = app.handle("POST", "/web/robots.txt")
    assert posted.status == 405 and ("Allow", "GET, HEAD") in posted.headers
    assert _get(app, f"{BASE}/web/nope").status == 404
