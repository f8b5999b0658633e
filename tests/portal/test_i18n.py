"""Interface languages: English and Spanish, from Accept-Language, a `?lang=` link or its cookie.

Only the interface changes: archived text, authors and accounts are shown exactly as posted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from hypothesis import given, settings
from hypothesis import strategies as st

import portal
from portal.i18n import LANGUAGES

PAGES = ["/", "/search", "/search?q=parade", "/records/bluesky-3kparade"]
TRANSLATIONS = Path(portal.__file__).parent / "translations"


def html_lang(body: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', body)
    assert match, "no <html lang>"
    return match.group(1)


@pytest.mark.parametrize("path", PAGES)
def test_english_by_default_and_spanish_from_accept_language(client, path):
    english = client.get(path).get_data(as_text=True)
    assert html_lang(english) == "en"
    assert "Skip to content" in english
    spanish = client.get(path, headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert html_lang(spanish) == "es"
    assert "Saltar al contenido" in spanish and "Skip to content" not in spanish


def test_the_switch_link_sets_a_cookie_that_sticks(client):
    english = client.get("/search?q=parade").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" lang="es"', english)
    assert link, "no visible switch to Spanish"
    target = link.group(1).replace("&amp;", "&")
    assert target.startswith("/search?") and "q=parade" in target and "lang=es" in target
    response = client.get(target)
    assert html_lang(response.get_data(as_text=True)) == "es"
    assert "lang=es" in response.headers.get("Set-Cookie", "")
    # the next page without ?lang= stays Spanish, whatever the browser prefers
    later = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert html_lang(later) == "es"
    back = client.get("/?lang=en").get_data(as_text=True)
    assert html_lang(back) == "en"


def test_pages_vary_by_language_for_caches(client):
    vary = client.get("/").headers.get("Vary", "")
    assert "Accept-Language" in vary and "Cookie" in vary


def test_archived_text_is_shown_as_posted(client, archive):
    post = archive.records["post"]
    spanish = client.get(f"/records/{post.record_id}?lang=es").get_data(as_text=True)
    assert "Road closure on Main Street tonight for the holiday parade" in spanish
    assert "Springfield PD" in spanish
    assert "Saltar al contenido" in spanish  # the interface around it is Spanish


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=30))
def test_any_lang_value_gives_a_page_in_a_shipped_language(app, value):
    response = app.test_client().get("/", query_string={"lang": value})
    assert response.status_code == 200
    assert html_lang(response.get_data(as_text=True)) in LANGUAGES


def catalog_map(catalog) -> dict:
    def key(value):
        return value if isinstance(value, str) else tuple(value)
    return {key(m.id): key(m.string) for m in catalog if m.id}


def test_every_message_is_translated_and_the_compiled_catalog_matches():
    with (TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        source = read_po(file)
    with (TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.mo").open("rb") as file:
        compiled = read_mo(file)
    with (TRANSLATIONS / "messages.pot").open("rb") as file:
        template = read_po(file)
    untranslated = [m.id for m in source if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert untranslated == []
    assert {m.id for m in template if m.id} <= {m.id for m in source if m.id}, "run pybabel update"
    assert catalog_map(source) == catalog_map(compiled), \
        "run pybabel compile -d portal/translations"
