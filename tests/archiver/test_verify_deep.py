"""`verify --deep` in the core: each version's content re-derived from its WARC response.

Archives are built with the real session from exchanges whose records come out of the body through
the platform's rule (as the spiders do); then a version whose content is not what its response says
(a parser bug, a rewritten WARC) must be named, and a clean one must not.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.catalog import Catalog
from archiver.model import Capture, HttpExchange, ParsedRecord, Tombstone
from archiver.session import ArchiveSession
from archiver.store.local import LocalStore
from archiver.verify_deep import check_natives
from spiders.extract import find_native
from tests.archiver.warc_tamper import replace_response_body

PAGE = "123"


def exchange(body: bytes, status: int = 200, url: str = "http://sim/123/feed") -> HttpExchange:
    return HttpExchange(url, "GET", (("Accept", "application/json"),), status, "OK",
                        (("Content-Type", "application/json"),), body, "2026-01-01T00:00:00Z")


def graph_page(*posts: tuple[str, str]) -> bytes:
    """A Graph `/feed` page; `comment_count` is volatile, so it is not part of the native object."""
    return json.dumps({"data": [{"id": native_id, "message": text, "from": {"id": PAGE}, "comment_count": 3}
                                for native_id, text in posts], "paging": {}}).encode()


def record(native_id: str, native: dict) -> ParsedRecord:
    return ParsedRecord("facebook", PAGE, "post", native_id, native, f"https://fb.example/{native_id}",
                        "Springfield PD", True, "2026-01-01T00:00:00Z", str(native.get("message", "")))


def parsed(body: bytes, *native_ids: str) -> tuple[ParsedRecord, ...]:
    """What the spider hands over: each record's native object taken from the body by the rule."""
    return tuple(record(native_id, find_native("facebook", body, native_id)) for native_id in native_ids)


def archive(root: Path, *runs: list[Capture]) -> tuple[Catalog, LocalStore]:
    catalog, store = Catalog(root / "catalog.sqlite"), LocalStore(root / "store")
    for number, captures in enumerate(runs):
        session = ArchiveSession(catalog, store, f"run{number}")
        for capture in captures:
            session.add(capture)
        session.close()
    return catalog, store


def problems(catalog: Catalog, store: LocalStore) -> list[str]:
    return [result.problem for result in check_natives(store, catalog, find_native) if result.problem]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path


def test_every_version_and_tombstone_rederives_from_its_response(root: Path) -> None:
    first = graph_page((f"{PAGE}_1", "Road closed"), (f"{PAGE}_2", "Lost dog"), (f"{PAGE}_3", "Parade"))
    edited = graph_page((f"{PAGE}_1", "Road reopened"))
    gone_json = exchange(json.dumps({"error": {"code": 100, "message": "does not exist"}}).encode(), status=400)
    gone_html = exchange(b"<html><body>Not Found</body></html>", status=404)
    catalog, store = archive(
        root,
        [Capture("fb", exchange(first), records=parsed(first, f"{PAGE}_1", f"{PAGE}_2", f"{PAGE}_3"))],
        [Capture("fb", exchange(edited), records=parsed(edited, f"{PAGE}_1")),
         Capture("fb", gone_json, tombstones=(Tombstone("facebook", f"{PAGE}_2"),)),
         Capture("fb", gone_html, tombstones=(Tombstone("facebook", f"{PAGE}_3"),))],
    )
    results = list(check_natives(store, catalog, find_native))
    assert [r.problem for r in results if r.problem] == []
    assert len(results) == catalog.count("versions") == 6
    assert Counter(r.version.version.status for r in results) == {"active": 3, "edited": 1, "deleted": 2}


def test_a_native_object_its_response_does_not_hold_is_named_with_what_differs(root: Path) -> None:
    body = graph_page((f"{PAGE}_1", "Road closed"), (f"{PAGE}_2", "Lost dog"))
    honest, _ = parsed(body, f"{PAGE}_1", f"{PAGE}_2")
    forged = record(f"{PAGE}_2", {**find_native("facebook", body, f"{PAGE}_2"), "message": "Found dog"})
    catalog, store = archive(root, [Capture("fb", exchange(body), records=(honest, forged))])
    found = problems(catalog, store)
    assert len(found) == 1, found
    assert f"record facebook-{PAGE}_2 v1" in found[0] and "hashes to" in found[0]
    assert "differs at message" in found[0]


def test_a_record_missing_from_its_response_is_named(root: Path) -> None:
    body = graph_page((f"{PAGE}_1", "Road closed"))
    invented = record(f"{PAGE}_9", {"id": f"{PAGE}_9", "message": "never posted", "from": {"id": PAGE}})
    catalog, store = archive(root, [Capture("fb", exchange(body), records=(*parsed(body, f"{PAGE}_1"), invented))])
    found = problems(catalog, store)
    assert len(found) == 1 and f"record facebook-{PAGE}_9 v1" in found[0], found
    assert f"no facebook object with native id '{PAGE}_9'" in found[0]


def test_a_rewritten_response_is_found_for_records_and_tombstones(root: Path) -> None:
    body = graph_page((f"{PAGE}_1", "Road closed"), (f"{PAGE}_2", "Lost dog"))
    gone = exchange(json.dumps({"error": {"code": 100, "message": "does not exist"}}).encode(), status=400)
    catalog, store = archive(root, [Capture("fb", exchange(body), records=parsed(body, f"{PAGE}_1", f"{PAGE}_2"))],
                             [Capture("fb", gone, tombstones=(Tombstone("facebook", f"{PAGE}_2"),))])
    versions = {(v.record_id, v.version): v for v in catalog.undisposed_versions()}
    page_ref = versions[(f"facebook-{PAGE}_1", 1)].warc_ref
    replace_response_body(store, catalog, page_ref, graph_page((f"{PAGE}_1", "Road OPEN"), (f"{PAGE}_2", "Lost dog")))
    tombstone_ref = versions[(f"facebook-{PAGE}_2", 2)].warc_ref
    replace_response_body(store, catalog, tombstone_ref, json.dumps({"error": {"code": 1, "message": "oops"}}).encode())
    found = problems(catalog, store)
    assert len(found) == 2, found
    assert f"record facebook-{PAGE}_1 v1" in found[0] and "differs at message" in found[0]
    assert f"record facebook-{PAGE}_2 v2" in found[1] and "the tombstone" in found[1]


def test_a_missing_or_unreadable_warc_names_every_version_in_it(root: Path) -> None:
    first = graph_page((f"{PAGE}_1", "a"), (f"{PAGE}_2", "b"))
    second = graph_page((f"{PAGE}_3", "c"))
    catalog, store = archive(root, [Capture("fb", exchange(first), records=parsed(first, f"{PAGE}_1", f"{PAGE}_2"))],
                             [Capture("fb", exchange(second), records=parsed(second, f"{PAGE}_3"))])
    keys = sorted({v.warc_ref.key for v in catalog.undisposed_versions()})
    (store.root / keys[0]).unlink()
    (store.root / keys[1]).write_bytes(b"not a warc at all" * 100)
    found = problems(catalog, store)
    assert len(found) == 3, found
    assert sum(f"WARC {keys[0]} is missing" in p for p in found) == 2
    assert sum("holds no readable response" in p or "runs past the end" in p for p in found) == 1, found


def test_each_warc_is_read_once_however_many_versions_point_into_it(root: Path) -> None:
    """Fast enough at scale: one sequential read of each WARC object, no per-version range reads."""
    captures = [Capture("fb", exchange(body), records=parsed(body, *(f"{PAGE}_{n}_{i}" for i in range(5))))
                for n in range(20) for body in [graph_page(*((f"{PAGE}_{n}_{i}", f"post {i}") for i in range(5)))]]
    catalog, store = archive(root, captures)
    opened: Counter[str] = Counter()

    class Counting(LocalStore):
        def open(self, key, *, version_id=None):
            opened[key] += 1
            return super().open(key, version_id=version_id)

        def get_range(self, *args, **kwargs):
            raise AssertionError("deep verify reads WARCs sequentially, never range by range")

    results = list(check_natives(Counting(store.root), catalog, find_native))
    assert len(results) == 100 and not [r for r in results if r.problem]
    assert set(opened.values()) == {1} and set(opened) == {v.warc_ref.key for v in catalog.undisposed_versions()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200), other=st.text(max_size=200))
def test_any_text_rederives_and_any_other_text_is_caught(text: str, other: str) -> None:
    """Whatever a post says (surrogates, controls, RTL marks), its content re-derives from the
    response; a native object saying anything else is caught."""
    body = graph_page((f"{PAGE}_1", text))
    native = find_native("facebook", body, f"{PAGE}_1")
    with tempfile.TemporaryDirectory() as folder:
        catalog, store = archive(Path(folder), [Capture("fb", exchange(body), records=(record(f"{PAGE}_1", native),))])
        try:
            assert problems(catalog, store) == []
        finally:
            catalog.close()
    if other == text:
        return
    with tempfile.TemporaryDirectory() as folder:
        forged = record(f"{PAGE}_1", {**native, "message": other})
        catalog, store = archive(Path(folder), [Capture("fb", exchange(body), records=(forged,))])
        try:
            found = problems(catalog, store)
        finally:
            catalog.close()
        assert len(found) == 1 and f"record facebook-{PAGE}_1 v1" in found[0], found


def test_deep_on_an_archive_with_nothing_in_it_is_not_ok(tmp_path: Path) -> None:
    """--deep adds checks; it never turns "nothing to verify" into an OK."""
    from click.testing import CliRunner

    from archiver.cli import main

    config = tmp_path / "sunshine.toml"
    config.write_text("")
    result = CliRunner().invoke(main, ["verify", "-c", str(config), "--deep", "--json"], catch_exceptions=False)
    report = json.loads(result.output)
    assert result.exit_code == 1 and report["ok"] is False
    assert report["deep"] is True and report["natives_checked"] == 0
    assert any(problem.startswith("nothing to verify") for problem in report["problems"])


@pytest.mark.s3
def test_deep_verify_streams_each_warc_from_s3(tmp_path: Path, minio_env: dict[str, str]) -> None:
    """On S3 (MinIO, versioned bucket) the WARC arrives as a network stream, read front to back:
    members far apart and larger than one socket read still re-derive, and a forged one is named."""
    from tests.archiver.store.conftest import new_bucket_name, s3_store

    store = s3_store(minio_env, new_bucket_name("verify-deep"), prefix="deep/")
    store.ensure_bucket()
    long_text = "Road closure update. " * 20_000  # a ~400 KB response: many socket reads per member
    bodies = [graph_page((f"{PAGE}_{n}", long_text if n % 3 == 0 else f"post {n}")) for n in range(12)]
    captures = [Capture("fb", exchange(body), records=parsed(body, f"{PAGE}_{n}")) for n, body in enumerate(bodies)]
    forged_body = graph_page((f"{PAGE}_99", "the truth"))
    forged = record(f"{PAGE}_99", {**find_native("facebook", forged_body, f"{PAGE}_99"), "message": "a lie"})
    captures.append(Capture("fb", exchange(forged_body), records=(forged,)))
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        session = ArchiveSession(catalog, store, "run0")
        for capture in captures:
            session.add(capture)
        session.close()
        results = list(check_natives(store, catalog, find_native))
    finally:
        catalog.close()
    assert len(results) == 13
    found = [r.problem for r in results if r.problem]
    assert len(found) == 1 and f"record facebook-{PAGE}_99 v1" in found[0] and "differs at message" in found[0]


def test_a_stream_that_returns_short_reads_is_read_whole(root: Path) -> None:
    """A network body may return fewer bytes than asked (boto3's StreamingBody over a slow socket)."""
    import hashlib
    import io

    noise = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(300))  # compresses poorly
    body = graph_page(*((f"{PAGE}_{n}", f"post {n} {noise}") for n in range(4)))
    catalog, store = archive(root, [Capture("fb", exchange(body), records=parsed(body, *(f"{PAGE}_{n}" for n in range(4))))])

    class Trickle(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            return super().read(min(size, 1000) if size is not None and size >= 0 else size)

    class Slow(LocalStore):
        def open(self, key, *, version_id=None):
            with super().open(key, version_id=version_id) as handle:
                return Trickle(handle.read())

    results = list(check_natives(Slow(store.root), catalog, find_native))
    assert next(catalog.undisposed_versions()).warc_ref.length > 1000  # several trickled reads per member
    assert len(results) == 4 and [r.problem for r in results if r.problem] == []


def test_a_read_failing_half_way_names_each_remaining_version_once(root: Path) -> None:
    import io

    bodies = [graph_page((f"{PAGE}_{n}", f"post {n}")) for n in range(3)]
    catalog, store = archive(root, [Capture("fb", exchange(body), records=parsed(body, f"{PAGE}_{n}"))
                                    for n, body in enumerate(bodies)])
    refs = sorted((v.warc_ref for v in catalog.undisposed_versions()), key=lambda ref: ref.offset)
    assert len({ref.key for ref in refs}) == 1  # one WARC object, three exchanges in it
    cut = refs[1].offset + 10  # inside the second exchange

    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() + (size or 0) > cut:
                raise OSError("connection reset by peer")
            return super().read(size)

    class Flaky(LocalStore):
        def open(self, key, *, version_id=None):
            with super().open(key, version_id=version_id) as handle:
                return Broken(handle.read())

    results = list(check_natives(Flaky(store.root), catalog, find_native))
    assert sorted(r.version.version.record_id for r in results) == [f"facebook-{PAGE}_{n}" for n in range(3)]
    assert results[0].problem is None
    assert all("could not be read: connection reset by peer" in r.problem for r in results[1:])
