"""Legal holds: list, place (by records or a search), release (`archiver.holds`)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from archiver.holds import list_holds, place_hold, release_hold
from clerk import backends
from clerk.actions import action, audit, log_event, who
from clerk.requests import criteria_from_form, matcher
from clerk.security import requires

bp = Blueprint("holds", __name__, url_prefix="/holds")


@bp.route("/")
def index():
    return render_template("holds.html", holds=list_holds(backends.catalog(), include_released=True))


@bp.route("/", methods=["POST"])
@requires("act")
@action("holds.index")
def place():
    criteria = criteria_from_form(request.form)
    placed = place_hold(backends.catalog(), backends.store(), request.form.get("reason", ""), who(), criteria,
                        text_matches=matcher(criteria), log_event=log_event)
    audit("hold.place", {"hold_id": placed.hold_id, "records": placed.record_count, "reason": placed.reason})
    flash(f"{placed.hold_id}: holding {placed.record_count} records", "ok")
    return redirect(url_for("holds.index"))


@bp.route("/<hold_id>/release", methods=["POST"])
@requires("act")
@action("holds.index")
def release(hold_id: str):
    released = release_hold(backends.catalog(), backends.store(), hold_id, who(), log_event=log_event)
    audit("hold.release", {"hold_id": hold_id, "records": released.record_count})
    flash(f"{hold_id}: released", "ok")
    return redirect(url_for("holds.index"))
