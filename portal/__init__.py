"""The public transparency portal (DESIGN §5): Flask + Jinja2, read-only.

`create_app(config)` builds everything; nothing is opened at import time, so
`gunicorn "portal:create_app()"` and the tests each get their own app. The portal reads only the
search read model (`indexer.SearchIndex`) and the object store, never the archiver's catalog, so
several portal hosts can serve one archive.

Blueprints, one explicit list: `public` (HTML pages and `/healthz`), `api` (`/api/v1/…`),
`ledger` (`/ledger/…`, the verify page and proofs), `proofs` (`/records/<id>/proof`, a record
version's C2SP tlog-proof) and `ops` (`/status`, `/metrics`). Clerk pages are a separate app and never served
here; the portal accepts no writes (`security.WRITABLE_BLUEPRINTS`).

Settings (Flask config keys; override with `settings=` or `SUNSHINE_PORTAL_<KEY>` variables):
`RATE_LIMIT_PER_MINUTE` (default 300, 0 turns the limiter off), `RATE_LIMIT_BURST` (default 60),
`TEXT_DISPLAY_LIMIT` (characters of a record's text shown inline before "show full text", default
20000). The site's own address for commands printed on its pages is the config's `[portal]
public_url`, never the request's Host header.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response

from archiver.config import PLATFORMS, Config, load_config
from archiver.model import KINDS, STATUSES
from archiver.store import ObjectStore
from indexer import SearchIndex
from indexer.query import MAX_ACCOUNT_CHARS, MAX_QUERY_CHARS

SITE_PLACEHOLDER = "https://THIS-SITE"  # in printed commands when `[portal] public_url` is not configured
DEFAULT_SETTINGS: dict[str, Any] = {
    "RATE_LIMIT_PER_MINUTE": 300,
    "RATE_LIMIT_BURST": 60,
    "TEXT_DISPLAY_LIMIT": 20_000,
}


def create_app(config: Config | str | Path | None = None, *, index: SearchIndex | None = None,
               store: ObjectStore | None = None, settings: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal for one archive.

    `config` is a parsed `Config`, or a path to `sunshine.toml`, or None for `$SUNSHINE_CONFIG` /
    `./sunshine.toml`. `index` and `store` default to the backends the config names, opened lazily on
    first use (so a backend that is down at boot gives 503 pages, not a dead process). `settings`
    overrides the Flask config (see the module docstring).
    """
    if not isinstance(config, Config):
        config = load_config(config)
    app = Flask(__name__)
    # Autoescape every template, whatever its file name.
    app.jinja_options = {**app.jinja_options, "autoescape": True}
    app.config.update(DEFAULT_SETTINGS)
    app.config.from_prefixed_env("SUNSHINE_PORTAL")
    if settings:
        app.config.update(settings)
    app.config["DEBUG"] = False  # never the interactive debugger: it runs code for anyone
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False
    app.response_class = PortalResponse

    from portal import backends, errors, i18n, security

    backends.init_app(app, config, index=index, store=store)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    _register_blueprints(app)
    _template_globals(app, config)
    logging.getLogger(__name__).debug("portal ready for %s", config.path)
    return app


class PortalResponse(Response):
    """A response whose text body survives lone surrogates (hostile payloads carry `\\ud800`).

    Such a string cannot be encoded as UTF-8; instead of a 500, the offending code point becomes "?".
    """

    def set_data(self, value: bytes | str) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8", "replace")
        super().set_data(value)


def _register_blueprints(app: Flask) -> None:
    from portal import accounts, api, changes, feeds, help, ledger, ops, proofs, public

    for module in (public, api, ledger, proofs, ops,
                   changes,
                   accounts,
                   feeds,
                   help):
        app.register_blueprint(module.bp)


def _template_globals(app: Flask, config: Config) -> None:
    from portal import presentation

    app.jinja_env.globals.update(department=config.department,
                                 platforms=PLATFORMS, kinds=KINDS, statuses=STATUSES,
                                 # the form's maxlengths are the server's limits
                                 max_query_chars=MAX_QUERY_CHARS, max_account_chars=MAX_ACCOUNT_CHARS,
                                 public_url=config.portal_public_url, site_placeholder=SITE_PLACEHOLDER)
    app.jinja_env.filters.update(presentation.FILTERS)
