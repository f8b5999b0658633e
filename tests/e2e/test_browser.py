"""The portal in a real headless Chromium, served by a real HTTP server on 127.0.0.1.

A person searches from the home page by typing, sees highlighted results, opens a record and its
versions. A reply carrying `<script>` must not run (no dialog), and our own markup must not trip the
Content-Security-Policy (no violation events, no console errors). Screenshots go to
/tmp/portal-*.png for a human look. The browser is the system's Chromium: never downloaded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from archiver.config import load_config
from portal import create_app
from tests.portal.conftest import ArchiveBuilder, build_standard, open_sqlite_index, write_config

pytestmark = pytest.mark.browser

WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    (event) => window.__csp.push(event.violatedDirective + ' ' + event.blockedURI));
"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("browser-archive")
    builder = ArchiveBuilder(root)
    build_standard(builder)
    builder.finish()
    index = open_sqlite_index(root / "search.sqlite")
    index.rebuild(builder.docs)
    index.close()
    app = create_app(load_config(write_config(root)), settings={"RATE_LIMIT_PER_MINUTE": 0})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.add_init_script(WATCH_CSP)
    page.dialogs = []
    page.console_errors = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    context.close()


def assert_clean(page) -> None:
    assert page.dialogs == [], page.dialogs
    assert page.console_errors == [], page.console_errors
    assert page.evaluate("window.__csp") == []


def test_search_by_typing_then_open_a_record(page, base_url):
    page.goto(base_url + "/")
    assert "Springfield Police Department" in page.title()
    page.screenshot(path="/tmp/portal-home.png", full_page=True)
    page.get_by_label("Search posts and replies").press_sequentially("parade", delay=20)
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=parade*")
    marks = page.locator("article.result mark")
    assert marks.count() >= 1
    assert marks.first.inner_text().lower() == "parade"
    assert "result" in page.locator("#h-results").inner_text()
    page.screenshot(path="/tmp/portal-search.png", full_page=True)
    assert_clean(page)

    page.get_by_role("link", name="Post by Springfield PD").first.click()
    page.wait_for_url("**/records/bluesky-3kparade")
    assert page.get_by_role("heading", name="Version 1").is_visible()
    assert page.get_by_role("heading", name="Version 2 edited").is_visible()
    assert page.locator("ins").first.inner_text().strip() == "holiday"
    page.screenshot(path="/tmp/portal-record.png", full_page=True)
    assert_clean(page)


def test_hostile_record_does_not_execute(page, base_url):
    page.goto(base_url + "/records/bluesky-3kreply1")
    text = page.locator(".record-text").inner_text()
    assert "<script>alert('owned')</script>" in text
    assert page.locator("main script").count() == 0
    page.goto(base_url + "/search?q=owned")
    assert "<script>" in page.locator("article.result .text").first.inner_text()
    page.goto(base_url + "/records/bluesky-3kreply2")  # RTL override in the author name
    page.screenshot(path="/tmp/portal-hostile.png", full_page=True)
    assert_clean(page)


def test_filters_and_pagination_work_without_javascript(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "/search")
    page.get_by_label("Platform").select_option("rss")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**platform=rss*")
    assert "25 results" in page.locator("#h-results").inner_text()
    page.get_by_role("link", name="Next page →").click()
    assert "Page 2 of 2" in page.content()
    context.close()
