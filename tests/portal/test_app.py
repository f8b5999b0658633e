"""Building the app: from a Config, a path, or $SUNSHINE_CONFIG; nothing opened at import time."""

from __future__ import annotations

import pytest

from archiver.errors import ConfigError
from portal import create_app
from tests.portal.conftest import DEPARTMENT


def test_create_app_from_a_path_string(archive):
    client = create_app(str(archive.config_path), settings={"RATE_LIMIT_PER_MINUTE": 0}).test_client()
    assert DEPARTMENT in client.get("/").get_data(as_text=True)


def test_create_app_from_the_environment(archive, monkeypatch):
    monkeypatch.setenv("SUNSHINE_CONFIG", str(archive.config_path))
    monkeypatch.setenv("SUNSHINE_PORTAL_RATE_LIMIT_PER_MINUTE", "0")
    app = create_app()
    assert app.config["RATE_LIMIT_PER_MINUTE"] == 0
    assert app.test_client().get("/healthz").status_code == 200


def test_missing_config_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUNSHINE_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="config file not found"):
        create_app()


def test_two_apps_do_not_share_state(archive):
    first = create_app(archive.config_path, settings={"RATE_LIMIT_PER_MINUTE": 60, "RATE_LIMIT_BURST": 1})
    second = create_app(archive.config_path, settings={"RATE_LIMIT_PER_MINUTE": 0})
    assert first.test_client().get("/").status_code == 200
    assert first.test_client().get("/").status_code == 429
    assert second.test_client().get("/").status_code == 200
