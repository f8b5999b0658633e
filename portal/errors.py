"""Error pages: every failure is a short page (or `{"error": …}` under /api) with the right status.

Never a traceback: unexpected exceptions are logged and answered with a plain 500. A backend that is
down is a 503 naming the part (details go to the log, not to the public). A bad query string is a
400 that says what is wrong, so a person can fix the URL.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from indexer.query import QueryError
from portal.backends import BackendDown
from portal.security import RateLimited

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request", 404: "Not found", 405: "Method not allowed", 429: "Too many requests",
    451: "Withheld for legal reasons",
    500: "Something went wrong", 503: "Temporarily unavailable",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if wants_json():
        response = jsonify({"error": message})
        response.status_code = status
    else:
        title = TITLES.get(status, "Error")
        body = render_template("error.html", status=status, title=title, message=message)
        response = current_app.response_class(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(BackendDown, _backend_down)
    app.register_error_handler(QueryError, _query_refused)
    app.register_error_handler(RateLimited, _rate_limited)
    app.register_error_handler(Exception, _unexpected)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = exc.description if status in (400, 404, 451) and exc.description else _default_message(status)
    headers = {}
    if status == 405:
        headers["Allow"] = ", ".join(getattr(exc, "valid_methods", None) or ("GET", "HEAD"))
    return error_response(status, message, headers)


def _default_message(status: int) -> str:
    return {
        400: "The request could not be understood.",
        404: "There is nothing at this address.",
        405: "This site is read-only: only GET and HEAD requests are accepted.",
    }.get(status, TITLES.get(status, "Error") + ".")


def _backend_down(exc: BackendDown) -> Response:
    log.error("503: %s", exc)
    return error_response(503, f"The {exc.part} is not answering right now. Please try again later.",
                          {"Retry-After": "30"})


def _query_refused(exc: QueryError) -> Response:
    """A search the index refused (over a limit or its time budget): the request's fault, a 400."""
    return error_response(400, str(exc) or "The search parameters are not valid.")


def _rate_limited(exc: RateLimited) -> Response:
    return error_response(429, f"Too many requests from your address. Please wait {exc.retry_after} "
                          "seconds and try again.", {"Retry-After": str(exc.retry_after)})


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(500, "Something went wrong on our side. It has been logged.")
