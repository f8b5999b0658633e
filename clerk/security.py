"""Sessions, CSRF, sign-in and role checks, and response headers for every clerk page.

The session is Flask's signed cookie (`sunshine_clerk`): HttpOnly, SameSite=Strict, Secure unless
`[clerk] secure_cookies = false`, signed with a key kept in a file (`[clerk] secret_key_path`,
created with mode 0600 on first start, so every worker and restart shares it). It carries the user
name and the account's session epoch: a password reset or a disabled account ends it at once.
CSRF tokens come from Flask-WTF's `CSRFProtect` on every POST. Headers are the portal's strict
policy (no inline script or style, nothing from elsewhere, no framing), and no page is cached.
"""

from __future__ import annotations

import functools
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response

from archiver.config import Config
from archiver.errors import SunshineError
from archiver.users import User, session_user

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000; includeSubDomains"
OPEN_ENDPOINTS = frozenset({"auth.login", "auth.favicon", "static"})  # everything else needs a signed-in clerk
csrf = CSRFProtect()


def secret_key(path: Path) -> bytes:
    """The session-signing key from `path`, created (32 random bytes, mode 0600) if missing."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            return secret_key(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise SunshineError(f"[clerk] secret_key_path {path}: cannot be read ({exc.strerror})") from None
    if len(data) < 32:
        raise SunshineError(f"[clerk] secret_key_path {path}: holds {len(data)} bytes, expected at least 32")
    return data


def init_app(app: Flask, config: Config) -> None:
    app.config.update(
        SECRET_KEY=secret_key(config.clerk.secret_key_path),
        SESSION_COOKIE_NAME="sunshine_clerk",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=config.clerk.secure_cookies,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.clerk.session_hours),
        WTF_CSRF_TIME_LIMIT=config.clerk.session_hours * 3600,
    )
    csrf.init_app(app)
    app.before_request(require_sign_in)
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_refused)


def current_user() -> User | None:
    return g.get("user")


def require_sign_in() -> Response | None:
    """Load the session's user; anyone else goes to the sign-in page (a 401 for non-GET)."""
    from clerk.backends import catalog

    g.user = None
    name, epoch = session.get("user"), session.get("epoch")
    if isinstance(name, str) and isinstance(epoch, int):
        g.user = session_user(catalog(), name, epoch)
        if g.user is None:
            session.clear()
    if g.user is None and request.endpoint not in OPEN_ENDPOINTS:
        if request.method in ("GET", "HEAD"):
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        abort(401)
    return None


def requires(permission: str):
    """Refuse (403) a signed-in user whose role lacks `permission` (`archiver.users.PERMISSIONS`)."""

    def wrap(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            user = current_user()
            if user is None or not user.may(permission):
                abort(403, f"your role ({user.role if user else 'none'}) may not do this")
            return view(*args, **kwargs)

        return checked

    return wrap


def _csrf_refused(error: CSRFError):
    current_app.logger.warning("CSRF refused from %s: %s", request.remote_addr, error.description)
    return f"refused: {error.description} (reload the page and try again)", 400, {"Content-Type": "text/plain"}


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
