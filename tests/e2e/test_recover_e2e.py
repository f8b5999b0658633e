"""After losing the catalog: `sunshine recover` from the store, then archiving, verify and holds go on.

The whole story, on the local store and on S3 (MinIO): archive the demo, place a hold, delete the
catalog, recover it; the recovered catalog equals the lost one table by table, the next `archive`
adds no version for unchanged records, `verify` passes, and the hold placed before the loss still
keeps its records from retention disposal.
"""

from __future__ import annotations

import shutil
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from archiver.catalog import Catalog
from archiver.cli.demo import write_simulator_config
from archiver.config import load_config
from archiver.disposition import run_retention
from archiver.ledger_events import append_event
from archiver.publish import LedgerPublisher
from archiver.run import open_archive_store
from tests.archiver.catalog_tables import differences, tables
from tests.e2e.conftest import (
    DEMO_SCALE,
    DEMO_SEED,
    DEMO_STEPS,
    SIM_TOKEN,
    TOKEN_ENV,
    catalog_query,
    sunshine,
)
from tests.e2e.test_s3_e2e import _bucket, _credentials, _storage_toml

UNCHANGED = "new 0, edited 0, hidden 0, deleted 0, restored 0"


def _place_hold(data_dir: Path, config: Path, env: dict[str, str]) -> set[str]:
    """A hold on a post with replies; the records it covers (the whole thread)."""
    thread = catalog_query(data_dir, "SELECT thread_id FROM records WHERE kind = 'reply' ORDER BY record_id LIMIT 1")
    held = sunshine("hold", "add", "-c", str(config), "--reason", "PRR-2026-41", "--record", thread[0][0],
                    "--by", "records-clerk", env=env)
    assert held.returncode == 0, held.stdout + held.stderr
    ids = {row[0] for row in catalog_query(data_dir, "SELECT record_id FROM hold_records")}
    assert len(ids) > 1
    return ids


def _lose_catalog(data_dir: Path) -> Path:
    catalog = data_dir / "catalog.sqlite"
    Catalog(catalog).close()  # checkpoints the WAL into the file
    original = data_dir.parent / "lost-catalog.sqlite"
    shutil.copy(catalog, original)
    for path in data_dir.glob("catalog.sqlite*"):
        path.unlink()
    return original


def _archive_again(config: Path, seed: int, scale: int, env: dict[str, str]):
    """`sunshine archive` of the demo's department at the state its last round saw.

    On the demo's port again: media URLs in the platforms' JSON name the simulator's address, so
    another port would turn every record with media into an edit.
    """
    from infra.simulator import start_simulator

    current = tomllib.loads(config.read_text(encoding="utf-8"))
    kept = {table: current[table] for table in ("department", "ledger", "storage", "search") if table in current}
    port = urlsplit(current["sources"][0]["base_url"]).port
    with start_simulator(seed=seed, scale=scale, port=port, token=SIM_TOKEN) as sim:
        for _ in range(DEMO_STEPS - 1):
            sim.advance()
        write_simulator_config(config, sim.base_url, token_env=TOKEN_ENV, tables=kept)
        return sunshine("archive", "-c", str(config), "--quiet", env=env, timeout=300)


def _recover_and_go_on(data_dir: Path, seed: int, scale: int, env: dict[str, str]) -> None:
    config = data_dir / "sunshine.toml"
    held = _place_hold(data_dir, config, env)
    original = _lose_catalog(data_dir)
    assert not (data_dir / "catalog.sqlite").exists()

    result = sunshine("recover", "-c", str(config), "--quiet", env=env, timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    recovered = data_dir / "catalog.sqlite"
    assert differences(original, recovered) == {}
    assert len(tables(recovered)["records"]) >= scale * 0.8

    again = _archive_again(config, seed, scale, env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert UNCHANGED in again.stdout
    assert tables(recovered)["versions"] == tables(original)["versions"]

    verified = sunshine("verify", "-c", str(config), env=env, timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # Every record is past retention ten years from now; only the hold keeps some.
    settings = load_config(config)
    store = open_archive_store(settings)
    with Catalog(settings.catalog_path) as catalog:
        report = run_retention(catalog, store, settings.storage, dry_run=False, actor="records-officer",
                               now=datetime.now(UTC) + timedelta(days=3650), log_event=append_event)
        LedgerPublisher(catalog, store, settings).checkpoint()  # as `sunshine retention run` does
    assert report.held == len(held)
    assert not held & {item["record_id"] for item in report.due}
    assert not held & set(report.disposed)
    assert report.due and (report.disposed or report.refused)


def test_recover_on_the_local_store(demo_copy: Path) -> None:
    _recover_and_go_on(demo_copy, DEMO_SEED, DEMO_SCALE, env={})
    disposed = {row[0] for row in catalog_query(demo_copy, "SELECT record_id FROM disposed")}
    assert disposed  # on the local store nothing locks the others: they were disposed of

    # Lost again after the disposal: its certificates bring back the disposed records and the
    # disposal; the objects it deleted stay gone from the catalog.
    original = _lose_catalog(demo_copy)
    result = sunshine("recover", "-c", str(demo_copy / "sunshine.toml"), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert differences(original, demo_copy / "catalog.sqlite") == {}
    assert {row[0] for row in catalog_query(demo_copy, "SELECT record_id FROM disposed")} == disposed
    assert sunshine("verify", "-c", str(demo_copy / "sunshine.toml")).returncode == 0


@pytest.mark.s3
def test_recover_on_s3(minio_env: dict[str, str], tmp_path: Path) -> None:
    s3_toml = tmp_path / "s3.toml"
    s3_toml.write_text(_storage_toml(_bucket("recover"), minio_env["SUNSHINE_S3_ENDPOINT"]), encoding="utf-8")
    data_dir = tmp_path / "archive"
    env = _credentials(minio_env)
    demo = sunshine("demo", "-c", str(s3_toml), "--data", str(data_dir), "--scale", "300", "--steps",
                    str(DEMO_STEPS), "--seed", "4", env=env, timeout=300)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert all(row[0] for row in catalog_query(data_dir, "SELECT version_id FROM objects"))  # S3 version ids

    _recover_and_go_on(data_dir, 4, 300, env)
