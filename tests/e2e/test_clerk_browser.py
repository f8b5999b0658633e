"""A records clerk in a real headless Chromium answers a request end to end on the clerk pages:
sign in, search, save a request, redact a reply, export, download; then the public portal (another
app over the same archive) shows the redaction and search no longer finds the word. Our markup must
not trip either app's Content-Security-Policy. Screenshots go to /tmp/clerk-*.png."""

from __future__ import annotations

import json
import shutil
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from archiver.catalog import Catalog
from archiver.config import load_config
from clerk import create_clerk_app
from portal import create_app
from tests.clerk.conftest import PASSWORD, archived  # noqa: F401 - the session's archive fixture

pytestmark = pytest.mark.browser

WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    (event) => window.__csp.push(event.violatedDirective + ' ' + event.blockedURI));
"""


@contextmanager
def serving(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _target(config) -> tuple[str, str, str]:
    """A reply under a post, the post's rarest long word (to search for), and a word of the reply
    that appears in no other record (to redact)."""
    with Catalog(config.catalog_path) as catalog:
        rows = catalog.db.execute("SELECT record_id, thread_id, text FROM records WHERE kind = 'reply'"
                                  " AND thread_id != record_id ORDER BY record_id").fetchall()
        texts = [row[0] for row in catalog.db.execute("SELECT lower(text) FROM records")]
        for reply, thread, text in rows:
            post = catalog.db.execute("SELECT text FROM records WHERE record_id = ?", (thread,)).fetchone()
            if post is None:
                continue
            post_words = [w.strip(".,!?;:\"'()#@").lower() for w in post[0].split()]
            reply_words = [w.strip(".,!?;:\"'()#@") for w in text.split()]
            search = min((w for w in post_words if len(w) >= 6 and w.isalpha()),
                         key=lambda w: sum(w in t for t in texts), default=None)
            secret = next((w for w in reply_words if len(w) >= 7 and w.isalpha()
                           and sum(w.lower() in t for t in texts) == 1), None)
            if search and secret and sum(search in t for t in texts) <= 4:
                return reply, search, secret
    pytest.fail("the archive has no reply with a word of its own under a post with a rare word")


def test_a_clerk_answers_a_request_and_the_public_portal_shows_the_redaction(browser, archived, tmp_path):  # noqa: F811
    data_dir = tmp_path / "archive"
    shutil.copytree(archived, data_dir)
    config = load_config(data_dir / "sunshine.toml")
    reply, search_word, secret = _target(config)
    basis = config.redaction_bases[1]
    clerk_app = create_clerk_app(config)
    portal_app = create_app(config, settings={"RATE_LIMIT_PER_MINUTE": 0})
    context = browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.add_init_script(WATCH_CSP)
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda response: response.status >= 400 and errors.append(f"{response.status} {response.url}"))
    with serving(clerk_app) as clerk_url, serving(portal_app) as portal_url:
        # sign in
        page.goto(clerk_url + "/requests/")
        assert "/login?next=" in page.url  # not signed in: sent to sign in first
        page.get_by_label("User name").fill("clara")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(clerk_url + "/requests/")
        assert "clara (clerk)" in page.locator("header").inner_text()

        # search
        page.goto(clerk_url + "/search")
        page.get_by_label("Text").fill(search_word)
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(lambda url: "/search?q=" in url)
        assert page.locator("table.results mark").count() >= 1
        page.screenshot(path="/tmp/clerk-search.png")

        # save the search as a request
        form = page.locator("#save-request")
        form.get_by_label("Request number").fill("PRR-2026-042")
        form.get_by_label("Description").fill(f"Posts mentioning {search_word}, with replies")
        form.get_by_label("Received").fill("2026-01-05")
        form.get_by_label("Due").fill("2026-01-26")
        form.get_by_role("button", name="Save request").click()
        page.wait_for_url("**/requests/PRR-2026-042")
        assert "saved" in page.locator(".flash").inner_text()
        row = page.locator(f"#record-{reply}")
        assert secret in row.locator("td.text").inner_text()

        # redact the reply's word
        row.get_by_label("text to redact").fill(secret)
        row.get_by_label("legal basis").select_option(basis)
        row.get_by_role("button", name="Redact").click()
        page.wait_for_url("**/requests/PRR-2026-042")
        assert "redacted" in page.locator(".flash").inner_text()
        assert basis in page.locator(f"#record-{reply} .redaction").inner_text()
        page.screenshot(path="/tmp/clerk-request.png")

        # export, then download
        page.get_by_role("button", name="Export response package").click()
        page.wait_for_url("**/requests/PRR-2026-042", timeout=600_000)
        assert "package" in page.locator(".flash").inner_text()
        with page.expect_download() as download_info:
            page.locator("a.package").first.click()
        saved = tmp_path / "package.zip"
        download_info.value.save_as(saved)
        with zipfile.ZipFile(saved) as package:
            assert package.testzip() is None
            readable = {name: package.read(name).decode("utf-8", "replace") for name in package.namelist()
                        if name.endswith(("records.jsonl", "records.csv", "report.html", "redactions.json"))}
        assert len(readable) == 4, sorted(readable)
        lines = [json.loads(line) for name, text in readable.items() if name.endswith(".jsonl")
                 for line in text.splitlines()]
        assert reply in {line["record_id"] for line in lines}
        for name, text in readable.items():
            assert secret.lower() not in text.lower(), name
        assert page.evaluate("window.__csp") == [] and errors == []

        # the public portal shows the redaction, and search no longer finds the word
        page.goto(f"{portal_url}/records/{reply}")
        body = page.locator("main").inner_text()
        assert f"[redacted: {basis}]" in body and secret not in body
        page.screenshot(path="/tmp/clerk-portal-redacted.png")
        page.goto(f"{portal_url}/search?q={secret}")
        assert reply not in page.content()
        assert page.evaluate("window.__csp") == [] and errors == []
    context.close()

    with Catalog(config.catalog_path) as catalog:
        done = {entry.action for entry in catalog.audit_trail(actor="clara", action="clerk.")}
    assert {"clerk.login", "clerk.request.save", "clerk.redaction.add", "clerk.package.export",
            "clerk.package.download"} <= done
