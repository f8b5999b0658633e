"""Response packages: export a request's records (`archiver.export`), list and download them.

Packages are kept in `PACKAGES_DIR` (default `<archive>/packages`) as `<request>-<time>.zip`; a
download serves only a name that folder lists (never a path from the request)."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for

from clerk import backends
from clerk.actions import action, audit, log_event, publish, who
from clerk.security import requires

bp = Blueprint("packages", __name__, url_prefix="/packages")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.zip$")


def folder() -> Path:
    return Path(current_app.config["PACKAGES_DIR"])


def packages_of(number: str | None = None) -> list[Path]:
    """Kept packages, newest first (of one request, if given)."""
    if not folder().is_dir():
        return []
    found = [path for path in folder().iterdir() if _NAME.match(path.name)
             and (number is None or path.name.startswith(f"{number}-"))]
    return sorted(found, key=lambda path: path.name, reverse=True)


@bp.route("/")
def index():
    return render_template("packages.html", packages=packages_of())


@bp.route("/", methods=["POST"])
@requires("act")
@action("packages.index")
def export():
    from archiver.clock import utc_now
    from archiver.export import export_package, package_redactions
    from archiver.export.package import record_export
    from archiver.requests import get_request, request_record_ids

    catalog, store = backends.catalog(), backends.store()
    number = (request.form.get("request") or "").strip()
    found = get_request(catalog, number)
    ids = request_record_ids(catalog, number)
    publish()  # every version proven against one signed checkpoint
    folder().mkdir(parents=True, exist_ok=True)
    out = folder() / f"{number}-{utc_now().replace(':', '').replace('-', '')}.zip"
    result = export_package(catalog, store, out, ids, redactions=package_redactions(catalog, ids),
                            exported_by=who(), request=found)
    record_export(catalog, result, found, who(), log_event=log_event)
    audit("package.export", {"request": number, "file": out.name, "records": result.records,
                             "withheld": result.withheld})
    flash(f"package {out.name}: {result.records} records, {result.proofs} proofs"
          + (f", {result.withheld} items withheld" if result.withheld else ""), "ok")
    return redirect(url_for("requests.view", number=number))


@bp.route("/<name>")
def download(name: str):
    if not _NAME.match(name) or not (folder() / name).is_file():
        abort(404)
    audit("package.download", {"file": name})
    return send_file(folder() / name, mimetype="application/zip", as_attachment=True, download_name=name)
