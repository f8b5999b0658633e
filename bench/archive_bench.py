"""How fast does `sunshine archive` take in a department, and does its memory stay flat as it grows?

Starts the platform simulator in this process (about N records), then runs one real
`sunshine archive -c FILE` child process into a fresh temporary archive (local store, SQLite catalog
and search index, ledger) and measures it end to end: wall seconds, records/s, and the child's peak
RSS (its own VmHWM, `bench/peak_rss.py`, so each size is measured alone). The same is done at a smaller size first, so the
table shows whether memory grows with N. The simulator serves every platform in its profile table
(the demo's department), and the records archived per platform are printed. The simulator shares
this machine's cores with the archiver; its CPU time is printed so the archiver's own share can be
judged. With `--deep`, `sunshine verify --deep` is then timed on each archive the same way.
`--platforms bluesky,facebook` restricts the department to those profiles (to compare with a
release that had only those).

    python -m bench.archive_bench [--scale 100000] [--small 10000] [--seed 1] [--platforms P,Q] [--deep] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from archiver.cli.demo import write_simulator_config
from infra.simulator import start_simulator

REPO = Path(__file__).resolve().parents[1]
TOKEN_ENV = "SUNSHINE_BENCH_FB_TOKEN"
SIM_TOKEN = "sim-token"  # the simulator's own token, not a secret of any real platform


@dataclass(frozen=True)
class Result:
    scale: int
    simulator_records: int
    archived_records: int
    versions: int
    seconds: float
    peak_rss_mb: float
    store_mb: float
    simulator_cpu_s: float
    exit_code: int
    summary: str
    per_platform: dict[str, int]

    @property
    def records_per_second(self) -> float:
        return self.archived_records / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class DeepResult:
    scale: int
    versions: int
    seconds: float
    peak_rss_mb: float
    exit_code: int
    problems: int


def write_config(data_dir: Path, base_url: str, platforms: tuple[str, ...] | None = None) -> Path:
    return write_simulator_config(data_dir / "sunshine.toml", base_url, token_env=TOKEN_ENV, platforms=platforms)


def _measured(peak_file: Path) -> list[str]:
    """`python -m archiver.cli`, run so that its own peak RSS lands in `peak_file` (not the fork's
    inherited size: see `bench/peak_rss.py`)."""
    return [sys.executable, "-m", "bench.peak_rss", str(peak_file), "archiver.cli"]


def _peak_mb(peak_file: Path) -> float:
    text = peak_file.read_text().strip() if peak_file.exists() else ""
    return int(text) / 1024 if text else float("nan")


def _folder_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def archive_once(scale: int, seed: int, work: Path, platforms: tuple[str, ...] | None = None) -> Result:
    """One fresh `sunshine archive` run of a simulated department of about `scale` records."""
    data_dir = work / f"archive-{scale}"
    with start_simulator(seed=seed, scale=scale, token=SIM_TOKEN, platforms=platforms) as sim:
        expected = len(sim.world.records())
        config = write_config(data_dir, sim.base_url, platforms)
        env = dict(os.environ, **{TOKEN_ENV: SIM_TOKEN})
        log_path = work / f"archive-{scale}.log"
        cpu_before = time.process_time()
        started = time.monotonic()
        peak_file = work / f"archive-{scale}.peak"
        with log_path.open("w") as log:
            child = subprocess.Popen([*_measured(peak_file), "archive", "-c", str(config), "--quiet"],
                                     cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
            _pid, status, _usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        simulator_cpu = time.process_time() - cpu_before
    db = sqlite3.connect(data_dir / "catalog.sqlite")
    try:
        records = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        versions = db.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
        per_platform = dict(db.execute("SELECT platform, COUNT(*) FROM records GROUP BY platform ORDER BY platform"))
    finally:
        db.close()
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.startswith("run ")]
    return Result(scale, expected, records, versions, seconds, _peak_mb(peak_file),
                  _folder_bytes(data_dir / "store") / 1e6, simulator_cpu, child.returncode,
                  lines[-1] if lines else log_path.read_text(errors="replace")[-2000:], per_platform)


def deep_verify_once(scale: int, work: Path) -> DeepResult:
    """`sunshine verify --deep --json` on the archive `archive_once` left, timed as a child process."""
    config = work / f"archive-{scale}" / "sunshine.toml"
    report_path = work / f"verify-{scale}.json"
    peak_file = work / f"verify-{scale}.peak"
    started = time.monotonic()
    with report_path.open("w") as out:
        child = subprocess.Popen([*_measured(peak_file), "verify", "-c", str(config), "--deep", "--json"],
                                 cwd=REPO, stdout=out, stderr=subprocess.DEVNULL)
        _pid, status, _usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    report = json.loads(report_path.read_text() or "{}")
    return DeepResult(scale, report.get("natives_checked", 0), seconds, _peak_mb(peak_file),
                      os.waitstatus_to_exitcode(status), len(report.get("problems", [])))


def print_table(results: list[Result]) -> None:
    header = (f"{'scale':>8} {'sim recs':>9} {'archived':>9} {'versions':>9} {'seconds':>8} {'recs/s':>8} "
              f"{'peak RSS MB':>11} {'store MB':>9} {'sim CPU s':>9} {'exit':>4}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.scale:>8,} {r.simulator_records:>9,} {r.archived_records:>9,} {r.versions:>9,} "
              f"{r.seconds:>8.1f} {r.records_per_second:>8.0f} {r.peak_rss_mb:>11.0f} {r.store_mb:>9.1f} "
              f"{r.simulator_cpu_s:>9.1f} {r.exit_code:>4}")
    for r in results:
        print(f"{r.scale:>8,}: " + ", ".join(f"{platform} {count:,}" for platform, count in r.per_platform.items()))


def print_deep_table(results: list[DeepResult]) -> None:
    header = f"{'scale':>8} {'versions':>9} {'seconds':>8} {'versions/s':>10} {'peak RSS MB':>11} {'problems':>8} {'exit':>4}"
    print(header)
    print("-" * len(header))
    for r in results:
        rate = r.versions / r.seconds if r.seconds else 0.0
        print(f"{r.scale:>8,} {r.versions:>9,} {r.seconds:>8.1f} {rate:>10.0f} {r.peak_rss_mb:>11.0f} "
              f"{r.problems:>8} {r.exit_code:>4}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000, help="records in the big department")
    parser.add_argument("--small", type=int, default=10_000, help="records in the small department (0: skip)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--platforms", default=None, help="comma-separated profiles (default: every one)")
    parser.add_argument("--deep", action="store_true", help="also time `sunshine verify --deep` on each archive")
    parser.add_argument("--keep", type=Path, default=None, help="keep the archives in this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="sunshine-archive-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    print(f"cpus {os.cpu_count()}, load average before {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f}; python {sys.version.split()[0]}; archives in {work}")
    results: list[Result] = []
    deep: list[DeepResult] = []
    try:
        for scale in [s for s in (args.small, args.scale) if s]:
            platforms = tuple(args.platforms.split(",")) if args.platforms else None
            result = archive_once(scale, args.seed, work, platforms)
            print(f"  {scale:,}: {result.summary}", flush=True)
            results.append(result)
            if args.deep:
                deep.append(deep_verify_once(scale, work))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"load average after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print()
    print_table(results)
    this_process_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n(peak RSS is the `sunshine archive` child's alone; this process with the simulator peaked at "
          f"{this_process_rss:.0f} MB)")
    if deep:
        print("\nsunshine verify --deep (plain verify's re-hash of every object included):")
        print_deep_table(deep)
    archived = all(r.exit_code == 0 and r.archived_records == r.simulator_records for r in results)
    return 0 if archived and all(d.exit_code == 0 and d.problems == 0 for d in deep) else 1


if __name__ == "__main__":
    sys.exit(main())
