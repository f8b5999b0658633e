"""Fixtures for whole-system runs: the real `sunshine` CLI in child processes, the real simulator.

Nothing here reaches into the archiver's internals to build an archive: the demo archive is made by
`sunshine demo`, the other archives by `sunshine archive -c FILE` against a simulator started in this
process, exactly as a user would run them. Tests then look at the result through the same doors a
user or an auditor has: the CLI, the portal app, the catalog file, the store folder.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.cli.demo import write_simulator_config
from infra.simulator.world import World

REPO = Path(__file__).resolve().parents[2]
TOKEN_ENV = "SUNSHINE_E2E_FB_TOKEN"
SIM_TOKEN = "sim-token"  # the simulator's own token, not a secret of any real platform

DEMO_SEED = 3
DEMO_SCALE = 400
DEMO_STEPS = 2


def sunshine(*args: str, timeout: float = 180, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m archiver.cli ARGS…` from the repo root and capture its output as text."""
    full_env = dict(os.environ, **{TOKEN_ENV: SIM_TOKEN}, **(env or {}))
    full_env.pop("SUNSHINE_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def sunshine_popen(*args: str) -> subprocess.Popen:
    env = dict(os.environ, **{TOKEN_ENV: SIM_TOKEN})
    env.pop("SUNSHINE_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "archiver.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def write_config(data_dir: Path, sim_base_url: str) -> Path:
    """A `sunshine.toml` (DESIGN §4) for an archive in `data_dir` of the simulator at `sim_base_url`."""
    return write_simulator_config(data_dir / "sunshine.toml", sim_base_url, token_env=TOKEN_ENV,
                                  tables={"ledger": {"name": "springfield.example/e2e"}})


def catalog_query(data_dir: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the catalog file read-only (the archiver may be writing it: WAL lets us read)."""
    db = sqlite3.connect(f"file:{data_dir / 'catalog.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


@dataclass(frozen=True)
class DemoArchive:
    """What `sunshine demo` left behind, and the simulator's ground truth for the same seed."""

    data_dir: Path
    config: Path
    result: subprocess.CompletedProcess
    world: World  # the simulated department after the same number of steps


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> DemoArchive:
    """`sunshine demo --data DIR --scale 400 --steps 2 --seed 3`, run once for the session."""
    data_dir = tmp_path_factory.mktemp("demo") / "archive"
    result = sunshine("demo", "--data", str(data_dir), "--scale", str(DEMO_SCALE), "--steps", str(DEMO_STEPS),
                      "--seed", str(DEMO_SEED))
    assert result.returncode == 0, f"sunshine demo failed:\n{result.stdout}\n{result.stderr}"
    world = World(DEMO_SEED, DEMO_SCALE)
    for _ in range(DEMO_STEPS - 1):
        world.advance()
    return DemoArchive(data_dir, data_dir / "sunshine.toml", result, world)


@pytest.fixture()
def demo_copy(demo_archive: DemoArchive, tmp_path: Path) -> Path:
    """A private copy of the demo archive folder (its config uses relative paths), for tests that damage it."""
    target = tmp_path / "archive"
    shutil.copytree(demo_archive.data_dir, target)
    return target


@pytest.fixture(scope="session")
def demo_app(demo_archive: DemoArchive):
    """The portal over the demo archive (rate limiter off: tests make many requests)."""
    from portal import create_app

    app = create_app(demo_archive.config, settings={"RATE_LIMIT_PER_MINUTE": 0})
    app.testing = True
    return app


@pytest.fixture()
def client(demo_app):
    return demo_app.test_client()


@pytest.fixture()
def simulator() -> Iterator:
    """A fresh in-process simulator (seed 11, about 300 records), stopped after the test."""
    from infra.simulator import start_simulator

    sim = start_simulator(seed=11, scale=300, port=0, token=SIM_TOKEN)
    try:
        yield sim
    finally:
        sim.stop()
