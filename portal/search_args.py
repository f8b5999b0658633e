"""Query-string parsing for /search and /api/v1/search: `indexer.query` owns the rules.

The portal never interprets search parameters itself (one set of semantics for both backends and
the CLI export); it only turns the indexer's `QueryError` into a 400 whose message says what is wrong.
"""

from __future__ import annotations

from flask import abort
from werkzeug.datastructures import MultiDict

from indexer import SearchQuery


def parse_args(args: MultiDict[str, str]) -> SearchQuery:
    from indexer.query import QueryError, parse_search_args

    try:
        return parse_search_args(args)
    except QueryError as exc:
        abort(400, str(exc) or "The search parameters are not valid.")
