"""Session fixtures for the real services (SERVICES.md): started once, stopped at the end.

If the test command already started a server (its variables are in the environment), the tests use
it; otherwise the fixture starts it through the same `infra` launcher and stops it afterwards. A
server that cannot be had fails the tests that need it, with the reason: never a silent skip.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

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


GO_VERIFIER_DIR = Path(__file__).resolve().parent / "go"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def ledgerverify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/go (Go's sumdb note/tlog: an independent ledger verifier) built once per session."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go toolchain is needed to build tests/go (install Go 1.22+)", pytrace=False)
    binary = tmp_path_factory.mktemp("go") / "ledgerverify"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    result = subprocess.run([go, "build", "-o", str(binary), "."], cwd=GO_VERIFIER_DIR, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return binary


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (infra/test-all does)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def witness(tmp_path_factory: pytest.TempPathFactory):
    """A real litewitness (C2SP tlog-witness, filippo.io/torchwood) on 127.0.0.1 with a key made here;
    built through the Go module proxy on first use. Tests register their own log origins with it."""
    from infra import witness_server

    try:
        instance = witness_server.launch(tmp_path_factory.mktemp("witness"))
    except Exception as exc:  # noqa: BLE001 - turned into a test failure with the reason
        pytest.fail(f"litewitness could not be started: {exc}", pytrace=False)
    try:
        yield instance
    finally:
        witness_server.terminate(instance, remove_data=False)
