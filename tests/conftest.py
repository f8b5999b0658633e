"""Session fixtures for the real services (SERVICES.md): started once, stopped at the end.

If the test command already started a server (its variables are in the environment), the tests use
it; otherwise the fixture starts it through the same `infra` launcher and stops it afterwards. A
server that cannot be had fails the tests that need it, with the reason: never a silent skip.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

import pytest


def _service(name: str, module_name: str, marker_var: str) -> Iterator[dict[str, str]]:
    if os.environ.get(marker_var):
        keys = ("SUNSHINE_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SUNSHINE_ES_URL")
        yield {key: os.environ[key] for key in keys if key in os.environ}
        return
    module = importlib.import_module(module_name)
    was_running = module.status() is not None
    try:
        env = module.start()
    except Exception as exc:  # noqa: BLE001 - turned into a test failure with the reason
        pytest.fail(f"{name} could not be started: {exc}", pytrace=False)
    try:
        yield env
    finally:
        if not was_running:
            module.stop()


@pytest.fixture(scope="session")
def minio_env() -> Iterator[dict[str, str]]:
    """SUNSHINE_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY of a real MinIO server."""
    yield from _service("MinIO", "infra.minio_server", "SUNSHINE_S3_ENDPOINT")


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """The URL of a real single-node Elasticsearch."""
    for env in _service("Elasticsearch", "infra.es_server", "SUNSHINE_ES_URL"):
        yield env["SUNSHINE_ES_URL"]
