"""Retention: the schedules in force, dry runs (any clerk) and their approval by a records manager,
which disposes of exactly the dry run's list (`archiver.approvals`)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from archiver import approvals
from clerk import backends
from clerk.actions import action, client, log_event, who
from clerk.security import requires

bp = Blueprint("retention", __name__, url_prefix="/retention")


@bp.route("/")
def index():
    storage = backends.config().storage
    return render_template("retention.html", approvals=backends.catalog().approvals(), storage=storage)


@bp.route("/<approval_id>")
def view(approval_id: str):
    found = backends.catalog().approval(approval_id)
    if found is None:
        return render_template("message.html", title="No such disposition run",
                               message=f"no disposition run {approval_id!r}"), 404
    return render_template("approval.html", approval=found)


@bp.route("/dry-run", methods=["POST"])
@requires("act")
@action("retention.index")
def dry_run():
    made = approvals.propose(backends.catalog(), backends.config().storage, who(), client=client())
    flash(f"dry run {made.approval_id}: {len(made.due)} records due; a records manager may approve it", "ok")
    return redirect(url_for("retention.view", approval_id=made.approval_id))


@bp.route("/<approval_id>/approve", methods=["POST"])
@requires("approve-disposition")
@action("retention.index")
def approve(approval_id: str):
    from archiver.disposition import awaiting_index_removal, index_removed

    catalog = backends.catalog()
    report = approvals.approve(catalog, backends.store(), backends.config().storage, approval_id, who(),
                               client=client(), log_event=log_event)
    awaiting = awaiting_index_removal(catalog)  # disposed records leave the public search at once
    if awaiting:
        backends.index().delete([record_id for ids in awaiting.values() for record_id in ids])
        index_removed(catalog, list(awaiting))
    flash(f"disposed of {len(report.disposed)} records" + (f"; refused {len(report.refused)}" if report.refused else "")
          + (f"; certificate {', '.join(report.certificates)}" if report.certificates else ""),
          "error" if report.refused or report.interrupted else "ok")
    return redirect(url_for("retention.view", approval_id=approval_id))


@bp.route("/<approval_id>/reject", methods=["POST"])
@requires("approve-disposition")
@action("retention.index")
def reject(approval_id: str):
    approvals.reject(backends.catalog(), approval_id, who(), client=client())
    flash(f"dry run {approval_id} rejected; nothing disposed", "ok")
    return redirect(url_for("retention.view", approval_id=approval_id))
