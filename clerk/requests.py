"""Records requests: list, new (from a search), view (its records, redaction and export), close
(`archiver.requests`: saving places a "pending request" hold, closing releases it)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from archiver.errors import SunshineError
from archiver.holds import HoldCriteria
from clerk import backends
from clerk.actions import action, audit, log_event, who
from clerk.security import requires
from indexer.matching import hold_text_matcher

bp = Blueprint("requests", __name__, url_prefix="/requests")
SHOWN_RECORDS = 500


def criteria_from_form(form) -> HoldCriteria:
    """A search as a hold's criteria, from a form's q, platform, account, from, to, record fields."""
    def field(name: str) -> str | None:
        return (form.get(name) or "").strip() or None

    records = tuple(part for part in (form.get("records") or "").split() if part)
    return HoldCriteria(records, field("q"), field("platform"), field("account"), field("from"), field("to"),
                        with_threads=form.get("threads", "1") == "1")


def matcher(criteria: HoldCriteria):
    return hold_text_matcher(backends.index()) if criteria.text else None


@bp.route("/")
def index():
    from archiver.requests import list_requests

    return render_template("requests.html", requests=list_requests(backends.catalog(), include_closed=True))


@bp.route("/new")
def new():
    return render_template("request_new.html", args=request.args)


@bp.route("/", methods=["POST"])
@requires("act")
@action("requests.new")
def save():
    from archiver.requests import save_request

    criteria = criteria_from_form(request.form)
    saved = save_request(backends.catalog(), backends.store(), request.form.get("number", "").strip(),
                         request.form.get("description", ""), request.form.get("received", "").strip(),
                         request.form.get("due", "").strip() or None, [criteria], who(),
                         text_matches=matcher(criteria), log_event=log_event)
    audit("request.save", {"number": saved.number, "hold_id": saved.hold_id, "records": saved.record_count})
    flash(f"request {saved.number} saved: {saved.record_count} records held ({saved.hold_id})", "ok")
    return redirect(url_for("requests.view", number=saved.number))


@bp.route("/<number>")
def view(number: str):
    from archiver.requests import get_request, request_record_ids

    catalog = backends.catalog()
    try:
        found = get_request(catalog, number)
    except SunshineError as exc:
        return render_template("message.html", title="No such request", message=str(exc)), 404
    ids = request_record_ids(catalog, number)
    rows = sorted(catalog.record_rows(ids[:SHOWN_RECORDS]), key=lambda r: (r["thread_id"], r["created_at"]))
    redactions = {}
    for item in catalog.redactions(ids):
        redactions.setdefault(item.record_id, []).append(item)
    from clerk.packages import packages_of

    return render_template("request.html", request_=found, rows=rows, total=len(ids), redactions=redactions,
                           packages=packages_of(number))


@bp.route("/<number>/close", methods=["POST"])
@requires("act")
@action("requests.index")
def close(number: str):
    from archiver.requests import close_request

    closed = close_request(backends.catalog(), backends.store(), number, who(), log_event=log_event)
    audit("request.close", {"number": number, "hold_id": closed.hold_id})
    flash(f"request {number} closed; its hold {closed.hold_id} released", "ok")
    return redirect(url_for("requests.view", number=number))

