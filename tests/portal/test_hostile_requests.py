"""Hostile public requests against the real app (issue 9): every one answers 200 or a 400 naming the
limit, does bounded work, and never looks like an outage. Searches run on both backends."""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.config import load_config
from indexer.query import MAX_CLAUSES, MAX_QUERY_CHARS, MAX_WORDS
from tests.indexer.corpus import build_corpus
from tests.portal.conftest import Archive, write_config

REPEATED_PREFIXES = " ".join(["t*"] * 60)
MANY_WORDS = " ".join(f"word{n}" for n in range(98))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def any_client(request: pytest.FixtureRequest, archive: Archive):
    """A client of the standard archive's portal on each search backend."""
    from portal import create_app

    index = None
    if request.param == "elasticsearch":
        from indexer.elastic import ElasticIndex

        index = ElasticIndex(request.getfixturevalue("es_url"), f"test-portal-{uuid.uuid4().hex[:10]}")
        index.rebuild(archive.builder.docs)
    app = create_app(load_config(archive.config_path), index=index, settings={"RATE_LIMIT_PER_MINUTE": 0})
    yield app.test_client()
    if index is not None:
        index.close()


def _timed(client, url: str):
    started = time.perf_counter()
    response = client.get(url)
    return response, time.perf_counter() - started


HOSTILE = [
    ("/search?q=" + REPEATED_PREFIXES, 200, None),
    ("/api/v1/search?q=" + REPEATED_PREFIXES, 200, None),
    ("/search?q=" + MANY_WORDS, 400, f"q has 98 words; at most {MAX_WORDS} are allowed"),
    ("/api/v1/search?q=" + MANY_WORDS, 400, f"q has 98 words; at most {MAX_WORDS} are allowed"),
    ("/api/v1/search?q=" + " ".join(f"w{n}" for n in range(40)), 400, f"at most {MAX_CLAUSES} are allowed"),
    ("/api/v1/search?q=" + " ".join(f"w{n}*" for n in range(9)), 400, "prefix searches (word*); at most 5"),
    ("/search?to=9999-12-31", 200, None),
    ("/api/v1/search?q=parade&from=0001-01-01&to=9999-12-31", 200, None),
    ("/api/v1/search?page=99999999999999999999", 400, "page must be a whole number between 1 and 500"),
    ("/search?page=" + "9" * 5000, 400, "page must be a whole number between 1 and 500"),
    ("/api/v1/search?page=１２", 400, "page must be a whole number between 1 and 500 (only the first 10000 "
                                     "results can be paged through, 20 a page; narrow the search with filters "
                                     "instead), written with the digits 0-9"),
    ("/api/v1/search?per_page=99999999999999999999", 400, "per_page must be a whole number between 1 and 100"),
]


@pytest.mark.parametrize(("url", "status", "message"), HOSTILE, ids=[url[:60] for url, _, _ in HOSTILE])
def test_hostile_requests_answer_200_or_a_400_naming_the_limit_quickly(any_client, url: str, status: int,
                                                                       message: str | None) -> None:
    any_client.get("/api/v1/search?q=parade")  # warm up
    ordinary = min(_timed(any_client, "/api/v1/search?q=parade")[1] for _ in range(3))
    response, took = _timed(any_client, url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    if message is not None:
        api = url.startswith("/api/")
        body = response.get_json()["error"] if api else html.unescape(response.get_data(as_text=True))
        assert message in body
    # Generous: the point is "no more than a small multiple of an ordinary search", not a benchmark.
    assert took < 20 * ordinary + 1.0, (took, ordinary)


def test_repeated_prefixes_reach_the_index_as_one_clause(client, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer import sqlite_fts

    rendered: list[str | None] = []
    real = sqlite_fts.fts5_match_parts

    def spying(query):
        parts = real(query)
        rendered.append(parts[0])
        return parts

    monkeypatch.setattr(sqlite_fts, "fts5_match_parts", spying)
    one = client.get("/api/v1/search?q=t*").get_json()
    many = client.get("/api/v1/search?q=" + REPEATED_PREFIXES).get_json()
    assert many["total"] == one["total"] > 0
    assert rendered == ['"t"*', '"t"*']


def test_a_search_over_its_time_budget_is_a_400_saying_so_not_an_outage(tmp_path: Path) -> None:
    from dataclasses import replace

    from indexer.sqlite_fts import SqliteIndex
    from portal import create_app

    index = SqliteIndex(tmp_path / "search.sqlite", query_budget=0.0)
    base = build_corpus()[0]
    index.upsert(replace(base, record_id=f"r-{n}", thread_id=f"r-{n}", text=f"tango{n} t{n} road")
                 for n in range(2000))
    app = create_app(load_config(write_config(tmp_path)), index=index, settings={"RATE_LIMIT_PER_MINUTE": 0})
    client = app.test_client()
    for url in ("/search?q=t*", "/api/v1/search?q=t*"):
        response = client.get(url)
        assert response.status_code == 400
        assert "the search was stopped after 0 s, the most one search may take" in html.unescape(
            response.get_data(as_text=True))
    assert client.get("/healthz").status_code == 200  # the index is fine
    index.close()


def test_search_results_carry_what_a_list_needs_and_records_carry_every_version(client, archive: Archive) -> None:
    post, big = archive.records["post"], archive.records["big"]
    body = client.get("/api/v1/search?q=big+lorem&per_page=100").get_json()
    assert set(body) >= {"total", "results", "facets", "page"}
    (result,) = [item for item in body["results"] if item["record_id"] == big.record_id]
    assert len(big.text) > 1_000_000
    assert len(client.get("/api/v1/search?q=big+lorem").data) < 50_000
    assert result["text"] == big.text[:len(result["text"])] and result["text_truncated"] is True
    body = client.get("/api/v1/search?q=parade+holiday").get_json()
    (result,) = [item for item in body["results"] if item["record_id"] == post.record_id]
    assert result["version_count"] == len(post.versions) == 2
    latest = {key: value for key, value in post.versions[-1].items() if key != "text"}
    assert result["versions"] == [latest]
    assert result["text"] == post.text and result["text_truncated"] is False
    for field in ("record_id", "platform", "account", "kind", "native_id", "url", "author", "author_is_department",
                  "created_at", "parent_id", "thread_id", "media", "status", "sha256", "ledger_index"):
        assert result[field] == post.to_json()[field]
    full = client.get(f"/api/v1/records/{post.record_id}").get_json()
    assert [version["text"] for version in full["versions"]] == [version["text"] for version in post.versions]


def test_a_version_is_cached_for_good_and_the_latest_only_briefly(client, archive: Archive) -> None:
    post = archive.records["post"]
    for route in ("raw", "capture"):
        versioned = client.get(f"/records/{post.record_id}/{route}?version=1")
        assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        latest = client.get(f"/records/{post.record_id}/{route}")
        max_age = int(re.fullmatch(r"public, max-age=(\d+)", latest.headers["Cache-Control"]).group(1))
        assert max_age <= 300
    etag = client.get(f"/records/{post.record_id}/raw?version=2").headers["ETag"]
    not_modified = client.get(f"/records/{post.record_id}/raw?version=2", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.fixture()
def configured(archive: Archive) -> Iterator[Path]:
    """The standard archive's config plus `[portal] public_url`."""
    config = archive.root / f"public-url-{uuid.uuid4().hex[:6]}.toml"
    text = archive.config_path.read_text(encoding="utf-8")
    config.write_text(text + '[portal]\npublic_url = "https://records.springfield.example/"\n', encoding="utf-8")
    yield config
    config.unlink()


def test_verify_commands_use_the_configured_address_never_the_host_header(configured: Path, client) -> None:
    from portal import create_app

    app = create_app(load_config(configured), settings={"RATE_LIMIT_PER_MINUTE": 0})
    page = html.unescape(app.test_client().get("/verify", headers={"Host": "evil.example"}).get_data(as_text=True))
    assert "SITE=https://records.springfield.example\n" in page
    assert "go run . -url https://records.springfield.example " in page
    assert "evil.example" not in page
    # Without the setting: a placeholder to replace, still never the Host header.
    page = html.unescape(client.get("/verify", headers={"Host": "evil.example"}).get_data(as_text=True))
    assert "evil.example" not in page
    assert "SITE=https://THIS-SITE\n" in page and "replace <code>https://THIS-SITE</code> with the address" in page


def test_the_search_forms_limit_is_the_servers(client) -> None:
    page = client.get("/search").get_data(as_text=True)
    assert re.search(r'<input id="f-q"[^>]* maxlength="(\d+)"', page).group(1) == str(MAX_QUERY_CHARS)
    assert client.get("/search?q=" + "a" * MAX_QUERY_CHARS).status_code == 200
    assert client.get("/search?q=" + "a" * (MAX_QUERY_CHARS + 1)).status_code == 400
