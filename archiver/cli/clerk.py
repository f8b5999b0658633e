"""`sunshine serve-clerk`: the clerk app (`clerk.create_clerk_app`) on a threaded WSGI server.

It runs on the archiver host (it writes the catalog); production: `gunicorn "clerk:create_clerk_app()"`
behind a TLS proxy (with werkzeug's ProxyFix, so the audit trail records the client's address).
"""

from __future__ import annotations

import click
from werkzeug.serving import make_server

from archiver.cli.options import config_option
from archiver.config import load_config


@click.command("serve-clerk")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on.")
def serve_clerk(config_path: str | None, host: str, port: int) -> None:
    """Serve the clerk pages (sign-in; requests, holds, redactions, packages, retention, audit trail).

    Accounts come from `sunshine users add`. Session cookies are Secure unless `[clerk]
    secure_cookies = false`: serve over HTTPS, or turn that off for a private plain-HTTP host.
    """
    from clerk import create_clerk_app

    app = create_clerk_app(load_config(config_path))
    server = make_server(host, port, app, threaded=True)
    click.echo(f"clerk pages on http://{host}:{server.server_port}/  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
