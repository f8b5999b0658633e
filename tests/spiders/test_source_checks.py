"""A source that cannot work is refused by `sunshine archive` before any network call: one line each
for a platform with no spider, a missing token variable and a malformed account."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tomli_w

from archiver.cli.demo import simulator_sources
from archiver.cli.wiring import source_problems
from archiver.config import PLATFORMS as CONFIG_PLATFORMS
from archiver.config import parse_config
from infra.simulator import PROFILES, start_simulator
from spiders.registry import PLATFORMS

REPO = Path(__file__).resolve().parents[2]
UNSET = "SUNSHINE_TEST_UNSET_TOKEN"


# `sunshine` as installed, but with one platform taken out of the spider registry first: a platform the
# config accepts that has no spider (yet), as each one was before its spider was written.
WITHOUT_SPIDER = """
import sys
from spiders.registry import PLATFORMS
del PLATFORMS[sys.argv.pop(1)]
from archiver.cli import main
main(prog_name="sunshine")
"""


def _sunshine(*args: str, unregister: str | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in (UNSET, "SUNSHINE_CONFIG")}
    command = ["-m", "archiver.cli"] if unregister is None else ["-c", WITHOUT_SPIDER, unregister]
    return subprocess.run([sys.executable, *command, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_archive_refuses_unusable_sources_one_line_each_before_any_request(tmp_path: Path) -> None:
    unregistered = sorted(set(PLATFORMS) - {"bluesky", "facebook"})[-1]  # any the config accepts
    assert unregistered in CONFIG_PLATFORMS
    with start_simulator(seed=1, scale=50) as sim:
        sources = [
            {"name": "ok", "platform": "bluesky", "account": "springfieldpd.bsky.social",
             "base_url": sim.api_base_url("bluesky")},
            {"name": "no-spider", "platform": unregistered, "account": "spd", "base_url": sim.base_url},
            {"name": "unset-token", "platform": "facebook", "account": "104712345678901", "token_env": UNSET,
             "base_url": sim.api_base_url("facebook")},
            {"name": "no-token-env", "platform": "facebook", "account": "104712345678901",
             "base_url": sim.api_base_url("facebook")},
            {"name": "bad-handle", "platform": "bluesky", "account": "not a handle!",
             "base_url": sim.api_base_url("bluesky")},
        ]
        config = tmp_path / "sunshine.toml"
        config.write_text(tomli_w.dumps({"sources": sources}), encoding="utf-8")
        done = _sunshine("archive", "-c", str(config), "--quiet", unregister=unregistered)
        assert sum(sim.app.requests.values()) == 0  # refused before any network call
    assert done.returncode != 0
    lines = done.stderr.strip().removeprefix("error: ").splitlines()
    assert len(lines) == 4, done.stderr
    assert all(line.startswith(f"{config}: sources[") for line in lines)
    no_spider, unset, no_env, bad = lines
    assert "sources[1].platform" in no_spider and f"no spider for platform {unregistered!r}" in no_spider
    assert "sources[2].token_env" in unset and f"environment variable {UNSET} is not set" in unset
    assert "sources[3].token_env" in no_env and "Page access token" in no_env
    assert "sources[4].account" in bad and "Bluesky handle" in bad and "'not a handle!'" in bad
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "catalog.sqlite").exists()


def test_account_patterns_accept_real_ids_and_refuse_others() -> None:
    bluesky, facebook = PLATFORMS["bluesky"], PLATFORMS["facebook"]
    for good in ("springfieldpd.bsky.social", "police.springfield.gov", "did:plc:yumiukgxyrpiibiberkhffpx"):
        assert bluesky.account_problem(good) is None, good
    for bad in ("", "springfieldpd", "@springfieldpd.bsky.social", "https://bsky.app/profile/x.bsky.social"):
        assert bluesky.account_problem(bad) is not None, bad
    assert facebook.account_problem("104712345678901") is None
    for bad in ("springfieldpd", "104712345678901_1", ""):
        assert facebook.account_problem(bad) is not None, bad


def test_demo_sources_are_one_per_profile_and_pass_the_checks(tmp_path: Path) -> None:
    sources = simulator_sources("http://127.0.0.1:1", token_env="DEMO_TOKEN")
    assert [source["platform"] for source in sources] == list(PROFILES)
    config = parse_config({"sources": sources}, tmp_path / "sunshine.toml")
    assert source_problems(config, environ={"DEMO_TOKEN": "t"}) == []
    assert len(source_problems(config, environ={})) == sum(p.token_required for p in PROFILES.values())


def test_every_profile_has_a_spider_and_the_same_account_shape() -> None:
    assert set(PROFILES) == set(PLATFORMS)
    for name, profile in PROFILES.items():
        assert PLATFORMS[name].account_problem(profile.account) is None
        assert PLATFORMS[name].token_required == profile.token_required
