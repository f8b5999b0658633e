"""The portal's public pages served by a real HTTP server, for the layout and accessibility tests.

One standard archive (tests/portal/conftest.py `build_standard`) behind `werkzeug`'s threaded server on
127.0.0.1; `PAGES` names every kind of HTML page a resident can reach, by a path into that archive.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

from archiver.config import load_config
from portal import create_app
from tests.portal.conftest import ArchiveBuilder, build_standard, open_sqlite_index, write_config

# name -> path; names become screenshot file names
PAGES: dict[str, str] = {
    "home": "/",
    "search": "/search",
    "search-results": "/search?q=parade",
    "record": "/records/bluesky-3kparade",
    "record-deleted": "/records/bluesky-3kreply2",
    "record-media": "/records/mastodon-109876",
    "account": "/accounts/bluesky/spd",
    "changes": "/changes",
    "verify": "/verify",
    "help": "/help/search",
    "status": "/status",
    "not-found": "/records/no-such-record",
}


@contextmanager
def serve_standard_archive(root: Path) -> Iterator[str]:
    """Build the standard archive in `root`, serve its portal, and yield the base URL."""
    builder = ArchiveBuilder(root)
    build_standard(builder)
    builder.finish()
    index = open_sqlite_index(root / "search.sqlite")
    index.rebuild(builder.docs)
    index.close()
    app = create_app(load_config(write_config(root)), settings={"RATE_LIMIT_PER_MINUTE": 0})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
