"""Fixtures for spider tests: the real platform simulator, and crawls run in fresh interpreters.

Twisted's reactor cannot be restarted, so every crawl runs in its own `python` process
(`crawl_runner.py`) and hands back its pickled Captures and Scrapy stats.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archiver.config import SourceConfig
from archiver.model import Capture
from infra.simulator.server import SimulatorHandle, start_simulator
from infra.simulator.world import World

RUNNER = Path(__file__).with_name("crawl_runner.py")
REPO = Path(__file__).resolve().parents[2]
TOKEN_ENV = "SUNSHINE_TEST_SIM_TOKEN"
FAST_RETRIES = {"SUNSHINE_RETRY_BASE_DELAY": 0.01, "SUNSHINE_RETRY_MAX_DELAY": 0.05}


@dataclass
class CrawlResult:
    captures: list[Capture]
    stats: dict[str, Any]

    @property
    def records(self) -> list[Any]:
        return [record for capture in self.captures for record in capture.records]

    @property
    def errors(self) -> list[Capture]:
        return [capture for capture in self.captures if capture.error]


def source_for(sim: SimulatorHandle, platform: str, token_env: str | None = TOKEN_ENV) -> SourceConfig:
    """The source a department would configure for `platform` on this simulator (its profile says the
    account and whether a token is needed)."""
    profile = sim.world.profiles[platform]
    return SourceConfig(name=f"spd-{platform}", platform=platform, account=profile.account,
                        token_env=token_env if profile.token_required else None,
                        base_url=sim.api_base_url(platform))


def run_crawl(source: SourceConfig, *, known: frozenset[str] = frozenset(),
              skip_threads: frozenset[str] = frozenset(), settings: dict[str, Any] | None = None,
              token: str | None = "sim-token", timeout: float = 120) -> CrawlResult:
    """Crawl `source` with its spider in a fresh process and return what it yielded."""
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    if token is not None:
        env[TOKEN_ENV] = token
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as folder:
        job, out = Path(folder, "job.pkl"), Path(folder, "out.pkl")
        job.write_bytes(pickle.dumps({"source": source, "known": known, "skip_threads": skip_threads,
                                      "settings": {**FAST_RETRIES, **(settings or {})}}))
        done = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", str(RUNNER), str(job),
                               str(out)], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0 or not out.exists():
            raise AssertionError(f"crawl process failed ({done.returncode}):\n{done.stderr[-4000:]}")
        result = pickle.loads(out.read_bytes())
    return CrawlResult(result["captures"], result["stats"])


def has_department_reply(world: World, platform: str) -> bool:
    """The department answered someone on `platform` (or the platform carries no replies)."""
    return not world.profiles[platform].has_replies or any(
        n.platform == platform and n.parent is not None and n.is_department and not n.deleted for n in world.nodes)


def has_media(world: World, platform: str) -> bool:
    return any(n.platform == platform and n.images and not n.deleted for n in world.nodes)


def has_hidden(world: World, platform: str) -> bool:
    """A live hidden reply on `platform` (or the platform cannot hide replies)."""
    return not world.profiles[platform].hides_comments or any(
        n.platform == platform and n.hidden and not n.deleted for n in world.nodes)


def advance_until(sim: SimulatorHandle, wanted: Callable[[World], bool], what: str, steps: int = 40) -> None:
    """Advance `sim` (a week a step) until `wanted(sim.world)`.

    A test needs its case (a department reply, an image, a hidden comment) to exist; in a small world
    dealt over eight platforms a seed has it only by luck, so the test moves time on until it does.
    """
    for _ in range(steps):
        if wanted(sim.world):
            return
        sim.advance()
    assert wanted(sim.world), f"still no {what} after {steps} steps of seed {sim.world.seed}"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    """A world where every platform with replies has a department reply (the crawl tests check its kind)."""
    handle = start_simulator(seed=1, scale=500, port=0, token="sim-token", rate_limit_every=None)
    try:
        advance_until(handle, lambda world: all(has_department_reply(world, p) for p in world.platforms),
                      "department reply on every platform")
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimulatorHandle]]:
    """Start simulators with custom options; all are stopped at the end of the test."""
    started: list[SimulatorHandle] = []

    def make(**options: Any) -> SimulatorHandle:
        options = {"seed": 7, "scale": 300, "port": 0, "token": "sim-token", **options}
        handle = start_simulator(**options)
        started.append(handle)
        return handle

    try:
        yield make
    finally:
        for handle in started:
            handle.stop()
