"""The `backend` fixture every search contract test runs against: SQLite FTS5 and Elasticsearch.

`backend` hands out fresh, empty indexes of one kind (`backend.new_index()`); `corpus_index` is one
index per backend holding `corpus.build_corpus()`, built once per module for the read-only tests.
Select one backend with `-k sqlite` or `-k elasticsearch` (or `-m elasticsearch`); the Elasticsearch
runs need the real node from the session `es_url` fixture and fail, never skip, without it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer import SearchIndex
from tests.indexer.corpus import build_corpus

BACKENDS = ["sqlite", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]


class Backend:
    """Makes fresh indexes of one kind and closes them all at the end."""

    def __init__(self, name: str, request: pytest.FixtureRequest, folder: Path) -> None:
        self.name = name
        self._request = request
        self._folder = folder
        self._opened: list[SearchIndex] = []

    def new_index(self) -> SearchIndex:
        if self.name == "sqlite":
            from indexer.sqlite_fts import SqliteIndex

            index: SearchIndex = SqliteIndex(self._folder / f"{uuid.uuid4().hex[:8]}" / "search.sqlite")
        else:
            from indexer.elastic import ElasticIndex

            es_url = self._request.getfixturevalue("es_url")
            index = ElasticIndex(es_url, f"test-contract-{uuid.uuid4().hex[:10]}")
        self._opened.append(index)
        return index

    def close(self) -> None:
        for index in self._opened:
            index.close()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    made = Backend(request.param, request, tmp_path_factory.mktemp(f"index-{request.param}"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def corpus_index(backend: Backend) -> SearchIndex:
    index = backend.new_index()
    assert index.upsert(build_corpus()) == len(build_corpus())
    return index
