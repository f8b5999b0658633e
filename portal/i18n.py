"""The portal's interface languages (Flask-Babel): English and Spanish.

Only the interface is translated: the archive's own text (posts, replies, authors, accounts) is always
shown exactly as posted. The language is chosen, first match wins, by
1. `?lang=xx` on any page (the visible switch in the page header is such a link; it also sets a cookie),
2. the `lang` cookie (so the choice sticks while browsing, without JavaScript),
3. the browser's `Accept-Language`,
4. English.
Messages live in `portal/translations/<lang>/LC_MESSAGES/messages.po`; the compiled `.mo` beside it is
committed (rebuild: `pybabel extract -F babel.cfg -o portal/translations/messages.pot portal` then
`pybabel update -i portal/translations/messages.pot -d portal/translations` and
`pybabel compile -d portal/translations`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, Response, request
from flask_babel import Babel, get_locale, gettext

LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}  # code -> the language's own name
DEFAULT_LANGUAGE = "en"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def _page_args() -> dict[str, tuple[str, ...]]:
    from portal import changes, public

    return {"public.search": public.HTML_ARGS, "changes.changes": changes.ARGS, "ledger.verify": ("index",)}


PAGE_ARGS = _page_args()


def N_(message: str) -> str:  # noqa: N802 - the name pybabel looks for: marks text to translate later
    return message


# The interface's fixed words that templates show from data (kinds, statuses, facet names, sort labels
# from portal.public.SORT_LABELS): marked here so extraction finds them, translated by `term`.
TERMS = frozenset((N_("post"), N_("reply"), N_("media"), N_("active"), N_("edited"), N_("hidden"), N_("deleted"),
                   N_("restored"), N_("platform"), N_("account"), N_("kind"), N_("status"),
                   N_("Best match"), N_("Newest first"), N_("Oldest first")))


def init_app(app: Flask) -> None:
    """Install Babel with our language choice, the switch's links and the cookie it sets."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    Babel(app, locale_selector=select_language)
    app.jinja_env.globals.update(languages=LANGUAGES, current_language=current_language,
                                 language_url=language_url)
    app.jinja_env.filters["term"] = term
    app.after_request(_remember_choice)


def _requested(value: str | None) -> str | None:
    return value if value in LANGUAGES else None


def select_language() -> str:
    """The language for this request (see the module docstring for the order)."""
    return (_requested(request.args.get("lang")) or _requested(request.cookies.get(COOKIE))
            or request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language code the page is rendered in (for `<html lang>`)."""
    return str(get_locale() or DEFAULT_LANGUAGE)


def language_url(code: str) -> str:
    """This same page (same path and query) in language `code`: the switch's link."""
    # only the pages' own parameters are kept (a search's words and filters, the verified entry), so a
    # page that ignores its query string (/status) stays the same page whatever is appended to it
    keep = PAGE_ARGS.get(request.endpoint or "", ())
    args = [(key, value) for key, value in request.args.items() if key in keep]
    return f"{request.path}?{urlencode([*args, ('lang', code)])}"


def term(value: object) -> str:
    """An interface word shown from data (a kind, a status, a facet's name) in the page's language.

    Anything else, above all archived text and account names, is returned exactly as it is."""
    text = str(value)
    return gettext(text) if text in TERMS else text


def _remember_choice(response: Response) -> Response:
    """Keep an explicit `?lang=` choice in a cookie; responses differ by language, so caches must know."""
    chosen = _requested(request.args.get("lang"))
    if chosen:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE, samesite="Lax", secure=request.is_secure,
                            httponly=True)
    if response.mimetype == "text/html":
        response.vary.update(("Accept-Language", "Cookie"))
    return response
