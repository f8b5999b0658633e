"""Serving the portal from the CLI (a threaded WSGI server; production uses gunicorn)."""

from __future__ import annotations

import click
from werkzeug.serving import make_server

from archiver.config import Config


def serve_portal(config: Config, host: str, port: int) -> None:
    from portal import create_app

    app = create_app(config)
    server = make_server(host, port, app, threaded=True)
    click.echo(f"portal on http://{host}:{server.server_port}/  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
