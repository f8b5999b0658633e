"""Every public page at phone width (375 px) and desktop width (1280 px) in a real headless Chromium.

Nothing may overflow horizontally (the page never scrolls sideways), and at phone width the search page
shows its results before the filters and facets, which fold away behind one `<summary>` each (no
JavaScript) that is one tap from the results. Screenshots go to /tmp/portal-layout-<page>-<width>.png
for a human look.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.portal_pages import PAGES, serve_standard_archive

pytestmark = pytest.mark.browser

WIDTHS = (375, 1280)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_standard_archive(tmp_path_factory.mktemp("layout-archive")) as url:
        yield url


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def page(browser, request):
    context = browser.new_context(viewport={"width": request.param, "height": 800})
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_no_page_overflows_horizontally(page, base_url, name):
    page.goto(base_url + PAGES[name])
    width = page.viewport_size["width"]
    page.screenshot(path=f"/tmp/portal-layout-{name}-{width}.png", full_page=True)
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"{PAGES[name]} is {scroll_width}px wide in a {inner_width}px window"


def top(page, selector: str) -> float:
    return page.locator(selector).first.bounding_box()["y"]


def test_phone_search_shows_results_first_and_folds_filters(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 800}, java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "/search?q=parade")
    first_result = top(page, "article.result")
    assert first_result < 800, "the first result is not on the first screen"
    # the filters fold away, and their fold sits before nothing but the search box
    filters = page.locator("details.filters-fold")
    assert filters.count() == 1 and filters.get_attribute("open") is None
    assert not page.get_by_label("Platform").is_visible()
    facets = page.locator("details.facets-fold")
    assert facets.count() == 1 and facets.get_attribute("open") is None
    assert first_result < top(page, "details.facets-fold")
    # one tap (no JavaScript) opens each
    page.locator("details.filters-fold > summary").click()
    assert page.get_by_label("Platform").is_visible()
    page.locator("details.facets-fold > summary").click()
    assert page.locator(".facets .facet").first.is_visible()
    page.screenshot(path="/tmp/portal-layout-search-phone-open.png", full_page=True)
    context.close()


def test_desktop_search_shows_filters_and_facets_open(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base_url + "/search?q=parade")
    assert page.get_by_label("Platform").is_visible()
    assert page.locator(".facets .facet").first.is_visible()
    context.close()
