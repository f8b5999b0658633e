"""`sunshine verify` that checked nothing never says OK (issue 9).

No catalog, an empty catalog, an empty store, a wrong bucket, wrong credentials, an empty config:
each exits non-zero with a sentence that says what is wrong, through the real command line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.catalog import Catalog
from archiver.cli import main
from archiver.config import load_config
from tests.archiver.test_disposition_crash import STORAGE, _archive


def verify(config: Path, *args: str):
    return CliRunner().invoke(main, ["verify", "-c", str(config), *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _archive(tmp_path_factory.mktemp("honest") / "archive", {"backend": "local", "path": "store", **STORAGE}).parent


def test_an_empty_config_has_nothing_to_verify(tmp_path: Path) -> None:
    config = tmp_path / "sunshine.toml"
    config.write_text("")
    result = verify(config)
    assert result.exit_code != 0 and "OK" not in result.output
    assert "nothing to verify" in result.output and "holds no objects" in result.output
    assert not load_config(config).catalog_path.exists()  # verify creates no catalog


def test_an_empty_catalog_and_store_have_nothing_to_verify(tmp_path: Path) -> None:
    config = tmp_path / "sunshine.toml"
    config.write_text("")
    Catalog(load_config(config).catalog_path).close()
    result = verify(config, "--json")
    report = json.loads(result.output)
    assert result.exit_code != 0 and report["ok"] is False and report["objects_checked"] == 0
    assert any(problem.startswith("nothing to verify: the catalog") for problem in report["problems"])


def test_without_its_catalog_the_store_ledger_is_checked_and_recover_is_named(archived: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "archive"
    shutil.copytree(archived, data_dir)
    config = load_config(data_dir / "sunshine.toml")
    for path in config.catalog_path.parent.glob(config.catalog_path.name + "*"):
        path.unlink()
    result = verify(config.path, "--json")
    report = json.loads(result.output)
    assert result.exit_code != 0 and not report["ok"]
    assert report["ledger_entries_checked"] > 0  # the signed checkpoint and tiles were checked
    assert len(report["problems"]) == 1 and "sunshine recover" in report["problems"][0], report["problems"]
    assert not config.catalog_path.exists()
    # ...and damage in the store's ledger is still found without a catalog
    tile = next(path for path in sorted((data_dir / "store" / "ledger" / "tile").rglob("*")) if path.is_file())
    tile.write_bytes(bytes([tile.read_bytes()[0] ^ 1]) + tile.read_bytes()[1:])
    damaged = json.loads(verify(config.path, "--json").output)
    assert len(damaged["problems"]) > 1


def test_the_archive_itself_still_verifies(archived: Path) -> None:
    result = verify(archived / "sunshine.toml")
    assert result.exit_code == 0 and "OK: every object matches its hash" in result.output, result.output


@pytest.mark.s3
@pytest.mark.parametrize("fault", ["bucket", "credentials"])
def test_a_wrong_bucket_or_credentials_is_a_clear_error(tmp_path: Path, minio_env: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    """As on a new host: no catalog, and a bucket that does not exist or credentials S3 refuses."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", minio_env["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", minio_env["AWS_SECRET_ACCESS_KEY"] if fault == "bucket" else "wrong-secret")
    config = tmp_path / "sunshine.toml"
    config.write_text(f'[storage]\nbackend = "s3"\nbucket = "no-such-bucket-{fault}"\n'
                      f'endpoint_url = "{minio_env["SUNSHINE_S3_ENDPOINT"]}"\n')
    result = CliRunner().invoke(main, ["verify", "-c", str(config)])
    assert result.exit_code == 2 and "OK" not in result.output and "Traceback" not in result.output
    expected = "does not exist" if fault == "bucket" else "AWS_SECRET_ACCESS_KEY"
    assert expected in result.output, result.output
