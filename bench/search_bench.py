"""How fast do the two search backends load and answer at archive scale (issue 4)?

Generates N synthetic-but-realistic `RecordDoc`s (threads of department posts and resident replies,
the simulator's own text generator `infra.simulator.text`, five platforms, statuses, versions and
three years of dates), streamed, never held in a list, and bulk-loads them into both backends with
the same call `sunshine reindex` makes (`rebuild`): SQLite FTS5 and Elasticsearch. Then it runs a
fixed set of 50 searches (words, phrases, prefixes, OR/NOT, filters, dates, deep pages) REPEAT times
each against both, after one warm-up pass, and prints p50/p95 latency per backend side by side and
whether the two backends agree on every total. Targets: >= 10,000 docs/s bulk, p95 < 50 ms.

    python -m bench.search_bench [--records 1000000] [--es-url URL] [--repeat 3] [--keep DIR]
                                 [--backends sqlite,elasticsearch] [--per-query]

`--backends sqlite` measures the embedded backend alone (no Elasticsearch is started).

Without --es-url a node is started with `infra.es_server.start()` (and stopped again if this script
started it). The index built on it is a uniquely named alias, deleted at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archiver.model import RecordDoc
from indexer import SearchIndex, SearchQuery
from infra.simulator.text import make_text, person_name

START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 3 * 365 * 24 * 3600
PLATFORM_ACCOUNTS = {
    "facebook": "104712345678901", "bluesky": "springfieldpd.bsky.social", "x": "SpringfieldPD",
    "mastodon": "spd@police.social", "youtube": "UCspringfieldpd",
}
PLATFORMS = tuple(PLATFORM_ACCOUNTS)
STATUS_WEIGHTS = (("active", 90), ("edited", 5), ("hidden", 3), ("deleted", 2))


def synthetic_docs(count: int, seed: int = 1) -> Iterator[RecordDoc]:
    """`count` records in threads: a department post, then 0-12 replies (some by the department).

    Deterministic for a seed; created_at rises through three years, so dates and pages are realistic.
    """
    rng = random.Random(seed)
    statuses = [status for status, weight in STATUS_WEIGHTS for _ in range(weight)]
    made = 0
    thread_no = 0
    while made < count:
        thread_no += 1
        platform = PLATFORMS[thread_no % len(PLATFORMS)]
        account = PLATFORM_ACCOUNTS[platform]
        replies = min(rng.randint(0, 12), count - made - 1)
        post_time = START + timedelta(seconds=made * SPAN_SECONDS // max(count, 1))
        post_id = f"{platform}-{thread_no}"
        parent = None
        for position in range(replies + 1):
            key = seed * 1_000_003 + made
            department = position == 0 or rng.random() < 0.08
            kind = "post" if position == 0 else ("media" if rng.random() < 0.03 else "reply")
            record_id = post_id if position == 0 else f"{post_id}_{position}"
            status = rng.choice(statuses)
            edits = 1 if status == "edited" else 0
            text = make_text(key, department=department, reply=position > 0, version=edits)
            created = (post_time + timedelta(minutes=7 * position)).strftime("%Y-%m-%dT%H:%M:%SZ")
            yield _doc(record_id, platform, account, kind, text, created, status, made, department,
                       person_name(key) if not department else "Springfield Police Department",
                       parent_id=parent, thread_id=post_id)
            parent = post_id if position == 0 or rng.random() < 0.6 else record_id
            made += 1


def _doc(record_id: str, platform: str, account: str, kind: str, text: str, created: str, status: str,
         n: int, department: bool, author: str, *, parent_id: str | None, thread_id: str) -> RecordDoc:
    sha = hashlib.sha256(f"{record_id}:{status}".encode()).hexdigest()
    versions = [{"version": 1, "captured_at": created, "status": "active",
                 "content_sha256": hashlib.sha256(record_id.encode()).hexdigest(),
                 "warc_ref": {"key": f"warc/{n // 500}.warc.gz", "offset": (n % 500) * 2048, "length": 2000},
                 "ledger_index": n, "text": text}]
    if status != "active":
        versions.append({**versions[0], "version": 2, "status": status, "content_sha256": sha})
    media = ({"url": f"https://cdn.example/{record_id}.jpg", "sha256": sha, "mime": "image/jpeg"},) \
        if kind == "media" else ()
    return RecordDoc(record_id=record_id, platform=platform, account=account, kind=kind, native_id=record_id,
                     url=f"https://{platform}.example/{record_id}", author=author,
                     author_is_department=department, created_at=created, text=text, parent_id=parent_id,
                     thread_id=thread_id, status=status, sha256=sha, ledger_index=n, media=media,
                     versions=tuple(versions))


def bench_queries() -> list[tuple[str, SearchQuery]]:
    """The fixed 50: (label, query). Dates fall inside the synthetic archive's three years."""
    q = SearchQuery
    words = ["arrest", "crash", "missing", "library", "detour", "burglary", "patrol", "thank", "marina",
             "speeding", "Wiggum", "hiring"]
    phrases = ['"road closure"', '"Main Street"', '"found safe"', '"non-emergency line"', '"car seat"',
               '"last seen"']
    queries: list[tuple[str, SearchQuery]] = [(f"word {w}", q(text=w)) for w in words]
    queries += [(f"phrase {p}", q(text=p)) for p in phrases]
    queries += [
        ("two words", q(text="arrest downtown")), ("three words", q(text="officers arrested woman")),
        ("prefix arr*", q(text="arr*")), ("prefix sp*", q(text="sp*")), ("OR", q(text="parade | marathon")),
        ("NOT", q(text="arrest -woman")), ("phrase OR word", q(text='"gas leak" | flooding')),
        ("no match", q(text="zyzzyva")),
        ("all, newest", q()), ("status edited", q(status="edited")), ("status deleted", q(status="deleted")),
        ("status hidden", q(status="hidden")), ("platform bluesky", q(platform="bluesky")),
        ("kind post", q(kind="post")), ("kind media", q(kind="media")),
        ("account x", q(account="SpringfieldPD")),
        ("word + platform", q(text="arrest", platform="facebook")),
        ("word + kind + status", q(text="thank", kind="reply", status="active")),
        ("date month", q(date_from="2024-03-01", date_to="2024-03-31")),
        ("date year", q(date_from="2024-01-01", date_to="2024-12-31")),
        ("date day", q(date_from="2025-06-15", date_to="2025-06-15")),
        ("word + dates", q(text="crash", date_from="2023-06-01", date_to="2023-12-31")),
        ("phrase + dates", q(text='"road closure"', date_from="2025-01-01")),
        ("all filters", q(text="arrest", platform="x", kind="post", status="active", date_from="2023-01-01",
                          date_to="2024-06-30")),
        ("page 2", q(text="arrest", page=2)), ("page 10", q(text="thank", page=10)),
        ("page 50 x 100", q(page=50, per_page=100)), ("page 99 x 100", q(text="the", page=99, per_page=100)),
        ("per_page 100", q(text="library", per_page=100)),
        ("common word", q(text="the")),
        ("author name", q(text="Garcia")), ("Lucene junk", q(text="title:(arrest OR *:* \\")),
    ]
    assert len(queries) == 50, len(queries)
    return queries


def time_load(index: SearchIndex, records: int, seed: int) -> tuple[int, float]:
    started = time.perf_counter()
    written = index.rebuild(synthetic_docs(records, seed))
    return written, time.perf_counter() - started


def time_queries(index: SearchIndex, queries: list[tuple[str, SearchQuery]], repeat: int
                 ) -> tuple[list[float], dict[str, list[float]], dict[str, int]]:
    """All latencies (ms), per-query latencies, and each query's total; one warm-up pass first."""
    totals = {label: index.search(query).total for label, query in queries}
    per_query: dict[str, list[float]] = {label: [] for label, _ in queries}
    for _ in range(repeat):
        for label, query in queries:
            started = time.perf_counter()
            index.search(query)
            per_query[label].append((time.perf_counter() - started) * 1000)
    return [ms for values in per_query.values() for ms in values], per_query, totals


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _es(url: str | None) -> tuple[str, Callable[[], None]]:
    if url:
        return url, lambda: None
    from infra import es_server

    was_running = es_server.status() is not None
    started = es_server.start()["SUNSHINE_ES_URL"]
    return started, (lambda: None) if was_running else es_server.stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--es-url", default=None, help="An Elasticsearch to use (default: start one)")
    parser.add_argument("--repeat", type=int, default=3, help="Timed passes over the 50 queries (after a warm-up)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the SQLite index in this folder")
    parser.add_argument("--per-query", action="store_true", help="Also print each query's median")
    parser.add_argument("--backends", default="sqlite,elasticsearch",
                        help="Comma-separated: sqlite, elasticsearch (default both)")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.backends.split(",") if name.strip()]
    if not chosen or set(chosen) - {"sqlite", "elasticsearch"}:
        parser.error(f"--backends must name sqlite and/or elasticsearch, not {args.backends!r}")

    from indexer.elastic import ElasticIndex
    from indexer.sqlite_fts import SqliteIndex

    print(f"search_bench: {args.records:,} records, {args.repeat} timed passes over 50 queries; "
          f"load average before: {_load()}", flush=True)
    es_url, stop_es = _es(args.es_url) if "elasticsearch" in chosen else ("", lambda: None)
    work = args.keep or Path(tempfile.mkdtemp(prefix="search-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    alias = f"bench-search-{uuid.uuid4().hex[:8]}"
    backends: dict[str, SearchIndex] = {}
    if "sqlite" in chosen:
        backends["sqlite"] = SqliteIndex(work / "search.sqlite")
    if "elasticsearch" in chosen:
        backends["elasticsearch"] = ElasticIndex(es_url, alias, request_timeout=120)
    loads: dict[str, tuple[int, float, str]] = {}
    timings: dict[str, tuple[list[float], dict[str, list[float]], dict[str, int]]] = {}
    queries = bench_queries()
    try:
        for name, index in backends.items():
            written, seconds = time_load(index, args.records, args.seed)
            loads[name] = (written, seconds, _load())
            print(f"  loaded {name}: {written:,} docs in {seconds:.1f} s (load average {_load()})", flush=True)
            if written != args.records:
                print(f"error: {name} wrote {written} of {args.records}", file=sys.stderr)
                return 1
        for name, index in backends.items():
            timings[name] = time_queries(index, queries, args.repeat)
    finally:
        for index in backends.values():
            index.close()
        if es_url:
            _drop_es(es_url, alias)
        stop_es()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"{'bulk load (rebuild)':<22}{'docs':>12}{'seconds':>10}{'docs/s':>10}  target >= 10,000/s")
    print("-" * 74)
    for name, (written, seconds, _after) in loads.items():
        rate = written / seconds
        print(f"{name:<22}{written:>12,}{seconds:>10.1f}{rate:>10,.0f}  {'ok' if rate >= 10_000 else 'BELOW'}")
    print()
    names = list(timings)
    header = f"{'search latency (ms)':<22}" + "".join(f"{n:>16}" for n in names) + "  target p95 < 50"
    print(header)
    print("-" * len(header))
    for label, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
        print(f"{label:<22}" + "".join(f"{percentile(timings[n][0], fraction):>16.1f}" for n in names))
    print(f"{'samples':<22}" + "".join(f"{len(timings[n][0]):>16}" for n in names))
    verdict = {n: "ok" if percentile(timings[n][0], 0.95) < 50 else "ABOVE" for n in names}
    print(f"{'p95 vs target':<22}" + "".join(f"{verdict[n]:>16}" for n in names))
    differing = [label for label, _ in queries if len({timings[n][2][label] for n in names}) > 1]
    if len(names) > 1:
        print(f"\ntotals agree on {50 - len(differing)}/50 queries"
              + (f"; differ on: {', '.join(differing)}" if differing else ""))
    slowest = {n: max(timings[n][1], key=lambda label: statistics.median(timings[n][1][label])) for n in names}
    for n in names:
        label = slowest[n]
        print(f"slowest on {n}: {label} (median {statistics.median(timings[n][1][label]):.1f} ms)")
    if args.per_query:
        print(f"\n{'query':<26}" + "".join(f"{n + ' ms':>18}{'total':>10}" for n in names))
        for label, _ in queries:
            print(f"{label:<26}" + "".join(f"{statistics.median(timings[n][1][label]):>18.1f}"
                                           f"{timings[n][2][label]:>10,}" for n in names))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MB; load average after: {_load()}")
    return 0


def _drop_es(url: str, alias: str) -> None:
    from elasticsearch import Elasticsearch

    client = Elasticsearch(url)
    try:
        client.options(ignore_status=404).indices.delete(index=f"{alias}-v*", expand_wildcards="all")
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
