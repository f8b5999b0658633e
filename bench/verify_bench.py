"""How fast can `sunshine verify` re-hash an S3 archive, next to `openssl dgst -sha256` on local disk?

Writes COUNT objects of SIZE bytes to MinIO (and the same bytes to files), then re-hashes them from
S3 with `rehash_objects` (parallel streaming reads) and from disk with one `openssl dgst -sha256`
process, and prints both throughputs and their ratio (target: S3 at least 0.7 of openssl).

    python -m bench.verify_bench [--count 1000] [--size 1048576] [--workers 8]

Uses the MinIO named by SUNSHINE_S3_ENDPOINT / AWS_* if set, otherwise starts a private one and
stops it afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archiver.store.rehash import rehash_objects
from archiver.store.s3 import S3Store, make_client
from infra import minio_server

MB = 1_000_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024 * 1024)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sunshine-verify-bench-") as workdir:
        work = Path(workdir)
        with minio_server.env_or_private(work) as env:
            return run(env, work, args.count, args.size, args.workers)


def run(env: dict[str, str], work: Path, count: int, size: int, workers: int) -> int:
    client = make_client(env["SUNSHINE_S3_ENDPOINT"], "us-east-1", access_key=env["AWS_ACCESS_KEY_ID"],
                         secret_key=env["AWS_SECRET_ACCESS_KEY"], max_connections=max(16, workers * 2))
    store = S3Store(client, f"bench-{secrets.token_hex(4)}")
    store.ensure_bucket(object_lock=False)
    files = work / "files"
    files.mkdir()

    def write(n: int) -> tuple[str, str | None, str]:
        data = os.urandom(size)
        (files / f"{n:05d}").write_bytes(data)
        result = store.put(f"bench/{n:05d}", data)
        return result.key, result.version_id, result.sha256

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        items = list(pool.map(write, range(count)))
    write_seconds = time.perf_counter() - started
    total_mb = count * size / MB
    os.sync()  # let write-back finish so neither reader competes with it

    started = time.perf_counter()
    results = list(rehash_objects(store, items, workers=workers))
    s3_seconds = time.perf_counter() - started
    failures = [key for key, ok, _ in results if not ok]

    names = sorted(path.name for path in files.iterdir())
    started = time.perf_counter()
    digests = {}
    for batch in range(0, len(names), 200):
        output = subprocess.run(["openssl", "dgst", "-sha256", "-r", *names[batch:batch + 200]], cwd=files,
                                check=True, capture_output=True, text=True).stdout
        for line in output.splitlines():
            digest, name = line.split(maxsplit=1)
            digests[name.lstrip("*")] = digest
    openssl_seconds = time.perf_counter() - started
    disagree = [key for key, _, sha256 in items if digests.get(key.rsplit("/", 1)[1]) != sha256]

    s3_rate, openssl_rate = total_mb / s3_seconds, total_mb / openssl_seconds
    print(f"{count} objects x {size} bytes = {total_mb:.0f} MB; {workers} workers; "
          f"upload {total_mb / write_seconds:.0f} MB/s ({write_seconds:.1f} s)")
    print(f"{'method':<34} {'seconds':>8} {'MB/s':>8}")
    print(f"{'S3 stream re-hash (rehash_objects)':<34} {s3_seconds:>8.2f} {s3_rate:>8.0f}")
    print(f"{'openssl dgst -sha256 (disk)':<34} {openssl_seconds:>8.2f} {openssl_rate:>8.0f}")
    print(f"{'ratio S3 / openssl':<34} {'':>8} {s3_rate / openssl_rate:>8.2f}  (target >= 0.70)")
    print(f"python hashlib sha256 single-core: {_hashlib_rate():.0f} MB/s; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if failures or disagree:
        print(f"MISMATCH: {len(failures)} re-hash failures, {len(disagree)} disagree with openssl")
    for key, _, _ in items:
        store.delete(key)
    store.client.delete_bucket(Bucket=store.bucket)
    return 1 if failures or disagree else 0


def _hashlib_rate(megabytes: int = 256) -> float:
    block = os.urandom(MB)
    started = time.perf_counter()
    digest = hashlib.sha256()
    for _ in range(megabytes):
        digest.update(block)
    return megabytes / (time.perf_counter() - started)


if __name__ == "__main__":
    raise SystemExit(main())
