"""Raw canonical JSON and original captures, byte for byte from the store."""

from __future__ import annotations

import hashlib
import io

from warcio.archiveiterator import ArchiveIterator

from archiver.canonical import canonical_json


def test_raw_is_byte_exact_and_etag_is_its_sha256(client, archive):
    post = archive.records["post"]
    for version in post.versions:
        response = client.get(f"/records/{post.record_id}/raw?version={version['version']}")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        digest = hashlib.sha256(response.data).hexdigest()
        assert digest == version["content_sha256"]
        assert response.headers["ETag"] == f'"{digest}"'


def test_raw_defaults_to_latest_version_with_content(client, archive):
    rtl = archive.records["rtl"]  # v1 active, v2 tombstone
    response = client.get(f"/records/{rtl.record_id}/raw")
    assert hashlib.sha256(response.data).hexdigest() == rtl.versions[0]["content_sha256"]
    post = archive.records["post"]
    response = client.get(f"/records/{post.record_id}/raw")
    assert hashlib.sha256(response.data).hexdigest() == post.versions[-1]["content_sha256"]


def test_raw_of_a_tombstone_is_the_stored_tombstone_object(client, archive):
    rtl = archive.records["rtl"]
    response = client.get(f"/records/{rtl.record_id}/raw?version=2")
    assert response.status_code == 200
    assert response.data == canonical_json({"deleted": True, "native_id": "3kreply2", "platform": "bluesky"})


def test_raw_honours_if_none_match(client, archive):
    post = archive.records["post"]
    sha256 = post.versions[0]["content_sha256"]
    response = client.get(f"/records/{post.record_id}/raw?version=1", headers={"If-None-Match": f'"{sha256}"'})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == f'"{sha256}"'
    other = client.get(f"/records/{post.record_id}/raw?version=1", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200


def test_raw_bad_and_missing_versions(client, archive):
    post = archive.records["post"]
    assert client.get(f"/records/{post.record_id}/raw?version=9").status_code == 404
    assert client.get(f"/records/{post.record_id}/raw?version=-1").status_code == 400
    assert client.get(f"/records/{post.record_id}/raw?version=one").status_code == 400
    assert client.get("/records/no-such-record/raw").status_code == 404


def test_capture_returns_the_original_response(client, archive):
    post = archive.records["post"]
    for version in post.versions:
        response = client.get(f"/records/{post.record_id}/capture?version={version['version']}")
        assert response.status_code == 200
        original = archive.builder.exchanges[(post.record_id, version["version"])]
        assert response.data == original.body
        assert response.headers["Content-Type"] == original.content_type
        ref = version["warc_ref"]
        assert response.headers["X-Sunshine-Warc"] == f"{ref['key']}#{ref['offset']}"
        assert "sandbox" in response.headers["Content-Security-Policy"]


def test_capture_as_warc_is_the_stored_member(client, archive):
    post = archive.records["post"]
    ref = post.versions[1]["warc_ref"]
    response = client.get(f"/records/{post.record_id}/capture?version=2&format=warc")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/warc"
    assert response.data == archive.builder.store.get_range(ref["key"], ref["offset"], ref["length"])
    types = [record.rec_type for record in ArchiveIterator(io.BytesIO(response.data))]
    assert types == ["request", "response"]


def test_capture_bad_format_and_missing_version(client, archive):
    post = archive.records["post"]
    assert client.get(f"/records/{post.record_id}/capture?format=zip").status_code == 400
    assert client.get(f"/records/{post.record_id}/capture?version=7").status_code == 404
