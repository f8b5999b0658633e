"""The MinIO launcher: isolated run-state (never the shared server's), real processes, real health."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import boto3
import pytest

from archiver.errors import SunshineError
from infra import minio_server, service_state
from infra.service_state import pid_alive


@pytest.fixture
def isolated_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    run_dir = tmp_path / "run"
    monkeypatch.setattr(service_state, "RUN_DIR", run_dir)
    monkeypatch.setattr(minio_server, "RUN_DIR", run_dir)
    return run_dir


def test_start_is_idempotent_private_and_stop_cleans_up(isolated_run_dir: Path):
    env = minio_server.start()
    try:
        assert set(env) == {"SUNSHINE_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        assert env["SUNSHINE_S3_ENDPOINT"].startswith("http://127.0.0.1:")
        assert minio_server.start() == env  # already running: same server, same credentials
        state_file = isolated_run_dir / "minio.json"
        assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
        state = minio_server.status()
        assert state is not None and "secret_key" not in state
        assert env["AWS_SECRET_ACCESS_KEY"] not in (isolated_run_dir / "minio.log").read_text()
        client = boto3.client("s3", endpoint_url=env["SUNSHINE_S3_ENDPOINT"], region_name="us-east-1",
                              aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        client.create_bucket(Bucket="launcher-check")
        assert [bucket["Name"] for bucket in client.list_buckets()["Buckets"]] == ["launcher-check"]
    finally:
        minio_server.stop()
    assert minio_server.status() is None
    assert not pid_alive(int(state["pid"]))
    assert not Path(str(state["data_dir"])).exists()
    assert not (isolated_run_dir / "minio.json").exists()


def test_each_start_gets_fresh_credentials(tmp_path: Path):
    first = minio_server.launch(tmp_path / "a", tmp_path / "a.log")
    second = minio_server.launch(tmp_path / "b", tmp_path / "b.log")
    try:
        assert first.access_key != second.access_key and first.secret_key != second.secret_key
        assert first.endpoint != second.endpoint
    finally:
        minio_server.terminate(first)
        minio_server.terminate(second)
    assert not pid_alive(first.pid) and not pid_alive(second.pid)


def test_a_server_that_cannot_start_is_reported_with_its_log(tmp_path: Path):
    with socket.socket() as taken:  # MinIO itself fails: its port is already in use
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SunshineError, match=r"(?s)MinIO exited .* log .* ends:\n.*\S"):
            minio_server.launch(tmp_path / "data", tmp_path / "bad.log", port=taken.getsockname()[1])
