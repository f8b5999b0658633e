"""What every clerk action shares: who and from where, the audit row, publishing the ledger, and
turning a `SunshineError` into a message on the next page instead of an error page."""

from __future__ import annotations

import functools
from typing import Any

from flask import flash, redirect, request

from archiver.errors import SunshineError
from archiver.ledger_events import append_event
from archiver.publish import LedgerPublisher
from archiver.users import record_action
from clerk import backends
from clerk.security import current_user

log_event = append_event  # core functions log their own ledger events through this hook


def who() -> str:
    user = current_user()
    assert user is not None  # every action view is behind require_sign_in
    return user.username


def client() -> str | None:
    """The client address (behind a proxy, deploy with werkzeug's ProxyFix so this is the client)."""
    return request.remote_addr


def audit(action: str, details: dict[str, Any], *, ledger: bool = False) -> None:
    """The audit row (who, what, when, from where) of an action; with `ledger`, also a `clerk`
    ledger event, for actions whose core function logs none of its own."""
    catalog = backends.catalog()
    with catalog.transaction() as tx:
        record_action(catalog, tx, who(), action, details, client=client(), ledger=ledger)


def publish() -> None:
    """Publish the events just logged and sign a checkpoint, so the public log shows them at once."""
    catalog = backends.catalog()
    if catalog.unpublished_ledger()[1]:
        LedgerPublisher(catalog, backends.store(), backends.config()).checkpoint()


def action(fallback_endpoint: str):
    """A POST view that redirects: a `SunshineError` becomes a flashed error and a redirect back to
    the page the form was on (or `fallback_endpoint`); the ledger is published either way."""

    def wrap(view):
        @functools.wraps(view)
        def run(*args, **kwargs):
            from flask import url_for

            try:
                return view(*args, **kwargs)
            except SunshineError as exc:
                flash(str(exc), "error")
                back = request.form.get("back", "")
                return redirect(back if back.startswith("/") and not back.startswith("//")
                                else url_for(fallback_endpoint))
            finally:
                try:
                    publish()
                except SunshineError as exc:
                    flash(f"logged, but the ledger could not be published yet: {exc}", "error")

        return run

    return wrap
