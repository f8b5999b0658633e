"""Redactions: redact a whole record, a span of its text or its media with a basis from the
configured list; list them; revert one (`archiver.redaction`; the index is updated at once)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from clerk import backends
from clerk.actions import action, audit, who
from clerk.security import requires

bp = Blueprint("redactions", __name__, url_prefix="/redactions")


@bp.route("/")
def index():
    catalog = backends.catalog()
    return render_template("redactions.html", items=catalog.redactions(include_removed=True))


@bp.route("/", methods=["POST"])
@requires("act")
@action("redactions.index")
def add():
    from archiver.redaction import redact

    form = request.form
    scope = form.get("scope", "text")
    target = (form.get("target") or "").strip() or None
    made = redact(backends.catalog(), backends.store(), (form.get("record_id") or "").strip(),
                  basis=form.get("basis", ""), by=who(), bases=backends.config().redaction_bases, scope=scope,
                  target=target, note=form.get("note", ""), index=backends.index())
    audit("redaction.add", {"redaction_id": made.redaction_id, "record_id": made.record_id, "scope": made.scope,
                            "basis": made.basis})
    flash(f"{made.record_id}: redacted ({made.scope}, {made.basis}) as {made.redaction_id}", "ok")
    back = form.get("back", "")
    return redirect(back if back.startswith("/") and not back.startswith("//") else url_for("redactions.index"))


@bp.route("/<redaction_id>/remove", methods=["POST"])
@requires("act")
@action("redactions.index")
def remove(redaction_id: str):
    from archiver.redaction import unredact

    removed = unredact(backends.catalog(), backends.store(), redaction_id, by=who(), index=backends.index())
    audit("redaction.remove", {"redaction_id": redaction_id, "record_id": removed.record_id})
    flash(f"{redaction_id}: reverted; {removed.record_id} shows as before", "ok")
    return redirect(url_for("redactions.index"))
