"""The two backends the portal reads: the search read model and the object store.

Each is opened once per app, lazily on first use, and shared by all request threads (the SQLite
index keeps a connection per thread; the S3 and Elasticsearch clients are thread-safe). Views reach
them through `index()` and `store()`, which return guarded proxies: a backend failure (a
`SunshineError`, an OS or connection error, a damaged SQLite file) becomes `BackendDown` naming the
part, which the error handlers turn into a 503 page. A missing object (`KeyError`) is not a failure
and passes through, so views can answer 404; nor is a search the index refuses (`QueryError`: too
big, too costly), which passes through to be a 400 naming the limit.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

from archiver.config import Config
from archiver.errors import SunshineError
from archiver.store import ObjectStore, open_store
from indexer import SearchIndex, open_index
from indexer.query import QueryError

log = logging.getLogger(__name__)

INDEX_PART = "search index"
STORE_PART = "object store"


class BackendDown(Exception):
    """A backend could not answer; `part` names it for the 503 page."""

    def __init__(self, part: str, detail: str) -> None:
        super().__init__(f"{part}: {detail}")
        self.part = part
        self.detail = detail


def _failure_types() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the backend is down or damaged", not "a bug in the portal"."""
    from botocore.exceptions import BotoCoreError, ClientError
    from elastic_transport import TransportError

    return (SunshineError, OSError, sqlite3.Error, ConnectionError, TransportError, BotoCoreError, ClientError)


class _Guarded:
    """Forwards method calls to a backend, turning backend failures into `BackendDown`."""

    def __init__(self, part: str, opener: Callable[[], Any], failures: tuple[type[BaseException], ...]):
        self._part = part
        self._opener = opener
        self._failures = failures
        self._target: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        if self._target is None:
            with self._lock:
                if self._target is None:
                    self._target = self._call(self._opener)
        return self._target

    def _call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (KeyError, QueryError):  # not there / the request's fault: never an outage
            raise
        except self._failures as exc:
            log.warning("%s unavailable: %s", self._part, exc)
            raise BackendDown(self._part, str(exc) or type(exc).__name__) from exc

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._get(), name)
        if not callable(attr):
            return attr

        def guarded(*args: Any, **kwargs: Any) -> Any:
            return self._call(attr, *args, **kwargs)

        return guarded


def init_app(app: Flask, config: Config, *, index: SearchIndex | None,
             store: ObjectStore | None) -> None:
    failures = _failure_types()
    index_opener = (lambda: index) if index is not None else (lambda: open_index(config.search))
    store_opener = (lambda: store) if store is not None else (lambda: open_store(config.storage))
    app.extensions["sunshine.index"] = _Guarded(INDEX_PART, index_opener, failures)
    app.extensions["sunshine.store"] = _Guarded(STORE_PART, store_opener, failures)
    app.extensions["sunshine.config"] = config


def index() -> SearchIndex:
    """The app's read model (guarded)."""
    return current_app.extensions["sunshine.index"]


def store() -> ObjectStore:
    """The app's object store (guarded)."""
    return current_app.extensions["sunshine.store"]
