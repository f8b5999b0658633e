"""How fast can `sunshine verify` re-hash an S3 archive, next to `openssl dgst -sha256` on local disk?

For each object size, writes 1 GB (by default) of random objects to MinIO and the same bytes to
files, then re-hashes them from S3 with `rehash_objects` (parallel streaming reads, what `sunshine
verify` runs) and from disk with `openssl dgst -sha256`, ROUNDS times each, interleaved, and prints
the median throughputs and their ratio (target: S3 at least 0.7 of openssl). It also prints the CPU
seconds per GB of this process and of the whole machine while re-hashing from S3: on a small machine
with MinIO on the same cores, MinIO's share is what separates the two figures.

    python -m bench.verify_bench [--total 1000000000] [--sizes 262144,1048576,4194304,33554432] [--rounds 3] [--workers 16]

Uses the MinIO named by SUNSHINE_S3_ENDPOINT / AWS_* if set, otherwise starts a private one and
stops it afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from archiver.store.rehash import rehash_objects
from archiver.store.s3 import S3Store, make_client
from infra import minio_server

MB = 1_000_000
TARGET = 0.7


@dataclass(frozen=True)
class Row:
    size: int
    count: int
    s3_mb_s: float
    openssl_mb_s: float
    own_cpu_s_per_gb: float
    machine_cpu_s_per_gb: float
    mismatches: int

    @property
    def ratio(self) -> float:
        return self.s3_mb_s / self.openssl_mb_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=1_000_000_000, help="bytes stored per object size")
    parser.add_argument("--sizes", default="262144,1048576,4194304,33554432", help="object sizes in bytes, comma separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="sunshine-verify-bench-") as workdir:
        work = Path(workdir)
        with minio_server.env_or_private(work) as env:
            client = make_client(env["SUNSHINE_S3_ENDPOINT"], "us-east-1", access_key=env["AWS_ACCESS_KEY_ID"],
                                 secret_key=env["AWS_SECRET_ACCESS_KEY"], max_connections=max(16, args.workers * 2))
            rows = [measure(client, work, size, max(1, args.total // size), args.rounds, args.workers)
                    for size in sizes]
    print_table(rows, args)
    return 1 if any(row.mismatches for row in rows) else 0


def measure(client, work: Path, size: int, count: int, rounds: int, workers: int) -> Row:
    store = S3Store(client, f"bench-{secrets.token_hex(4)}")
    store.ensure_bucket(object_lock=False)
    files = work / f"files-{size}"
    files.mkdir()

    def write(n: int) -> tuple[str, str | None, str]:
        data = os.urandom(size)
        (files / f"{n:05d}").write_bytes(data)
        result = store.put(f"bench/{n:05d}", data)
        return result.key, result.version_id, result.sha256

    with ThreadPoolExecutor(8) as pool:
        items = list(pool.map(write, range(count)))
    os.sync()  # let write-back finish so neither reader competes with it
    total_mb = count * size / MB
    s3_rates, openssl_rates, own_cpu, machine_cpu, mismatches = [], [], [], [], 0
    for _ in range(rounds):
        own_before, machine_before, started = _own_cpu(), _machine_cpu(), time.perf_counter()
        results = list(rehash_objects(store, items, workers=workers))
        seconds = time.perf_counter() - started
        own_cpu.append(_own_cpu() - own_before)
        machine_cpu.append(_machine_cpu() - machine_before)
        s3_rates.append(total_mb / seconds)
        mismatches += sum(not ok for _, ok, _ in results)
        seconds, digests = _openssl(files)
        openssl_rates.append(total_mb / seconds)
        mismatches += sum(digests.get(key.rsplit("/", 1)[1]) != sha256 for key, _, sha256 in items)
    for key, _, _ in items:
        store.delete(key)
    store.client.delete_bucket(Bucket=store.bucket)
    gigabytes = total_mb / 1000
    return Row(size, count, statistics.median(s3_rates), statistics.median(openssl_rates),
               statistics.median(own_cpu) / gigabytes, statistics.median(machine_cpu) / gigabytes, mismatches)


def _openssl(files: Path) -> tuple[float, dict[str, str]]:
    """Seconds for `openssl dgst -sha256` over every file (200 per process), and its digests."""
    names = sorted(path.name for path in files.iterdir())
    digests: dict[str, str] = {}
    started = time.perf_counter()
    for batch in range(0, len(names), 200):
        output = subprocess.run(["openssl", "dgst", "-sha256", "-r", *names[batch:batch + 200]], cwd=files,
                                check=True, capture_output=True, text=True).stdout
        for line in output.splitlines():
            digest, name = line.split(maxsplit=1)
            digests[name.lstrip("*")] = digest
    return time.perf_counter() - started, digests


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    print(f"verify re-hash from S3 vs openssl dgst -sha256 on the same bytes; median of {args.rounds} rounds; "
          f"{args.workers} workers; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    header = (f"{'object size':>12} {'objects':>8} {'S3 MB/s':>8} {'openssl':>8} {'ratio':>6}  "
              f"{'CPU s/GB: verify':>16} {'machine':>8}")
    print(header)
    print("-" * len(header))
    for row in rows:
        verdict = "ok" if row.ratio >= TARGET else f"< {TARGET}"
        print(f"{_size(row.size):>12} {row.count:>8,} {row.s3_mb_s:>8.0f} {row.openssl_mb_s:>8.0f} "
              f"{row.ratio:>6.2f}  {row.own_cpu_s_per_gb:>16.2f} {row.machine_cpu_s_per_gb:>8.2f}  {verdict}")
    print(f"python hashlib sha256, one core: {_hashlib_rate():.0f} MB/s")
    for row in rows:
        if row.mismatches:
            print(f"MISMATCH at {_size(row.size)}: {row.mismatches} digests disagree")


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:g} MiB" if size >= 1024 * 1024 else f"{size / 1024:g} KiB"


def _hashlib_rate(megabytes: int = 256) -> float:
    block = os.urandom(MB)
    started = time.perf_counter()
    digest = hashlib.sha256()
    for _ in range(megabytes):
        digest.update(block)
    return megabytes / (time.perf_counter() - started)


if __name__ == "__main__":
    raise SystemExit(main())
