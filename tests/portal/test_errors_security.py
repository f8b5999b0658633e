"""Errors (400/404/405/429/500/503, never a traceback) and the headers every response carries."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.config import load_config
from archiver.store.local import LocalStore
from portal import create_app
from portal.security import CSP
from tests.portal.conftest import write_config

STRICT = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def assert_strict_headers(response) -> None:
    for name, value in STRICT.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    assert "Permissions-Policy" in response.headers


def assert_no_traceback(response) -> None:
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "File \"" not in body


def test_strict_headers_on_every_kind_of_response(client, archive):
    post = archive.records["post"].record_id
    urls = ["/", "/search?q=parade", f"/records/{post}", f"/records/{post}/raw", "/api/v1/search",
            "/healthz", "/static/style.css", "/search?page=0", "/records/missing", "/no/such/page"]
    for url in urls:
        assert_strict_headers(client.get(url))
    assert_strict_headers(client.post("/"))
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_hsts_only_over_https(client):
    response = client.get("/", base_url="https://archive.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_writes_are_refused(client, archive):
    for method in ("post", "put", "delete", "patch", "options"):
        response = getattr(client, method)("/search")
        assert response.status_code == 405, method
        assert response.headers["Allow"] == "GET, HEAD"
    assert client.post("/api/v1/search").status_code == 405
    assert client.head("/").status_code == 200


def test_bad_query_strings_say_what_is_wrong(client):
    response = client.get("/search?from=2026-13-45")
    assert response.status_code == 400
    assert "from" in response.get_data(as_text=True)
    assert client.get("/search?platform=myspace").status_code == 400
    assert client.get("/search?page=0").status_code == 400


def test_missing_pages_are_404(client):
    for url in ("/records/nope", "/records/nope/raw", "/records/nope/capture", "/nothing"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Not found" in response.get_data(as_text=True)


QUERY_KEYS = st.sampled_from(["q", "platform", "account", "kind", "status", "from", "to", "page",
                              "per_page", "version", "zzz"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.lists(st.tuples(QUERY_KEYS, st.text(max_size=30)), max_size=5),
       path=st.sampled_from(["/search", "/api/v1/search", "/records/bluesky-3kparade/raw"]))
def test_random_query_strings_are_answered_never_500(app, params, path):
    response = app.test_client().get(path, query_string=params)
    assert response.status_code in (200, 304, 400, 404), (params, response.status_code)
    assert_no_traceback(response)


@settings(max_examples=60, deadline=None)
@given(record_id=st.text(min_size=1, max_size=60))
def test_random_record_ids_are_answered(app, record_id):
    response = app.test_client().get("/records/" + record_id.replace("/", "_").replace("?", "_"))
    assert response.status_code in (200, 404, 308), response.status_code


def test_index_down_is_503_naming_it(tmp_path: Path):
    config = write_config(tmp_path)
    (tmp_path / "search.sqlite").write_bytes(b"this is not a database" * 100)
    app = create_app(load_config(config), settings={"RATE_LIMIT_PER_MINUTE": 0})
    client = app.test_client()
    for url in ("/", "/search?q=x", "/records/bluesky-3kparade"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert "search index" in response.get_data(as_text=True)
        assert_no_traceback(response)
        assert_strict_headers(response)
    api = client.get("/api/v1/search")
    assert api.status_code == 503 and "search index" in api.get_json()["error"]
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_data(as_text=True).strip() == "down: search index"


def test_store_down_shows_in_healthz(tmp_path: Path):
    config = write_config(tmp_path)
    (tmp_path / "store").write_text("a file where the store folder should be")
    client = create_app(load_config(config), settings={"RATE_LIMIT_PER_MINUTE": 0}).test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_data(as_text=True).strip() == "down: object store"


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == "ok"


class _BuggyIndex:
    """An index with a bug in it (not a backend outage): the portal must answer a plain 500."""

    def counts(self) -> dict[str, int]:
        return {"bluesky": 1 // 0}


def test_unexpected_errors_are_a_plain_500(tmp_path: Path, caplog):
    app = create_app(load_config(write_config(tmp_path)), index=_BuggyIndex(), store=LocalStore(tmp_path),
                     settings={"RATE_LIMIT_PER_MINUTE": 0})
    response = app.test_client().get("/")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "ZeroDivisionError" not in response.get_data(as_text=True)
    assert_no_traceback(response)
    assert_strict_headers(response)
    assert any("ZeroDivisionError" in (record.exc_text or "") for record in caplog.records)


def test_rate_limit_answers_429_with_retry_after(archive):
    app = create_app(load_config(archive.config_path),
                     settings={"RATE_LIMIT_PER_MINUTE": 60, "RATE_LIMIT_BURST": 3})
    client = app.test_client()
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get("/search")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "Too many requests" in limited.get_data(as_text=True)
    assert_strict_headers(limited)
    assert client.get("/healthz").status_code == 200  # probes are never limited
    other = client.get("/", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200  # buckets are per client address


def test_token_bucket_refills():
    from portal.security import TokenBucket

    now = [0.0]
    bucket = TokenBucket(per_minute=60, burst=2, clock=lambda: now[0])
    assert bucket.take("a") == 0 and bucket.take("a") == 0
    assert bucket.take("a") > 0
    now[0] += 1.0
    assert bucket.take("a") == 0
