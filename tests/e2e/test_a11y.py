"""WCAG 2.1 A/AA in a real headless Chromium: axe-core finds no violations, the keyboard reaches everything.

axe-core is the vendored `tests/e2e/vendor/axe.min.js` (MPL-2.0, see the README there), injected into
each page after it loads; only the rules tagged wcag2a, wcag2aa, wcag21a and wcag21aa run. Pages are
checked at desktop and phone width, with the phone's folds (filters, facets) both closed and opened,
so hidden-then-shown content is checked too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.portal_pages import PAGES, serve_standard_archive

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
}"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_standard_archive(tmp_path_factory.mktemp("a11y-archive")) as url:
        yield url


def axe_violations(page) -> list[dict]:
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    return page.evaluate(RUN_AXE, WCAG_TAGS)


def open_folds(page) -> None:
    """Open every <details> (the phone's folds) so their content is checked as well."""
    page.evaluate("document.querySelectorAll('details').forEach((fold) => { fold.open = true; })")


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("width", [1280, 375], ids=lambda width: f"{width}px")
@pytest.mark.parametrize("name", list(PAGES))
def test_axe_finds_no_wcag_violations(browser, base_url, name, width, lang):
    # axe is injected by the test, so the page's CSP must not apply to it (the portal's own markup is
    # checked against the CSP in test_browser.py)
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    path = PAGES[name] + ("&" if "?" in PAGES[name] else "?") + f"lang={lang}"
    page.goto(base_url + path)
    assert page.evaluate("document.documentElement.lang") == lang
    open_folds(page)
    violations = axe_violations(page)
    context.close()
    assert violations == [], f"{path} at {width}px: {violations}"


def test_skip_link_is_first_and_focus_is_visible(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "/search?q=parade")
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el), box = el.getBoundingClientRect();
        return {text: el.textContent.trim(), href: el.getAttribute('href'), outline: style.outlineStyle,
                width: parseFloat(style.outlineWidth), visible: box.left >= 0 && box.top >= 0 && box.width > 0};
    }""")
    assert focused["href"] == "#main" and focused["visible"], focused
    assert focused["outline"] != "none" and focused["width"] >= 2, focused
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    context.close()


def test_every_link_and_control_shows_focus(browser, base_url):
    """Tab through the search page: each stop is visible on screen and drawn with an outline."""
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(base_url + "/search?q=parade")
    seen = 0
    for _ in range(60):
        page.keyboard.press("Tab")
        state = page.evaluate("""() => {
            const el = document.activeElement;
            if (el === document.body) return null;
            const style = getComputedStyle(el);
            return {tag: el.tagName, text: el.textContent.trim().slice(0, 40), outline: style.outlineStyle,
                    width: parseFloat(style.outlineWidth)};
        }""")
        if state is None:
            break
        seen += 1
        assert state["outline"] != "none" and state["width"] >= 2, state
    assert seen >= 10
    context.close()


def test_phone_folds_open_with_the_keyboard(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 800}, java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "/search?q=parade")
    page.locator("details.filters-fold > summary").focus()
    page.keyboard.press("Enter")
    assert page.get_by_label("Platform").is_visible()
    context.close()
