"""Ledger benchmark: append rate and inclusion-proof latency on a LocalStore.

    python bench/ledger_bench.py [--entries 1000000] [--batch 1000] [--proofs 2000]

Prints a table: entries/s for publishing in batches (tiles + entry bundles, every write read back
and verified by the store), the time to sign a checkpoint, and p50/p95 of `LogReader`
inclusion proofs at random indexes (a fresh reader, so the tile cache starts cold).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.ledger import log, merkle  # noqa: E402
from archiver.ledger.log import LogReader, LogWriter  # noqa: E402
from archiver.ledger.note import open_note, parse_checkpoint  # noqa: E402
from archiver.store.local import LocalStore  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--proofs", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        store = LocalStore(Path(folder) / "store")
        signer = log.load_or_create_signer(Path(folder) / "ledger.key", "bench.example/log")
        writer = LogWriter(store)
        entry_time = 0.0
        started = time.perf_counter()
        for start in range(0, args.entries, args.batch):
            t0 = time.perf_counter()
            batch = [log.entry_for_capture(f"bluesky-{i}", 1, "2026-01-01T00:00:00Z", f"{i:064x}")
                     for i in range(start, min(args.entries, start + args.batch))]
            entry_time += time.perf_counter() - t0
            writer.append(start, batch)
        append_seconds = time.perf_counter() - started - entry_time
        rows.append(("append (publish tiles + bundles)", f"{args.entries / append_seconds:,.0f} entries/s",
                     f"{args.entries:,} entries, batches of {args.batch}, {append_seconds:.1f} s"))

        t0 = time.perf_counter()
        text = log.sign_checkpoint(store, signer, "bench.example/log")
        rows.append(("sign checkpoint", f"{(time.perf_counter() - t0) * 1000:.1f} ms", f"size {args.entries:,}"))
        root = parse_checkpoint(open_note(text, [signer.verifier()]).text).root

        reader = LogReader(store)
        rng = random.Random(1)
        timings = []
        for _ in range(args.proofs):
            index = rng.randrange(args.entries)
            t0 = time.perf_counter()
            proof = reader.inclusion_proof(index, args.entries)
            timings.append(time.perf_counter() - t0)
            merkle.verify_inclusion(index, args.entries, reader.leaf_hash(index, args.entries), proof, root)
        rows.append(("inclusion proof p50", f"{percentile(timings, 0.50) * 1000:.3f} ms",
                     f"{args.proofs} random indexes, cold cache of 1024 tiles"))
        rows.append(("inclusion proof p95", f"{percentile(timings, 0.95) * 1000:.3f} ms", ""))

        t0 = time.perf_counter()
        problems = log.verify_log(store, log.verifier_key(signer))
        rows.append(("verify_log (full audit)", f"{time.perf_counter() - t0:.1f} s",
                     "no problems" if not problems else f"{len(problems)} problems"))
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"{'measure':<{width[0]}}  {'result':>{width[1]}}  notes")
    for name, value, note in rows:
        print(f"{name:<{width[0]}}  {value:>{width[1]}}  {note}")


if __name__ == "__main__":
    main()
