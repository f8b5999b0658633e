"""The JSON API (`/api/v1/…`): the same read model as the pages, as data.

Search results are the record JSON of DESIGN §2 plus `highlight`: the matching text as escaped HTML
with `<mark>` around matches, safe to insert into a page as is. A result holds what a results list
needs, so a short query cannot make megabytes of answer: `text` is the latest text up to
RESULT_TEXT_CHARS (`text_truncated` says if it was cut), `versions` holds only the latest version,
without its text, and `version_count` how many there are. Every version, with its text, is at
`/api/v1/records/<record_id>`.

`/api/v1/search.csv` and `/api/v1/search.jsonl` are the same results as files (`portal.downloads`),
spending a token of the stricter `downloads` rate-limit bucket too. `/api/v1/openapi.json` describes
every route here and in `portal.ledger` (`portal.openapi`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from indexer import SearchHit
from portal import downloads, openapi
from portal.backends import index
from portal.downloads import RESULT_TEXT_CHARS
from portal.presentation import highlight_html
from portal.search_args import parse_args
from portal.security import DOWNLOADS, limited_by

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/search")
def search() -> Response:
    query = parse_args(request.args)
    page = index().search(query)
    return jsonify({
        "total": page.total,
        "results": [search_result(hit) for hit in page.hits],
        "facets": page.facets,
        "page": page.page,
        "per_page": page.per_page,
        "timeline": page.timeline,
    })


def search_result(hit: SearchHit) -> dict[str, Any]:
    """One search hit for the results list (see the module docstring for what is left out)."""
    return {**result_row(hit), "highlight": str(highlight_html(hit.highlight))}


def result_row(hit: SearchHit) -> dict[str, Any]:
    """A search hit without its highlight: a row of a download, and the base of `search_result`."""
    record = hit.record
    latest = {key: value for key, value in record.versions[-1].items() if key != "text"} if record.versions else None
    return {
        **{key: value for key, value in record.to_json().items() if key not in ("text", "versions")},
        "text": record.text[:RESULT_TEXT_CHARS],
        "text_truncated": len(record.text) > RESULT_TEXT_CHARS,
        "versions": [latest] if latest is not None else [],
        "version_count": len(record.versions),
    }


@bp.get("/search.csv")
@limited_by(DOWNLOADS)
def search_csv() -> Response:
    return downloads.download(index().search, parse_args(request.args), result_row, "csv")


@bp.get("/search.jsonl")
@limited_by(DOWNLOADS)
def search_jsonl() -> Response:
    return downloads.download(index().search, parse_args(request.args), result_row, "jsonl")


@bp.get("/openapi.json")
def openapi_document() -> Response:
    response = jsonify(openapi.document())
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/records/<record_id>")
def record(record_id: str) -> Response:
    doc = index().get(record_id) if len(record_id) <= 300 else None
    if doc is None:
        abort(404, f"no record with id {record_id!r}")
    return jsonify(doc.to_json())
