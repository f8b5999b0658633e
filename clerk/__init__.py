"""The clerk app (DESIGN §5): records clerks answer public-records requests, behind a sign-in.

A separate Flask app from the public portal (`portal.create_app`), so portal hosts never serve a
clerk page: `create_clerk_app(config)` runs on the archiver host, because it reads and writes the
catalog (`gunicorn "clerk:create_clerk_app()"`, or `sunshine serve-clerk`).

Areas, one blueprint each: `auth` (sign-in, sign-out), `pages` (home, search with every filter, the
audit trail), `requests` (records requests: list, new, view, close, export), `holds` (list, place,
release), `redactions` (redact a record, a span or media with a configured basis; list; revert),
`packages` (response packages: export, download) and `retention` (dry runs, a records manager's
approval). Every page refuses anyone not signed in (`security.require_sign_in`); every POST needs a
valid CSRF token (Flask-WTF); roles are checked per action (`security.requires`). Every clerk action
is in the audit trail with the client address and in the ledger (`archiver.users.record_action`;
requests, holds, redactions, exports and disposals log their own ledger events).

Settings (Flask config; override with `settings=` or `SUNSHINE_CLERK_<KEY>` variables):
`PACKAGES_DIR` (where exported packages are kept, default `<archive>/packages`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from archiver.config import PLATFORMS, Config, load_config
from archiver.model import KINDS, STATUSES
from archiver.store import ObjectStore
from indexer import SearchIndex


def create_clerk_app(config: Config | str | Path | None = None, *, index: SearchIndex | None = None,
                     store: ObjectStore | None = None, settings: Mapping[str, Any] | None = None) -> Flask:
    """Build the clerk app for one archive (`config` as for `portal.create_app`)."""
    if not isinstance(config, Config):
        config = load_config(config)
    app = Flask(__name__)
    app.jinja_options = {**app.jinja_options, "autoescape": True}
    app.config["PACKAGES_DIR"] = str(config.base_dir / "packages")
    app.config.from_prefixed_env("SUNSHINE_CLERK")
    if settings:
        app.config.update(settings)
    app.config["DEBUG"] = False  # never the interactive debugger: it runs code for anyone

    from clerk import auth, backends, holds, packages, pages, redactions, requests, retention, security

    backends.init_app(app, config, index=index, store=store)
    security.init_app(app, config)
    for module in (auth, pages, requests, holds, redactions, packages, retention):
        app.register_blueprint(module.bp)
    app.jinja_env.globals.update(department=config.department, platforms=PLATFORMS, kinds=KINDS,
                                 statuses=STATUSES, redaction_bases=config.redaction_bases)
    return app
