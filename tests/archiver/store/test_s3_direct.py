"""Our own SigV4 signing (archiver/store/s3_direct.py) against botocore's, the reference implementation.

MinIO accepting our requests (test_s3.py) shows the signing works for the keys we tried; this shows
it signs exactly what botocore signs for any key, version id, header value and body.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import quote

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.store.s3_direct import DirectS3

ENDPOINT = "http://127.0.0.1:9000"
NOW = datetime(2026, 11, 25, 12, 34, 56, tzinfo=UTC)

key_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
header_value = st.from_regex(r"\A *[!-~]{1,8}( +[!-~]{1,8}){0,3} *\Z")  # runs of spaces: SigV4 trims them
extra_headers = st.dictionaries(st.sampled_from(["x-amz-meta-sha256", "x-amz-checksum-sha256", "if-none-match",
                                                 "x-amz-object-lock-mode", "x-amz-meta-note"]),
                                header_value, max_size=4)


def _direct(token: str | None) -> DirectS3:
    return DirectS3(ENDPOINT, "us-east-1", Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCY", token),
                    max_connections=1, connect_timeout=1, read_timeout=1)


def _botocore_authorization(method: str, path: str, query: str, headers: dict[str, str], body: bytes,
                            token: str | None) -> str:
    request = AWSRequest(method=method, url=f"{ENDPOINT}{path}" + (f"?{query}" if query else ""),
                         headers=dict(headers), data=body)
    signer = botocore.auth.S3SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCY", token), "s3",
                                       "us-east-1")
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None)):  # the clock
        signer.add_auth(request)
    return request.headers["Authorization"]


@settings(max_examples=150, deadline=None)
@given(key=key_text, version=st.none() | key_text, headers=extra_headers, body=st.binary(max_size=64),
       method=st.sampled_from(["GET", "PUT"]), token=st.none() | st.just("session-token"))
def test_signature_matches_botocore(key, version, headers, body, method, token):
    direct = _direct(token)
    path = direct._path("bucket-1", f"prefix/{key}")
    query = f"versionId={quote(version, safe='-_.~')}" if version else ""
    payload = hashlib.sha256(body).hexdigest()
    ours = direct._sign(method, path, query, headers, payload, now=NOW)
    assert ours["x-amz-date"] == "20261125T123456Z" and ours["x-amz-content-sha256"] == payload
    assert ours["Authorization"] == _botocore_authorization(method, path, query, headers, body, token)
    assert ours.get("x-amz-security-token") == token
