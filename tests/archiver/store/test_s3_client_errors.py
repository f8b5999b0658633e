"""What botocore refuses while building a client is a `SunshineError` naming the setting, never a
traceback (no server needed: these fail before any request)."""

from __future__ import annotations

import pytest

from archiver.errors import SunshineError
from archiver.store.s3 import make_client


@pytest.mark.parametrize(("endpoint", "region", "named"), [
    ("not a url", "us-east-1", "'not a url'"),
    ("http://127.0.0.1:9000", "bad region!", "'bad region!'"),
])
def test_a_client_botocore_refuses_is_a_sunshine_error(endpoint, region, named):
    with pytest.raises(SunshineError) as error:
        make_client(endpoint, region, access_key="key", secret_key="secret")
    assert named in str(error.value) and "endpoint_url" in str(error.value)


def test_a_missing_aws_profile_is_a_sunshine_error(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-anywhere")
    with pytest.raises(SunshineError, match="no-such-profile-anywhere"):
        make_client("http://127.0.0.1:9000", "us-east-1")
