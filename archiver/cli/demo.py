"""`sunshine demo`: a simulated department archived end to end on the configured backends.

The platform simulator runs in this process; each round is a real `sunshine archive` run in a
child process against `DIR/sunshine.toml` (exactly what a user would run), and simulated time
advances between rounds so new posts and replies arrive and some are edited, hidden or deleted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from archiver.catalog import Catalog
from archiver.cli.wiring import check_sources
from archiver.config import Config, load_config
from archiver.errors import SunshineError

TOKEN_ENV = "SUNSHINE_DEMO_FB_TOKEN"
DEMO_TOKEN = "sim-token"  # the simulator's own token, not a secret of any real platform


def simulator_sources(sim_base_url: str, token_env: str = TOKEN_ENV,
                      platforms: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    """The `[[sources]]` of the simulated department served at `sim_base_url`: one per profile in the
    simulator's table (or of `platforms`, for a simulator restricted to them), so a new profile joins
    the demo; `token_env` for every platform that needs or accepts one (an optional token can lift
    limits that would otherwise leave replies out)."""
    from infra.simulator.profiles import PROFILES

    sources = []
    for name, profile in PROFILES.items():
        if platforms is not None and name not in platforms:
            continue
        source = {"name": f"spd-{name}", "platform": name, "account": profile.account,
                  "base_url": f"{sim_base_url}{profile.api_path}"}
        if profile.token_required or profile.token_accepted:
            source["token_env"] = token_env
        sources.append(source)
    return sources


def simulator_config(sim_base_url: str, *, token_env: str = TOKEN_ENV, tables: dict[str, Any] | None = None,
                     platforms: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A whole config for archiving the simulator: embedded backends unless `tables` says otherwise."""
    from infra.simulator.text import DEPARTMENT_NAME

    data: dict[str, Any] = {
        "department": {"name": DEPARTMENT_NAME},
        "ledger": {"name": "springfield.example/sunshine-demo"},
        "storage": {"backend": "local", "path": "store"},
        "search": {"backend": "sqlite", "path": "search.sqlite"},
        # Each round jumps a simulated week, seconds apart: the rotating revisit of older threads
        # (paced by the run clock) would never come round, so the demo's window spans its whole
        # history and every round re-sweeps everything, showing each edit and deletion.
        "archive": {"recent_days": 3650},
    }
    data.update(tables or {})
    data["sources"] = simulator_sources(sim_base_url, token_env, platforms)
    return data


def write_simulator_config(path: Path, sim_base_url: str, *, token_env: str = TOKEN_ENV,
                           tables: dict[str, Any] | None = None, platforms: tuple[str, ...] | None = None) -> Path:
    """Write `simulator_config` as TOML at `path` (its folder is the archive's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by `sunshine demo`: the demo archive's config.\n"
                    + tomli_w.dumps(simulator_config(sim_base_url, token_env=token_env, tables=tables,
                                                     platforms=platforms)),
                    encoding="utf-8")
    return path


def _base_tables(base_config: Path | None) -> dict[str, Any]:
    """The storage, search, department and ledger tables of a user's config (`demo -c`)."""
    if base_config is None:
        return {}
    try:
        base = tomllib.loads(base_config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SunshineError(f"{base_config}: cannot read config: {exc}") from None
    return {table: base[table] for table in ("storage", "search", "department", "ledger") if table in base}


def run_demo(data_dir: Path, *, scale: int, steps: int, seed: int, base_config: Path | None,
             echo: Callable[[str], None]) -> Config:
    from infra.simulator.server import start_simulator

    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = data_dir / "sunshine.toml"
    if (data_dir / "catalog.sqlite").exists():
        echo(f"note: {data_dir} already holds an archive; this demo adds to it")
    started = time.monotonic()
    echo(f"generating a department of about {scale:,} records (seed {seed})...")
    sim = start_simulator(seed=seed, scale=scale, port=0, token=DEMO_TOKEN)
    try:
        write_simulator_config(config_path, sim.base_url, tables=_base_tables(base_config))
        config = load_config(config_path)
        env = dict(os.environ, **{TOKEN_ENV: DEMO_TOKEN})
        check_sources(config, environ=env)  # the environment the rounds will run in
        for step in range(steps):
            if step:
                sim.advance()
                echo(f"simulated time advanced one week (step {step})")
            echo(f"round {step + 1}/{steps}: sunshine archive -c {config_path}")
            done = subprocess.run([sys.executable, "-m", "archiver.cli", "archive", "-c", str(config_path)],
                                  env=env, check=False)
            if done.returncode != 0:
                raise SunshineError(f"demo round {step + 1} failed (sunshine archive exited {done.returncode})")
    finally:
        sim.stop()
    elapsed = time.monotonic() - started
    _summary(config, elapsed, echo)
    return config


def _summary(config: Config, elapsed: float, echo: Callable[[str], None]) -> None:
    catalog = Catalog(config.catalog_path)
    try:
        records = catalog.count("records")
        by_status = catalog.records_by("status")
        by_platform = catalog.records_by("platform")
        versions = catalog.count("versions")
        objects = catalog.object_totals()
    finally:
        catalog.close()
    echo("")
    echo(f"archived {records:,} records ({', '.join(f'{k} {v:,}' for k, v in sorted(by_platform.items()))}) "
         f"with {versions:,} versions in {elapsed:.1f} s")
    echo("status: " + ", ".join(f"{k} {v:,}" for k, v in sorted(by_status.items())))
    echo(f"store: {objects[0]:,} objects, {objects[1]:,} bytes, every one hash-verified on write")
    echo(f"config: {config.path}  (try: sunshine verify -c {config.path})")
