"""The JSON API: search and record shapes, escaped highlights, JSON errors."""

from __future__ import annotations

from tests.portal.conftest import HOSTILE


def test_search_shape(client):
    response = client.get("/api/v1/search?q=traffic&per_page=5")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= {"total", "results", "facets", "page", "per_page", "timeline"}
    assert body["total"] == 25
    assert body["page"] == 1 and body["per_page"] == 5 and len(body["results"]) == 5
    assert body["facets"]["platform"] == {"rss": 25}
    first = body["results"][0]
    for field in ("record_id", "platform", "account", "kind", "native_id", "url", "author",
                  "author_is_department", "created_at", "text", "parent_id", "thread_id", "media",
                  "status", "versions", "sha256", "ledger_index", "highlight"):
        assert field in first
    assert "<mark>" in first["highlight"]


def test_search_highlight_is_escaped_html(client):
    body = client.get("/api/v1/search?q=owned").get_json()
    hit = next(item for item in body["results"] if item["record_id"] == "bluesky-3kreply1")
    assert hit["text"] == HOSTILE
    assert "<script>" not in hit["highlight"]
    assert "&lt;script&gt;" in hit["highlight"]
    assert "<mark>" in hit["highlight"]


def test_per_page_is_capped(client):
    response = client.get("/api/v1/search?per_page=101")
    assert response.status_code == 400
    assert "per_page" in response.get_json()["error"]


def test_record_json_has_versions(client, archive):
    post = archive.records["post"]
    body = client.get(f"/api/v1/records/{post.record_id}").get_json()
    assert body["record_id"] == post.record_id
    assert [version["version"] for version in body["versions"]] == [1, 2]
    version = body["versions"][1]
    assert set(version) >= {"version", "captured_at", "status", "content_sha256", "warc_ref",
                            "ledger_index", "text"}
    assert body == post.to_json()


def test_api_errors_are_json(client):
    missing = client.get("/api/v1/records/nothing-here")
    assert missing.status_code == 404
    assert missing.is_json and "error" in missing.get_json()
    bad = client.get("/api/v1/search?from=yesterday")
    assert bad.status_code == 400
    assert "from" in bad.get_json()["error"]
