"""A disposal killed at any step is finished by the next `sunshine retention run`, never half-done.

A small real archive (the simulator, archived by `sunshine archive`) is disposed of by a child
process (tests/archiver/disposition_crash_runner.py) that SIGKILLs itself before or after its Nth
store put or delete. Then `sunshine verify` must not call any object the disposal deleted missing,
and a plain `sunshine retention run` must finish the disposal: every due record fully disposed with
a complete certificate naming exactly its deleted objects, every other record untouched, and
`sunshine verify` passing. Local store for every step; one S3 (MinIO) run killed mid-deletes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.catalog import Catalog
from archiver.cli.demo import write_simulator_config
from archiver.config import load_config
from archiver.disposition import CERTIFICATE_PREFIX
from archiver.holds import objects_of
from archiver.run import open_archive_store
from archiver.store.keys import blob_key

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("disposition_crash_runner.py")
TOKEN_ENV = "SUNSHINE_TEST_FB_TOKEN"
SIM_TOKEN = "sim-token"  # the simulator's own token, not a secret
STORAGE = {"retention_days": 30, "retention": [{"platform": "facebook", "kind": "reply", "days": 2}]}


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, **{TOKEN_ENV: SIM_TOKEN}, **(extra or {}))
    env.pop("SUNSHINE_CONFIG", None)
    return env


def sunshine(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args], cwd=REPO, env=_env(env),
                          capture_output=True, text=True, timeout=240, check=False)


def runner(config: Path, now: str, kill: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUNNER), str(config), now, kill], cwd=REPO, env=_env(env),
                          capture_output=True, text=True, timeout=240, check=False)


@dataclass(frozen=True)
class Expected:
    """What a finished disposal must look like, computed from the catalog before it."""

    now: str  # a clock at which exactly the facebook replies are due
    due: dict[str, list[str]]  # record id -> the blob keys only it references (to be deleted)
    kept: dict[str, list[str]]  # every other record -> every object behind it (untouched)


def _expected(config_path: Path) -> Expected:
    config = load_config(config_path)
    catalog = Catalog(config.catalog_path)
    try:
        latest = catalog.db.execute("SELECT MAX(captured_at) FROM versions").fetchone()[0]
        now = datetime.strptime(latest, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + timedelta(days=3)
        due_ids = {row[0] for row in catalog.db.execute(
            "SELECT record_id FROM records WHERE platform = 'facebook' AND kind = 'reply'")}
        references = Counter(blob_key(row[0]) for row in catalog.db.execute("SELECT content_sha256 FROM versions"))
        versions = catalog.version_rows(catalog.all_record_ids())
        due = {record_id: sorted({blob_key(v["content_sha256"]) for v in versions[record_id]
                                  if references[blob_key(v["content_sha256"])] == 1})
               for record_id in due_ids}
        kept = {record_id: sorted(objects_of(catalog, [record_id])) for record_id in versions if record_id not in due_ids}
    finally:
        catalog.close()
    assert len(due) > 3 and sum(map(len, due.values())) > 3 and kept, "the archive gives the test nothing to dispose"
    return Expected(now.strftime("%Y-%m-%dT%H:%M:%SZ"), due, kept)


def _verify(config: Path, env: dict[str, str] | None = None) -> tuple[int, dict]:
    result = sunshine("verify", "-c", str(config), "--json", env=env)
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"verify --json printed no JSON (exit {result.returncode}): {result.stderr[-2000:]}")


def _assert_finished(config_path: Path, expected: Expected) -> None:
    """Every due record disposed whole under one complete certificate; every other one untouched."""
    config = load_config(config_path)
    store = open_archive_store(config)
    catalog = Catalog(config.catalog_path)
    try:
        states = dict(catalog.db.execute("SELECT disposition_id, status FROM dispositions"))
        disposed = dict(catalog.db.execute("SELECT record_id, certificate FROM disposed"))
        for record_id, keys in expected.kept.items():
            assert record_id not in disposed
            assert all(catalog.object(key) is not None for key in keys), record_id
    finally:
        catalog.close()
    assert list(states.values()) == ["complete"], states
    certificates = {item.key: json.loads(store.get(item.key)) for item in store.list(CERTIFICATE_PREFIX)}
    (disposition_id,) = states
    complete = certificates[f"{CERTIFICATE_PREFIX}{disposition_id}.json"]
    pending = certificates[f"{CERTIFICATE_PREFIX}{disposition_id}.pending.json"]
    assert len(certificates) == 2 and complete["status"] == "complete" and pending["status"] == "pending"
    assert complete["withdrawn"] == [] and complete["intent"].endswith(".pending.json")
    named = {record["record_id"]: record["deleted_objects"] for record in complete["records"]}
    assert named == expected.due  # exactly the objects only each record needed
    assert {record["record_id"]: [o["key"] for o in record["objects"]] for record in pending["records"]} == expected.due
    assert set(disposed) == set(expected.due) and set(disposed.values()) == {f"{CERTIFICATE_PREFIX}{disposition_id}.json"}
    for keys in expected.due.values():
        assert not any(store.exists(key) for key in keys)
    for record_id, keys in expected.kept.items():
        assert all(store.exists(key) for key in keys), record_id


def _archive(data_dir: Path, storage: dict, env: dict[str, str] | None = None) -> Path:
    from infra.simulator import start_simulator

    data_dir.mkdir(parents=True)
    with start_simulator(seed=8, scale=200, port=0, token=SIM_TOKEN) as sim:
        config = write_simulator_config(data_dir / "sunshine.toml", sim.base_url, token_env=TOKEN_ENV,
                                        tables={"storage": storage})
        result = sunshine("archive", "-c", str(config), "--quiet", env=env)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return config


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected, int]:
    """The archive, what a disposal of it must do, and how many store steps that disposal takes."""
    data_dir = tmp_path_factory.mktemp("crash") / "archive"
    config = _archive(data_dir, {"backend": "local", "path": "store", **STORAGE})
    expected = _expected(config)
    probe = tmp_path_factory.mktemp("probe") / "archive"
    shutil.copytree(data_dir, probe)
    counted = runner(probe / "sunshine.toml", expected.now, "count")
    assert counted.returncode == 0, counted.stderr[-3000:]
    _assert_finished(probe / "sunshine.toml", expected)  # uninterrupted, the disposal is what we expect
    return data_dir, expected, int(counted.stdout)


def _kill_points(steps: int) -> list[str]:
    # put intent certificate = 1, deletes = 2..steps-1, put complete certificate = steps
    return ["before:1", "after:1", "after:2", f"after:{steps // 2}", f"before:{steps}", f"after:{steps}"]


@pytest.mark.parametrize("point", range(6), ids=["after-intent", "after-intent-put", "after-first-delete",
                                                 "mid-deletes", "before-certificate", "after-certificate"])
def test_disposal_killed_at_each_step_is_finished_by_the_next_run(archived, tmp_path: Path, point: int) -> None:
    source, expected, steps = archived
    assert steps == 2 + sum(map(len, expected.due.values()))  # two certificates, one delete per object
    kill = _kill_points(steps)[point]
    data_dir = tmp_path / "archive"
    shutil.copytree(source, data_dir)
    config = data_dir / "sunshine.toml"

    killed = runner(config, expected.now, kill)
    assert killed.returncode == -9, (kill, killed.stdout, killed.stderr[-2000:])

    # Half-way, verify names no object of the disposal as missing or damaged.
    _code, report = _verify(config)
    doomed = {key for keys in expected.due.values() for key in keys}
    assert not [p for p in report["problems"] if any(key in p for key in doomed)], report["problems"][:5]
    assert not [p for p in report["problems"] if "missing" in p or "damaged" in p], report["problems"][:5]

    rerun = sunshine("retention", "run", "-c", str(config), "--by", "records-officer")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "finished 1 disposal(s) an earlier run left pending" in rerun.stdout, rerun.stdout
    _assert_finished(config, expected)
    code, report = _verify(config)
    assert code == 0 and report["ok"], report["problems"][:10]
    again = sunshine("retention", "run", "-c", str(config))
    assert again.returncode == 0 and "finished" not in again.stdout and "disposed of 0 records" in again.stdout


@pytest.mark.s3
def test_disposal_on_s3_killed_mid_deletes_is_finished_by_the_next_run(minio_env: dict[str, str], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = {name: minio_env[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    bucket = f"crash-{secrets.token_hex(4)}"
    storage = {"backend": "s3", "bucket": bucket, "endpoint_url": minio_env["SUNSHINE_S3_ENDPOINT"],
               "object_lock": False, **STORAGE}
    for name, value in credentials.items():  # this process reads the bucket too, with the same credentials
        monkeypatch.setenv(name, value)
    config = _archive(tmp_path / "archive", storage, env=credentials)
    expected = _expected(config)
    steps = 2 + sum(map(len, expected.due.values()))
    killed = runner(config, expected.now, f"after:{steps // 2}", env=credentials)
    assert killed.returncode == -9, killed.stderr[-2000:]
    rerun = sunshine("retention", "run", "-c", str(config), env=credentials)
    assert rerun.returncode == 0 and "finished 1 disposal(s)" in rerun.stdout, rerun.stdout + rerun.stderr
    _assert_finished(config, expected)
    code, report = _verify(config, env=credentials)
    assert code == 0 and report["ok"], report["problems"][:10]
