"""What the clerk pages read and write: the catalog (opened per request, closed in teardown), and
the store and search index (opened once, lazily, so a backend that is down gives an error page)."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app, g

from archiver.catalog import Catalog
from archiver.config import Config
from archiver.store import ObjectStore
from indexer import SearchIndex

_KEY = "sunshine.clerk"


def init_app(app: Flask, config: Config, *, index: SearchIndex | None, store: ObjectStore | None) -> None:
    app.extensions[_KEY] = {"config": config, "index": index, "store": store, "lock": threading.Lock()}
    app.teardown_appcontext(_close)


def _state() -> dict[str, Any]:
    return current_app.extensions[_KEY]


def config() -> Config:
    return _state()["config"]


def catalog() -> Catalog:
    if "catalog" not in g:
        g.catalog = Catalog(config().catalog_path)
    return g.catalog


def store() -> ObjectStore:
    state = _state()
    with state["lock"]:
        if state["store"] is None:
            from archiver.run import open_archive_store

            state["store"] = open_archive_store(state["config"])
        return state["store"]


def index() -> SearchIndex:
    state = _state()
    with state["lock"]:
        if state["index"] is None:
            from indexer import open_index

            state["index"] = open_index(state["config"].search)
        return state["index"]


def _close(_exc: BaseException | None) -> None:
    opened = g.pop("catalog", None)
    if opened is not None:
        opened.close()
