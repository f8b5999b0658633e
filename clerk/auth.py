"""Sign-in and sign-out. A failed sign-in says only that it failed (`archiver.users.LoginRefused`);
the audit trail keeps why, and from which address."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for

from archiver.users import LoginRefused, authenticate, record_action
from clerk import backends
from clerk.security import current_user

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never `//evil.example` or a full URL): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("pages.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_user() is not None:
            return redirect(url_for("pages.home"))
        return render_template("login.html", next=request.args.get("next", ""), error=None)
    username = request.form.get("username", "").strip().lower()
    password = request.form.get("password", "")
    try:
        user = authenticate(backends.catalog(), username, password, request.remote_addr)
    except LoginRefused as exc:
        return render_template("login.html", next=request.form.get("next", ""), error=str(exc),
                               username=username), 401
    session.clear()  # a new session on sign-in: nothing from before it carries over (no fixation)
    session.permanent = True
    session["user"], session["epoch"] = user.username, user.session_epoch
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    user = current_user()
    if user is not None:
        catalog = backends.catalog()
        with catalog.transaction() as tx:
            record_action(catalog, tx, user.username, "logout", {}, client=request.remote_addr, ledger=False)
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/favicon.ico")
def favicon():
    """No icon, and no sign-in page for the browser's own request of one."""
    return "", 204
