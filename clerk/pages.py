"""Home, search (every filter the public search has, over the same index) and the audit trail."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from markupsafe import Markup, escape

from clerk import backends
from indexer import HIGHLIGHT_END, HIGHLIGHT_START

bp = Blueprint("pages", __name__)
AUDIT_PAGE = 100


def highlighted(text: str) -> Markup:
    """Escape first, then turn the index's private-use markers into <mark> (user text never becomes markup)."""
    return Markup(str(escape(text)).replace(HIGHLIGHT_START, "<mark>").replace(HIGHLIGHT_END, "</mark>"))


@bp.route("/")
def home():
    catalog = backends.catalog()
    from archiver.requests import list_requests

    return render_template("home.html", requests=list_requests(catalog), holds=catalog.holds(),
                           approvals=[a for a in catalog.approvals(10) if a.status == "proposed"])


@bp.route("/search")
def search():
    from indexer.query import QueryError, parse_search_args

    try:
        query = parse_search_args(request.args)
    except QueryError as exc:
        return render_template("search.html", query=None, result=None, error=str(exc), args=request.args), 400
    searched = any(request.args.get(name) for name in ("q", "platform", "account", "kind", "status", "from", "to"))
    result = backends.index().search(query) if searched else None
    return render_template("search.html", query=query, result=result, error=None, args=request.args,
                           highlighted=highlighted)


@bp.route("/audit")
def audit():
    def arg(name: str) -> str | None:
        value = request.args.get(name, "").strip()
        return value[:200] or None

    before = arg("before")
    if before is not None and not before.isdigit():
        abort(400, "before: expected an audit row number")
    entries = backends.catalog().audit_trail(actor=arg("actor"), action=arg("action"), date_from=arg("from"),
                                             date_to=arg("to"), text=arg("q"),
                                             before_id=int(before) if before else None, limit=AUDIT_PAGE)
    return render_template("audit.html", entries=entries, args=request.args,
                           actions=backends.catalog().audit_actions(),
                           more=entries[-1].id if len(entries) == AUDIT_PAGE else None)
