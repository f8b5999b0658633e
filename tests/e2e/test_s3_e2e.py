"""Issue 3 end to end: the archive on a real MinIO with Object Lock and verified SHA-256 checksums.

Everything is driven as a user would: `sunshine demo -c s3.toml`, `sunshine archive`, `hold`,
`retention run`, `verify`, in child processes with the S3 credentials in their environment. The
bucket is then inspected with boto3 directly, so "refused" means MinIO itself refused, and "stored"
means the object version is in the bucket with the retention the catalog expects.

The session MinIO (`minio_env`) serves the demo archive (one fresh bucket per test that writes);
the outage tests launch a private MinIO that they stop and restart on the same port and data.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from archiver.catalog import Catalog
from archiver.cli.demo import write_simulator_config
from archiver.config import load_config
from archiver.disposition import run_retention
from archiver.errors import IntegrityError, SunshineError
from archiver.holds import objects_of
from archiver.model import make_record_id
from archiver.store.keys import blob_key
from archiver.store.s3 import S3Store
from archiver.store.spool import SpooledPutResult, SpoolingStore
from infra import minio_server
from infra.simulator import start_simulator
from tests.archiver.store.tcp_proxy import s3_proxy
from tests.e2e.conftest import REPO, SIM_TOKEN, TOKEN_ENV, catalog_query, sunshine

pytestmark = pytest.mark.timeout(300)

# the keys replaced by design (docs/archive-format.md): the latest signed checkpoint, and the run
# status the portal reads (each archive run replaces it)
MUTABLE_POINTERS = {"ledger/checkpoint", "status/runs.json"}


def _bucket(label: str) -> str:
    return f"e2e-{label}-{secrets.token_hex(4)}"


def _credentials(env: dict[str, str]) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"]}


def _storage_toml(bucket: str, endpoint: str, retention_days: int = 1) -> str:
    return f"""\
[storage]
backend = "s3"
bucket = "{bucket}"
endpoint_url = "{endpoint}"
object_lock = true
retention_days = {retention_days}

[search]
backend = "sqlite"
path = "search.sqlite"
"""


def _archive_config(data_dir: Path, sim_base_url: str, bucket: str, endpoint: str, rules: str = "") -> Path:
    """A `sunshine.toml` archiving the simulator into an Object Lock bucket (`rules`: more [storage] lines)."""
    config = data_dir / "sunshine.toml"
    storage = tomllib.loads(_storage_toml(bucket, endpoint).replace("\n\n[search]", f"\n{rules}\n\n[search]", 1))
    return write_simulator_config(config, sim_base_url, token_env=TOKEN_ENV,
                                  tables={"ledger": {"name": "springfield.example/e2e-s3"}, **storage})


def _store(config_path: Path, env: dict[str, str]) -> S3Store:
    return S3Store.from_config(load_config(config_path).storage, environ=_credentials(env))


def _bucket_versions(store: S3Store) -> dict[str, list[dict]]:
    """Every object version in the bucket, by key (delete markers are a failure: nothing is deleted)."""
    versions: dict[str, list[dict]] = defaultdict(list)
    for page in store.client.get_paginator("list_object_versions").paginate(Bucket=store.bucket):
        assert not page.get("DeleteMarkers"), page["DeleteMarkers"][:3]
        for item in page.get("Versions", []):
            versions[item["Key"]].append(item)
    return versions


def _popen(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """`sunshine ARGS…` in the background (conftest's `sunshine_popen` takes no environment)."""
    full_env = dict(os.environ, **{TOKEN_ENV: SIM_TOKEN}, **env)
    full_env.pop("SUNSHINE_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "archiver.cli", *args], cwd=REPO, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _verify_json(config_path: Path, env: dict[str, str]) -> tuple[int, dict]:
    result = sunshine("verify", "-c", str(config_path), "--json", env=_credentials(env))
    try:
        report = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"verify --json printed no JSON (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.returncode, report


# ---------------------------------------------------------------------------------------- the demo


@dataclass(frozen=True)
class S3Demo:
    data_dir: Path
    config: Path
    env: dict[str, str]
    bucket: str


@pytest.fixture(scope="module")
def s3_demo(minio_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> S3Demo:
    """`sunshine demo -c s3.toml --data DIR --scale 300 --steps 2` into a fresh Object Lock bucket."""
    base = tmp_path_factory.mktemp("s3demo")
    bucket = _bucket("demo")
    s3_toml = base / "s3.toml"
    s3_toml.write_text(_storage_toml(bucket, minio_env["SUNSHINE_S3_ENDPOINT"]), encoding="utf-8")
    data_dir = base / "archive"
    result = sunshine("demo", "-c", str(s3_toml), "--data", str(data_dir), "--scale", "300", "--steps", "2",
                      "--seed", "4", env=_credentials(minio_env), timeout=240)
    assert result.returncode == 0, f"sunshine demo on S3 failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "archived" in result.stdout, result.stdout
    return S3Demo(data_dir, data_dir / "sunshine.toml", minio_env, bucket)


def test_demo_on_s3_stores_every_catalog_object_as_a_locked_version(s3_demo: S3Demo) -> None:
    store = _store(s3_demo.config, s3_demo.env)
    assert store.bucket == s3_demo.bucket
    lock = store.client.get_object_lock_configuration(Bucket=store.bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    rows = catalog_query(s3_demo.data_dir, "SELECT key, sha256, size, version_id, kind FROM objects")
    kinds = {row[4] for row in rows}
    assert {"blob", "warc", "manifests"} <= kinds, kinds
    versions = _bucket_versions(store)
    latest = datetime.now(UTC) + timedelta(days=1, minutes=5)
    for key, sha256, size, version_id, _kind in rows:
        assert version_id, f"{key}: catalog has no S3 version id"
        found = versions.get(key, [])
        assert [item["VersionId"] for item in found] == [version_id], f"{key}: bucket versions {found}"
        assert found[0]["Size"] == size
        head = store.client.head_object(Bucket=store.bucket, Key=key, VersionId=version_id,
                                        ChecksumMode="ENABLED")
        assert head["Metadata"]["sha256"] == sha256
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert datetime.now(UTC) < head["ObjectLockRetainUntilDate"] <= latest  # retention_days = 1
        assert "ChecksumSHA256" in head, f"{key}: stored without a SHA-256 checksum"
    # Nothing in the bucket was written twice; only the pointers replaced by design have versions.
    again = {key: len(items) for key, items in versions.items() if len(items) > 1}
    assert set(again) <= MUTABLE_POINTERS, again
    # The ledger lives beside the objects (tiles + checkpoints), locked like everything else.
    tiles = sorted(key for key in versions if key.startswith("ledger/tile/"))
    assert tiles, sorted(versions)[:10]
    assert {store.retention(key)[0] for key in tiles} == {"COMPLIANCE"}


def test_verify_on_s3_demo_is_ok(s3_demo: S3Demo) -> None:
    code, report = _verify_json(s3_demo.config, s3_demo.env)
    assert code == 0, report
    assert report["ok"] is True and report["problems"] == [] and report["spooled"] == []
    objects = catalog_query(s3_demo.data_dir, "SELECT COUNT(*), SUM(size) FROM objects")[0]
    assert report["objects_checked"] == objects[0] and report["bytes_checked"] == objects[1]
    assert report["ledger_entries_checked"] == catalog_query(s3_demo.data_dir, "SELECT COUNT(*) FROM versions")[0][0]


# ------------------------------------------------------------------------------- locked objects


def test_locked_versions_cannot_be_deleted_or_overwritten(s3_demo: S3Demo) -> None:
    store = _store(s3_demo.config, s3_demo.env)
    key, sha256, version_id = catalog_query(
        s3_demo.data_dir, "SELECT key, sha256, version_id FROM objects WHERE kind = 'blob' ORDER BY key LIMIT 1")[0]
    original = store.get(key, version_id=version_id)

    # Our code refuses, and says why and until when.
    for attempt in ({"version_id": version_id}, {}):
        with pytest.raises(SunshineError, match=r"under COMPLIANCE retention until \d{4}-\d\d-\d\dT") as refused:
            store.delete(key, **attempt)
        assert key in str(refused.value) and "not deleted" in str(refused.value)
    with pytest.raises(SunshineError, match="already exists with different content; not overwritten"):
        store.put(key, b"rewritten history")

    # MinIO itself refuses, past our pre-checks: the raw client with the version id.
    with pytest.raises(ClientError) as raw:
        store.client.delete_object(Bucket=store.bucket, Key=key, VersionId=version_id)
    # AWS answers AccessDenied; MinIO InvalidRequest "Object is WORM protected and cannot be overwritten".
    assert raw.value.response["Error"]["Code"] in ("AccessDenied", "InvalidRequest"), raw.value.response["Error"]
    # Even a governance bypass does not lift COMPLIANCE mode.
    with pytest.raises(ClientError):
        store.client.delete_object(Bucket=store.bucket, Key=key, VersionId=version_id,
                                   BypassGovernanceRetention=True)
    # Shortening the retention is refused too.
    with pytest.raises(ClientError):
        store.client.put_object_retention(Bucket=store.bucket, Key=key, VersionId=version_id,
                                          Retention={"Mode": "COMPLIANCE",
                                                     "RetainUntilDate": datetime.now(UTC) + timedelta(minutes=1)})
    # A raw PUT to the key only adds a newer version; the archived version is untouched.
    newer = store.client.put_object(Bucket=store.bucket, Key=key, Body=b"rewritten history")["VersionId"]
    try:
        assert newer != version_id
        assert store.get(key, version_id=version_id) == original
        assert store.retention(key, version_id)[0] == "COMPLIANCE"
    finally:  # the newer version has no retention: remove it so the archive is as the demo left it
        store.client.delete_object(Bucket=store.bucket, Key=key, VersionId=newer)
    assert [item["VersionId"] for item in _bucket_versions(store)[key]] == [version_id]
    assert store.get(key) == original


# ------------------------------------------------------------------------ holds and retention


def _thread_of(data_dir: Path, record_id: str) -> set[str]:
    thread = catalog_query(data_dir, "SELECT thread_id FROM records WHERE record_id = ?", (record_id,))[0][0]
    return {row[0] for row in catalog_query(data_dir, "SELECT record_id FROM records WHERE thread_id = ?", (thread,))}


def _set_capture_times(data_dir: Path, times: dict[tuple[str, int], str]) -> dict[tuple[str, int], str]:
    """Set versions' capture times in the catalog; returns the ones they had."""
    db = sqlite3.connect(data_dir / "catalog.sqlite")
    try:
        with db:
            before = {(rid, version): at for rid, version, at in
                      db.execute("SELECT record_id, version, captured_at FROM versions")
                      if (rid, version) in times}
            db.executemany("UPDATE versions SET captured_at = ? WHERE record_id = ? AND version = ?",
                           [(at, rid, version) for (rid, version), at in times.items()])
    finally:
        db.close()
    return before


def _age(data_dir: Path, record_ids: set[str], when: str = "2020-01-02T03:04:05Z") -> dict[tuple[str, int], str]:
    """Make these records' captures old, as if retention had run out (the CLI has no clock option).

    Returns the real capture times, to put back: the ledger entries hold them, so `verify` notices.
    """
    rows = catalog_query(data_dir, "SELECT record_id, version FROM versions")
    return _set_capture_times(data_dir, {(rid, version): when for rid, version in rows if rid in record_ids})


def test_legal_hold_and_retention_on_s3(s3_demo: S3Demo, tmp_path: Path) -> None:
    """Hold → S3 legal hold ON; retention never disposes it; Object Lock refusals are reported, kept."""
    data_dir = tmp_path / "archive"  # a copy of the catalog over the same bucket
    shutil.copytree(s3_demo.data_dir, data_dir)
    config = data_dir / "sunshine.toml"
    env = _credentials(s3_demo.env)
    store = _store(config, s3_demo.env)

    threads = catalog_query(data_dir, "SELECT thread_id, COUNT(*) FROM records GROUP BY thread_id"
                                      " HAVING COUNT(*) BETWEEN 2 AND 6 ORDER BY thread_id")
    held_post = threads[0][0]
    held = _thread_of(data_dir, held_post)
    victim_thread = _thread_of(data_dir, threads[1][0])
    victim = sorted(victim_thread - {threads[1][0]})[0]  # a reply: its content blob is its own

    added = sunshine("hold", "add", "-c", str(config), "--reason", "PRR-1", "--record", held_post, "--by", "clerk",
                     env=env)
    assert added.returncode == 0, added.stderr
    hold_id = added.stdout.split(":")[0].strip()
    assert hold_id.startswith("hold-") and f"holding {len(held)} records (PRR-1)" in added.stdout
    catalog = Catalog(data_dir / "catalog.sqlite")
    try:
        held_objects = objects_of(catalog, held)
        victim_blobs = {key: vid for key, vid in objects_of(catalog, {victim}).items() if key.startswith("blobs/")}
    finally:
        catalog.close()
    assert held_objects and victim_blobs
    for key, version_id in held_objects.items():
        assert store.legal_hold(key, version_id), f"{key} has no S3 legal hold"
    listed = sunshine("hold", "list", "-c", str(config), "--json", env=env)
    assert [(h["hold_id"], h["reason"], h["record_count"]) for h in json.loads(listed.stdout)] == \
        [(hold_id, "PRR-1", len(held))]

    # Retention runs out for the held thread and for the victim (their captures made old).
    real_times = _age(data_dir, held | {victim})
    dry = sunshine("retention", "run", "-c", str(config), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"1 records past retention, {len(held)} more kept by legal holds" in dry.stdout, dry.stdout
    assert f"due: {victim} " in dry.stdout
    assert not any(f"due: {record_id} " in dry.stdout for record_id in held)

    # Disposal: MinIO refuses (COMPLIANCE until tomorrow); the record is reported and kept whole.
    run = sunshine("retention", "run", "-c", str(config), env=env)
    assert run.returncode != 0, run.stdout
    assert f"refused: {victim}: " in run.stderr and "under COMPLIANCE retention until" in run.stderr, run.stderr
    assert "disposed of 0 records" in run.stdout
    assert catalog_query(data_dir, "SELECT COUNT(*) FROM disposed")[0][0] == 0
    for key, version_id in victim_blobs.items():
        assert [item["VersionId"] for item in _bucket_versions(store)[key]] == [version_id]
        assert catalog_query(data_dir, "SELECT version_id FROM objects WHERE key = ?", (key,)) == [(version_id,)]

    # With a clock far in the future every other record is due too; the held ones never are.
    catalog = Catalog(data_dir / "catalog.sqlite")
    try:
        future = datetime.now(UTC) + timedelta(days=400)
        report = run_retention(catalog, SpoolingStore(store, data_dir / "spool"), load_config(config).storage,
                               dry_run=True, actor="test", now=future)
    finally:
        catalog.close()
    due = {item["record_id"] for item in report.due}
    assert report.held == len(held) and not due & held
    assert due == set(r[0] for r in catalog_query(data_dir, "SELECT record_id FROM records")) - held

    # Release: the S3 legal holds come off.
    released = sunshine("hold", "release", "-c", str(config), hold_id, "--by", "clerk", env=env)
    assert released.returncode == 0, released.stderr
    assert f"{hold_id}: released ({len(held)} records)" in released.stdout
    for key, version_id in held_objects.items():
        assert not store.legal_hold(key, version_id), f"{key} still under a legal hold"
    assert json.loads(sunshine("hold", "list", "-c", str(config), "--json", env=env).stdout) == []

    # The altered capture times contradict the signed ledger, and verify says so; put back, all holds.
    code, report_json = _verify_json(config, s3_demo.env)
    assert code == 1 and any(victim in problem and "ledger entry" in problem for problem in report_json["problems"])
    _set_capture_times(data_dir, real_times)
    # The hold and its release are clerk events in the ledger, published and signed right away.
    rows = catalog_query(data_dir, "SELECT entry, published FROM ledger ORDER BY idx")
    events = [(json.loads(entry), published) for entry, published in rows if b'"type":"hold"' in bytes(entry)]
    assert [(event["action"], event["hold_id"], published) for event, published in events] == \
        [("place", hold_id, 1), ("release", hold_id, 1)]
    code, report_json = _verify_json(config, s3_demo.env)
    assert code == 0 and report_json["ok"], report_json["problems"][:10]


# ---------------------------------------------------------------------------- corrupted upload


def test_a_body_corrupted_in_flight_is_refused_and_kept_in_the_spool(s3_demo: S3Demo, tmp_path: Path) -> None:
    """MinIO rejects bytes that do not match our SHA-256; the spool keeps the good bytes for later."""
    storage = load_config(s3_demo.config).storage
    clean = _store(s3_demo.config, s3_demo.env)
    key = f"e2e-corrupt/{secrets.token_hex(4)}"
    with s3_proxy(storage.endpoint_url, flip_put_body=True) as damaging_link:
        corrupt = S3Store.from_config(replace(storage, endpoint_url=damaging_link), environ=_credentials(s3_demo.env))
        with pytest.raises(IntegrityError, match="nothing was stored"):
            corrupt.put(key, b"the captured bytes")
        assert not clean.exists(key) and clean.versions(key) == []

        spool = SpoolingStore(corrupt, tmp_path / "spool", retry_seconds=0.2, first_delay=0.05)
        assert isinstance(spool.put(key, b"the captured bytes"), SpooledPutResult)
        assert not clean.exists(key) and spool.pending() == [key]
    uploaded, pending = SpoolingStore(clean, tmp_path / "spool").drain()
    assert pending == [] and [result.key for result in uploaded] == [key]
    assert clean.get(key) == b"the captured bytes" and len(clean.versions(key)) == 1


def test_each_object_is_locked_for_its_record_series_and_a_warc_for_its_longest(minio_env: dict[str, str],
                                                                                   tmp_path: Path) -> None:
    """Per-series retention (DESIGN §3): a content blob is locked for its own record's series; a WARC
    and its manifest are evidence for every record in their batch, so for the longest of those."""
    rules = 'retention = [{platform = "facebook", days = 3}, {platform = "bluesky", kind = "reply", days = 5}]'
    ruled = {("facebook", "post"): 3, ("facebook", "reply"): 3, ("bluesky", "post"): 1, ("bluesky", "reply"): 5}
    expected_days: dict[tuple[str, str], int] = defaultdict(lambda: 1, ruled)  # other platforms: retention_days
    with start_simulator(seed=23, scale=200, port=0, token=SIM_TOKEN) as sim:
        data_dir = tmp_path / "archive"
        config = _archive_config(data_dir, sim.base_url, _bucket("series"), minio_env["SUNSHINE_S3_ENDPOINT"],
                                 rules)
        started = datetime.now(UTC)
        result = sunshine("archive", "-c", str(config), "--quiet", env=_credentials(minio_env), timeout=240)
        assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    store = _store(config, minio_env)
    rows = catalog_query(data_dir, "SELECT v.content_sha256, v.warc_key, r.platform, r.kind FROM versions v"
                                   " JOIN records r USING (record_id)")
    series = {(platform, kind) for _, _, platform, kind in rows}
    assert set(ruled) <= series and series - set(ruled), series  # each rule's series, and others on the default
    blob_days: dict[str, int] = {}
    warc_days: dict[str, int] = defaultdict(int)
    for sha256, warc_key, platform, kind in rows:
        blob_days[blob_key(sha256)] = expected_days[platform, kind]
        warc_days[warc_key] = max(warc_days[warc_key], expected_days[platform, kind])
    manifests = {key.replace("warc/", "manifests/").replace(".warc.gz", ".jsonl"): days
                 for key, days in warc_days.items()}

    def locked_days(key: str) -> float:
        mode, until = store.retention(key)
        assert mode == "COMPLIANCE", key
        return (until - started).total_seconds() / 86400 + 2 / 86400  # S3 keeps whole seconds

    for key, days in {**blob_days, **warc_days}.items():
        assert days <= locked_days(key) < days + 0.01, (key, days, locked_days(key))
    catalog_manifests = {row[0] for row in catalog_query(data_dir, "SELECT key FROM objects WHERE kind = 'manifests'")}
    assert catalog_manifests == set(manifests), (sorted(catalog_manifests)[:3], sorted(manifests)[:3])
    for key, days in manifests.items():
        assert days <= locked_days(key) < days + 0.01, (key, days)
    mixed = {warc_key for _, warc_key, platform, kind in rows if expected_days[platform, kind] < warc_days[warc_key]}
    assert mixed, "no WARC mixed series: the test would not show the longest rule winning"


# ------------------------------------------------------------------------------ S3 outages


@pytest.fixture
def private_minio(tmp_path: Path) -> Iterator[dict]:
    """A MinIO of this test's own, which it may stop and start again (same port, data, credentials)."""
    holder = {"instance": minio_server.launch(tmp_path / "minio-data", tmp_path / "minio.log")}
    try:
        yield holder
    finally:
        minio_server.terminate(holder["instance"])


def _restart(holder: dict) -> None:
    old = holder["instance"]
    holder["instance"] = minio_server.launch(Path(old.data_dir), Path(old.log_path),
                                             port=int(old.endpoint.rsplit(":", 1)[1]),
                                             access_key=old.access_key, secret_key=old.secret_key)


def _stop(holder: dict) -> None:
    minio_server.terminate(holder["instance"], remove_data=False)


def _prepare_bucket(config_path: Path, env: dict[str, str]) -> S3Store:
    store = _store(config_path, env)
    store.ensure_bucket(object_lock=True)
    return store


def _assert_complete_after_recovery(data_dir: Path, config: Path, env: dict[str, str], world) -> None:
    """Rerun after the outage: exit 0, spool empty, verify ok, every record exactly once, one S3 version per key."""
    rerun = sunshine("archive", "-c", str(config), "--quiet", env=_credentials(env), timeout=240)
    assert rerun.returncode == 0, f"{rerun.stdout[-2000:]}\n{rerun.stderr[-3000:]}"
    spool_dir = data_dir / "spool"
    assert not spool_dir.exists() or not list(spool_dir.glob("*.json")), sorted(spool_dir.iterdir())[:5]
    code, report = _verify_json(config, env)
    assert code == 0 and report["ok"] and report["spooled"] == [], report["problems"][:10]

    expected = {make_record_id(r.platform, r.native_id) for r in world.records()}
    archived = catalog_query(data_dir, "SELECT record_id, COUNT(*), MAX(version) FROM versions GROUP BY record_id")
    assert {row[0] for row in archived} == expected
    assert all(count == 1 and version == 1 for _rid, count, version in archived), \
        [row for row in archived if row[1] != 1][:5]

    store = _store(config, env)
    versions = _bucket_versions(store)
    again = {key: len(items) for key, items in versions.items() if len(items) > 1}
    assert set(again) <= MUTABLE_POINTERS, again
    rows = catalog_query(data_dir, "SELECT key, version_id FROM objects")
    missing_ids = [key for key, version_id in rows if version_id is None]
    assert not missing_ids, f"catalog version ids not filled for formerly spooled objects: {missing_ids[:5]}"
    for key, version_id in rows:
        assert [item["VersionId"] for item in versions[key]] == [version_id], key
    return None


def _wait_for(data_dir: Path, sql: str, minimum: int, process, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sunshine archive ended (exit {process.returncode}) before the outage could start")
        try:
            found = catalog_query(data_dir, sql)[0][0]
        except sqlite3.OperationalError:  # the catalog is not created yet
            found = 0
        if found >= minimum:
            return found
        time.sleep(0.05)
    pytest.fail(f"no progress in the catalog within {timeout:.0f}s")


def test_minio_stopped_mid_archive_loses_nothing(private_minio: dict, tmp_path: Path) -> None:
    """MinIO dies while `sunshine archive` runs: the run fails, a rerun after the restart is complete."""
    env = private_minio["instance"].env()
    with start_simulator(seed=21, scale=2000, port=0, token=SIM_TOKEN) as sim:
        data_dir = tmp_path / "archive"
        config = _archive_config(data_dir, sim.base_url, _bucket("outage"), env["SUNSHINE_S3_ENDPOINT"])
        process = _popen("archive", "-c", str(config), "--quiet", env=_credentials(env))
        try:
            _wait_for(data_dir, "SELECT COUNT(*) FROM ledger WHERE published = 1", 1, process)
            _stop(private_minio)
            out, err = process.communicate(timeout=240)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode != 0, f"the run claimed success while S3 was down:\n{out}\n{err}"
        assert "127.0.0.1" in err or "spooled" in err, err[-2000:]

        _restart(private_minio)
        _assert_complete_after_recovery(data_dir, config, env, sim.world)


def test_archive_with_s3_down_spools_everything_then_sync_uploads_it(private_minio: dict, tmp_path: Path) -> None:
    """DESIGN §3 / issue 3: an outage loses nothing; the run exits 1 saying what is spooled."""
    env = private_minio["instance"].env()
    with start_simulator(seed=22, scale=300, port=0, token=SIM_TOKEN) as sim:
        data_dir = tmp_path / "archive"
        config = _archive_config(data_dir, sim.base_url, _bucket("down"), env["SUNSHINE_S3_ENDPOINT"])
        _prepare_bucket(config, env)
        _stop(private_minio)
        first = sunshine("archive", "-c", str(config), "--quiet", env=_credentials(env), timeout=240)
        assert first.returncode == 1, f"{first.stdout}\n{first.stderr[-2000:]}"
        assert "safely spooled locally but not yet in S3" in first.stderr, first.stderr[-2000:]
        code, report = _verify_json(config, env)  # reads the spooled objects from the spool
        assert report["spooled"], report
        assert report["objects_checked"] == catalog_query(data_dir, "SELECT COUNT(*) FROM objects")[0][0]
        assert catalog_query(data_dir, "SELECT COUNT(*) FROM objects WHERE version_id IS NULL")[0][0] > 0

        _restart(private_minio)
        synced = sunshine("sync", "-c", str(config), env=_credentials(env))
        assert synced.returncode == 0 and "0 still waiting" in synced.stdout, synced.stdout + synced.stderr
        _assert_complete_after_recovery(data_dir, config, env, sim.world)
