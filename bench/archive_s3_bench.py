"""How fast does `sunshine archive` run on S3 (MinIO, Object Lock, verified SHA-256) next to the local store?

Starts the platform simulator once (one world, so both archives see the same records), then runs the
real `sunshine archive` in a child process twice: into a local folder, and into a fresh Object Lock
bucket (through the spool, as production does). Then `sunshine verify` on each. Prints one table:
records/s and objects/s for both, and the S3/local ratio.

    python -m bench.archive_s3_bench [--scale 20000] [--seed 1]

Uses the MinIO named by SUNSHINE_S3_ENDPOINT / AWS_* if set, otherwise starts a private one and
stops it afterwards. Note the load average it prints: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from infra import minio_server

REPO = Path(__file__).resolve().parents[1]
TOKEN_ENV = "SUNSHINE_BENCH_FB_TOKEN"
SIM_TOKEN = "sim-token"  # the simulator's own token, not a secret
MB = 1_000_000


@dataclass(frozen=True)
class Timing:
    backend: str
    records: int
    objects: int
    bytes: int
    archive_seconds: float
    verify_seconds: float

    @property
    def records_per_second(self) -> float:
        return self.records / self.archive_seconds

    @property
    def verify_mb_per_second(self) -> float:
        return self.bytes / MB / self.verify_seconds


def config_text(backend: str, sim_base_url: str, s3: dict[str, str] | None) -> str:
    from infra.simulator.world import BLUESKY_HANDLE, FACEBOOK_PAGE_ID

    if backend == "s3":
        assert s3 is not None
        storage = (f'backend = "s3"\nbucket = "bench-{secrets.token_hex(4)}"\n'
                   f'endpoint_url = "{s3["SUNSHINE_S3_ENDPOINT"]}"\nobject_lock = true\nretention_days = 1\n')
    else:
        storage = 'backend = "local"\npath = "store"\n'
    return f"""\
[storage]
{storage}
[search]
backend = "sqlite"
path = "search.sqlite"

[[sources]]
name = "spd-bluesky"
platform = "bluesky"
account = "{BLUESKY_HANDLE}"
base_url = "{sim_base_url}/bluesky"

[[sources]]
name = "spd-facebook"
platform = "facebook"
account = "{FACEBOOK_PAGE_ID}"
token_env = "{TOKEN_ENV}"
base_url = "{sim_base_url}/facebook/v21.0"
"""


def sunshine(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    full_env = dict(os.environ, **{TOKEN_ENV: SIM_TOKEN}, **env)
    full_env.pop("SUNSHINE_CONFIG", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "archiver.cli", *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sunshine {' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}\n"
                         f"{done.stderr[-2000:]}")
    return elapsed, done


def measure(backend: str, data_dir: Path, sim_base_url: str, s3: dict[str, str] | None) -> Timing:
    data_dir.mkdir(parents=True)
    config = data_dir / "sunshine.toml"
    config.write_text(config_text(backend, sim_base_url, s3), encoding="utf-8")
    credentials = {k: v for k, v in (s3 or {}).items() if k.startswith("AWS_")}
    archive_seconds, _ = sunshine(["archive", "-c", str(config), "--quiet"], credentials)
    verify_seconds, verified = sunshine(["verify", "-c", str(config), "--json"], credentials)
    report = json.loads(verified.stdout)
    db = sqlite3.connect(data_dir / "catalog.sqlite")
    try:
        records = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    finally:
        db.close()
    return Timing(backend, records, report["objects_checked"], report["bytes_checked"], archive_seconds,
                  verify_seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20000, help="About how many records the world has.")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from infra.simulator import start_simulator

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sunshine-archive-bench-") as workdir:
        work = Path(workdir)
        with minio_server.env_or_private(work) as s3, \
                start_simulator(seed=args.seed, scale=args.scale, port=0, token=SIM_TOKEN) as sim:
            local = measure("local", work / "local", sim.base_url, None)
            remote = measure("s3", work / "s3", sim.base_url, s3)
    print_table(args.scale, local, remote, load_before, os.getloadavg())
    return 0 if local.records == remote.records else 1


def print_table(scale: int, local: Timing, remote: Timing, load_before, load_after) -> None:
    print(f"sunshine archive, simulator scale {scale:,}; load average before "
          f"{load_before[0]:.2f}/{load_before[1]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f} "
          f"on {os.cpu_count()} CPUs")
    header = (f"{'backend':<8} {'records':>8} {'objects':>8} {'MB':>8} {'archive s':>10} {'records/s':>10} "
              f"{'verify s':>9} {'verify MB/s':>12}")
    print(header)
    print("-" * len(header))
    for timing in (local, remote):
        print(f"{timing.backend:<8} {timing.records:>8,} {timing.objects:>8,} {timing.bytes / MB:>8.1f} "
              f"{timing.archive_seconds:>10.1f} {timing.records_per_second:>10.0f} {timing.verify_seconds:>9.1f} "
              f"{timing.verify_mb_per_second:>12.1f}")
    print(f"S3/local: archive {remote.records_per_second / local.records_per_second:.2f}x, "
          f"verify {remote.verify_mb_per_second / local.verify_mb_per_second:.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
