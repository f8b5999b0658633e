"""Raw canonical JSON and original captures, byte for byte from the store."""

from __future__ import annotations

import gzip
import hashlib
import io

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.canonical import canonical_json, sha256_hex
from archiver.config import load_config
from archiver.model import RecordDoc
from archiver.store.keys import blob_key
from archiver.store.local import LocalStore
from portal import create_app
from tests.portal.conftest import open_sqlite_index, write_config


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


def test_capture_in_archiver_layout_keeps_compressed_body(tmp_path):
    """Response record first, then its request (as archiver/warc.py writes); a gzip body stays gzip."""
    native = canonical_json({"id": "1", "text": "hello"})
    body = gzip.compress(b'{"data":[' + native + b"]}")
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    writer.write_record(writer.create_warcinfo_record("t.warc.gz", {"software": "test"}))
    start = buffer.tell()
    http = StatusAndHeaders("200 OK", [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                            protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record("https://api.example/1", "response",
                                                  payload=io.BytesIO(body), http_headers=http))
    request = StatusAndHeaders("GET /1 HTTP/1.1", [("Host", "api.example")], is_http_request=True)
    writer.write_record(writer.create_warc_record("https://api.example/1", "request",
                                                  payload=io.BytesIO(b""), http_headers=request))
    ref = {"key": "warc/r/t-00001.warc.gz", "offset": start, "length": buffer.tell() - start}

    store = LocalStore(tmp_path / "store")
    store.put(ref["key"], buffer.getvalue())
    store.put(blob_key(sha256_hex(native)), native)
    doc = RecordDoc(record_id="web-1", platform="web", account="a", kind="post", native_id="1", url="",
                    author="a", author_is_department=True, created_at="2026-01-01T00:00:00Z", text="hello",
                    parent_id=None, thread_id="web-1", status="active", sha256=sha256_hex(native),
                    ledger_index=None,
                    versions=({"version": 1, "captured_at": "2026-01-01T00:00:00Z", "status": "active",
                               "content_sha256": sha256_hex(native), "warc_ref": ref, "ledger_index": None,
                               "text": "hello"},))
    index = open_sqlite_index(tmp_path / "search.sqlite")
    index.upsert([doc])
    client = create_app(load_config(write_config(tmp_path)), index=index,
                        settings={"RATE_LIMIT_PER_MINUTE": 0}).test_client()
    response = client.get("/records/web-1/capture")
    assert response.status_code == 200
    assert response.data == body
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"] == "application/json"
    assert "Ledger entry" not in client.get("/records/web-1").get_data(as_text=True)
