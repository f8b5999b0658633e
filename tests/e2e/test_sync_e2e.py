"""`sunshine sync` after a real S3 outage leaves an archive that verifies, with no other run (issue 9).

The run during the outage could not sign its checkpoint; `sync` must upload the spool, publish what
is unpublished and sign it, so `verify` passes and the portal's `/ledger/checkpoint` exists again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.ledger.note import peek_checkpoint
from infra.simulator import start_simulator
from tests.e2e.conftest import SIM_TOKEN, catalog_query, sunshine
from tests.e2e.test_s3_e2e import (  # noqa: F401, F811 - private_minio is a fixture
    _archive_config,
    _bucket,
    _credentials,
    _prepare_bucket,
    _restart,
    _stop,
    _store,
    _verify_json,
    private_minio,
)

pytestmark = [pytest.mark.s3, pytest.mark.timeout(300)]


def test_sync_after_an_outage_signs_the_checkpoint_and_verify_passes(private_minio: dict,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    env = private_minio["instance"].env()
    with start_simulator(seed=23, scale=200, port=0, token=SIM_TOKEN) as sim:
        data_dir = tmp_path / "archive"
        config = _archive_config(data_dir, sim.base_url, _bucket("sync"), env["SUNSHINE_S3_ENDPOINT"])
        _prepare_bucket(config, env)
        _stop(private_minio)
        first = sunshine("archive", "-c", str(config), "--quiet", env=_credentials(env), timeout=240)
        assert first.returncode == 1, f"{first.stdout}\n{first.stderr[-2000:]}"

    _restart(private_minio)
    synced = sunshine("sync", "-c", str(config), env=_credentials(env))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "0 still waiting" in synced.stdout and "checkpoint signed" in synced.stdout, synced.stdout
    code, report = _verify_json(config, env)
    assert code == 0 and report["ok"] and report["spooled"] == [], report["problems"][:10]
    signed = peek_checkpoint(_store(config, env).get("ledger/checkpoint").decode()).size
    assert signed == catalog_query(data_dir, "SELECT COUNT(*) FROM ledger")[0][0] > 0
    assert catalog_query(data_dir, "SELECT COUNT(*) FROM objects WHERE version_id IS NULL")[0][0] == 0
