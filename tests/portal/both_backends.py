"""A `client` fixture for the browse tests that runs them on both search backends.

Bind it in a test module (`client = both_backends.client`) to replace the
SQLite-only `client` of conftest.py: each test then runs against the standard archive indexed in
SQLite and in Elasticsearch (marked `elasticsearch`, needing the real node of the `es_url` fixture).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from archiver.config import load_config
from tests.portal.conftest import Archive


@pytest.fixture(scope="module", params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def client(request: pytest.FixtureRequest, archive: Archive) -> Iterator[object]:
    from portal import create_app

    index = None
    if request.param == "elasticsearch":
        from indexer.elastic import ElasticIndex

        index = ElasticIndex(request.getfixturevalue("es_url"), f"test-browse-{uuid.uuid4().hex[:10]}")
        index.rebuild(archive.builder.docs)
    app = create_app(load_config(archive.config_path), index=index, settings={"RATE_LIMIT_PER_MINUTE": 0})
    yield app.test_client()
    if index is not None:
        index.close()
