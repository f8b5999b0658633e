"""The JSON API (`/api/v1/…`): the same read model as the pages, as data.

Search results are the record JSON of DESIGN §2 plus `highlight`: the matching text as escaped HTML
with `<mark>` around matches, safe to insert into a page as is.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from portal.backends import index
from portal.presentation import highlight_html
from portal.search_args import parse_args

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/search")
def search() -> Response:
    query = parse_args(request.args)
    page = index().search(query)
    results: list[dict[str, Any]] = []
    for hit in page.hits:
        item = hit.record.to_json()
        item["highlight"] = str(highlight_html(hit.highlight))
        results.append(item)
    return jsonify({
        "total": page.total,
        "results": results,
        "facets": page.facets,
        "page": page.page,
        "per_page": page.per_page,
        "timeline": page.timeline,
    })


@bp.get("/records/<record_id>")
def record(record_id: str) -> Response:
    doc = index().get(record_id) if len(record_id) <= 300 else None
    if doc is None:
        abort(404, f"no record with id {record_id!r}")
    return jsonify(doc.to_json())
