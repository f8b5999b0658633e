"""The search help page, `/help/search`: the query language of `indexer.query`, explained to residents.

The limits on the page are the constants the parser enforces, and every example is one the tests run
through `indexer.query.parse_text` to check it means what the page says, so the page cannot drift
from what the search does.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, url_for

from indexer import MAX_PER_PAGE, SORTS
from indexer.query import (
    MAX_ACCOUNT_CHARS,
    MAX_CLAUSES,
    MAX_PREFIX_CLAUSES,
    MAX_QUERY_CHARS,
    MAX_RESULT_WINDOW,
    MAX_WORDS,
)

bp = Blueprint("help", __name__)


@dataclass(frozen=True)
class Example:
    query: str
    meaning: str


EXAMPLES = (
    Example("road closure", "records with both words, anywhere in the text or the author's name"),
    Example('"road closure"', "the two words next to each other, in this order"),
    Example("parade OR festival", "records with either word (| works too)"),
    Example("parade -tickets", "records with parade but without tickets"),
    Example("arr*", "words starting with arr: arrest, arrested, arrests"),
    Example("cafe", "also café: accents and capital letters do not matter"),
    Example("arrest", "also arrested and arrests: English word endings are matched"),
)


@bp.get("/help/search")
def search_help() -> str:
    return render_template(
        "help_search.html", examples=[(example, url_for("public.search", q=example.query)) for example in EXAMPLES],
        sorts=SORTS, limits={"query_chars": MAX_QUERY_CHARS, "words": MAX_WORDS, "clauses": MAX_CLAUSES,
                             "prefixes": MAX_PREFIX_CLAUSES, "window": MAX_RESULT_WINDOW,
                             "per_page": MAX_PER_PAGE, "account_chars": MAX_ACCOUNT_CHARS})
