"""Fixtures for the clerk app: one real archive (the simulator archived by `sunshine archive` in a
child process) per session, copied for each test that changes it; accounts made with the core
functions `sunshine users add` calls; the app driven in-process over HTTP."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.catalog import Catalog
from archiver.cli.demo import write_simulator_config
from archiver.config import Config, load_config
from archiver.users import add_user

REPO = Path(__file__).resolve().parents[2]
TOKEN_ENV = "SUNSHINE_CLERK_TEST_TOKEN"
SIM_TOKEN = "sim-token"  # the simulator's own token, not a secret
PASSWORD = "correct horse battery staple"
ACCOUNTS = {"clara": "clerk", "manny": "records-manager", "audrey": "auditor"}


def sunshine(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, **{TOKEN_ENV: SIM_TOKEN})
    env.pop("SUNSHINE_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=False, input=stdin)


def write_archive_config(path: Path, sim_base_url: str) -> Path:
    tables = {"storage": {"backend": "local", "path": "store", "retention_days": 3650,
                          "retention": [{"platform": "facebook", "kind": "reply", "days": 2}]},
              "clerk": {"secure_cookies": False}, "ledger": {"name": "springfield.example/clerk-tests"}}
    return write_simulator_config(path, sim_base_url, token_env=TOKEN_ENV, tables=tables)


@pytest.fixture(scope="session")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real archive of a small simulated department, with one account per role."""
    from infra.simulator import start_simulator

    data_dir = tmp_path_factory.mktemp("clerk") / "archive"
    data_dir.mkdir()
    with start_simulator(seed=4, scale=150, port=0, token=SIM_TOKEN) as sim:
        write_archive_config(data_dir / "sunshine.toml", sim.base_url)
        result = sunshine("archive", "-c", str(data_dir / "sunshine.toml"), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    with Catalog(load_config(data_dir / "sunshine.toml").catalog_path) as catalog:
        for name, role in ACCOUNTS.items():
            add_user(catalog, name, role, PASSWORD, "test-setup")
    return data_dir


@dataclass
class ClerkArchive:
    config: Config
    app: object

    def catalog(self) -> Catalog:
        return Catalog(self.config.catalog_path)


@pytest.fixture
def clerk_archive(archived: Path, tmp_path: Path) -> Iterator[ClerkArchive]:
    from clerk import create_clerk_app

    data_dir = tmp_path / "archive"
    shutil.copytree(archived, data_dir)
    config = load_config(data_dir / "sunshine.toml")
    app = create_clerk_app(config)
    yield ClerkArchive(config, app)


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client, username: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(page.get_data(as_text=True))})


@pytest.fixture
def signed_in(clerk_archive: ClerkArchive):
    """A test client signed in as `name` (a role's account), and a CSRF token for its forms."""

    def client_for(name: str = "clara"):
        client = clerk_archive.app.test_client()
        response = sign_in(client, name)
        assert response.status_code == 302, response.get_data(as_text=True)
        token = csrf_token(client.get("/").get_data(as_text=True))
        return client, token

    return client_for
