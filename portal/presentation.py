"""Small pure helpers that turn record data into safe display values (Jinja filters and globals).

The one place HTML is built outside templates is `highlight_html`: it escapes the text first and only
then turns the index's private-use highlight markers into `<mark>` tags, so user content can never
inject markup (a `<script>` in a reply stays `&lt;script&gt;`). Markers are balanced here even if a
hostile text carries stray marker characters of its own.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app
from markupsafe import Markup, escape

from indexer import HIGHLIGHT_END, HIGHLIGHT_START

SNIPPET_CHARS = 400
_MARKERS = re.compile(f"([{HIGHLIGHT_START}{HIGHLIGHT_END}])")


def highlight_html(fragment: str, limit: int | None = None) -> Markup:
    """Escaped HTML of `fragment` with matches in `<mark>`; cut to `limit` characters with "…"."""
    text = fragment or ""
    cut = False
    if limit is not None and len(text) > limit:
        text, cut = text[:limit], True
    out: list[str] = []
    open_mark = False
    for part in _MARKERS.split(text):
        if part == HIGHLIGHT_START:
            if not open_mark:
                out.append("<mark>")
                open_mark = True
        elif part == HIGHLIGHT_END:
            if open_mark:
                out.append("</mark>")
                open_mark = False
        elif part:
            out.append(str(escape(part)))
    if open_mark:
        out.append("</mark>")
    if cut:
        out.append("…")
    return Markup("".join(out))


def snippet(fragment: str) -> Markup:
    """A search result's highlighted snippet, kept short."""
    return highlight_html(fragment, SNIPPET_CHARS)


def plain_text(text: str) -> str:
    """Text with any highlight markers removed (for places that show raw record text)."""
    return (text or "").replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")


def safe_url(url: str | None) -> str | None:
    """`url` if it is an http(s) URL, else None: a record's URL must never be a `javascript:` link."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def display_limit() -> int:
    return int(current_app.config.get("TEXT_DISPLAY_LIMIT") or 20_000)


def shorten(text: str, limit: int | None = None) -> str:
    """At most `limit` characters (default: the app's TEXT_DISPLAY_LIMIT) of `text`."""
    limit = display_limit() if limit is None else limit
    text = text or ""
    return text if len(text) <= limit else text[:limit]


def is_long(text: str, limit: int | None = None) -> bool:
    limit = display_limit() if limit is None else limit
    return len(text or "") > limit


def when(timestamp: str | None) -> str:
    """An RFC 3339 UTC timestamp as `2026-11-25 09:53 UTC` (the raw value goes in `<time datetime>`)."""
    if not timestamp:
        return ""
    value = timestamp.replace("T", " ")
    if value.endswith("Z"):
        value = value[:-1]
        if len(value) >= 16:
            value = value[:16]
        return value + " UTC"
    return value


FILTERS = {
    "highlight": highlight_html,
    "snippet": snippet,
    "safe_url": safe_url,
    "shorten": shorten,
    "is_long": is_long,
    "when": when,
    "plain": plain_text,
}
