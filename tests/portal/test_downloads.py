"""`/api/v1/search.csv` and `/api/v1/search.jsonl`: a search's results as files, streamed page by page,
bounded, CSV-injection safe, and rate-limited more strictly than pages."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.config import load_config
from portal import create_app, downloads
from tests.portal.conftest import HOSTILE, RTL, Archive, ArchiveBuilder, open_sqlite_index, write_config

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1"]


def csv_table(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def all_results(client, query: str) -> list[dict]:
    """Every result of the search through /api/v1/search, page by page, without highlights."""
    rows, page = [], 1
    while True:
        body = client.get(f"/api/v1/search?{query}&per_page=100&page={page}").get_json()
        rows += [{key: value for key, value in row.items() if key != "highlight"} for row in body["results"]]
        if len(rows) >= body["total"]:
            return rows
        page += 1


@pytest.mark.parametrize("query", ["platform=rss", "q=parade", "q=traffic+OR+parade&kind=post", "", "q=nothingmatches"])
def test_jsonl_holds_the_search_results_in_order(client, query: str) -> None:
    response = client.get(f"/api/v1/search.jsonl?{query}")
    assert response.status_code == 200
    assert response.mimetype == "application/jsonl"
    expected = all_results(client, query)
    lines = response.data.decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == expected
    assert response.headers["X-Total-Count"] == response.headers["X-Sunshine-Rows"] == str(len(expected))
    assert response.headers["X-Sunshine-Truncated"] == "false"
    assert response.headers["X-Sunshine-Max-Rows"] == str(downloads.MAX_ROWS)
    assert response.headers["Content-Disposition"] == 'attachment; filename="sunshine-search.jsonl"'


@pytest.mark.parametrize("query", ["platform=rss", "q=parade", ""])
def test_csv_has_a_header_row_and_one_row_per_result(client, query: str) -> None:
    response = client.get(f"/api/v1/search.csv?{query}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.data.decode("utf-8").split("\r\n", 1)[0] == ",".join(downloads.CSV_COLUMNS)
    table = csv_table(response.data)
    expected = all_results(client, query)
    assert [row["record_id"] for row in table] == [row["record_id"] for row in expected]
    for row, result in zip(table, expected, strict=True):
        assert row["captured_at"] == result["versions"][-1]["captured_at"]
        assert row["version_count"] == str(result["version_count"])
        assert row["parent_id"] == (result["parent_id"] or "")
        assert row["author_is_department"] == ("true" if result["author_is_department"] else "false")


def test_texts_are_utf8_and_cut_like_search_results(client, archive: Archive) -> None:
    table = {row["record_id"]: row for row in csv_table(client.get("/api/v1/search.csv").data)}
    assert table[archive.records["hostile"].record_id]["text"] == HOSTILE
    assert table[archive.records["rtl"].record_id]["text"] == archive.records["rtl"].text
    big = table[archive.records["big"].record_id]
    assert big["text"] == archive.records["big"].text[:downloads.RESULT_TEXT_CHARS]
    assert big["text_truncated"] == "true"
    assert RTL in client.get("/api/v1/search.jsonl").data.decode("utf-8")  # not \u-escaped


def test_downloads_stream_a_page_of_searches_at_a_time(client, monkeypatch) -> None:
    monkeypatch.setattr(downloads, "PAGE_ROWS", 7)
    searches = []
    index = client.application.extensions["sunshine.index"]
    real = index.search
    monkeypatch.setattr(index, "search", lambda query: searches.append(query) or real(query), raising=False)
    response = client.get("/api/v1/search.jsonl?platform=rss")
    assert response.is_streamed
    assert len(searches) == 1  # only page 1 before the body is read
    lines = response.data.splitlines()
    assert len(lines) == 25
    assert [query.page for query in searches] == [1, 2, 3, 4]
    assert {query.per_page for query in searches} == {7}
    assert len({json.loads(line)["record_id"] for line in lines}) == 25  # no row twice across pages


def test_downloads_stop_at_the_maximum_and_say_so(client, monkeypatch) -> None:
    monkeypatch.setattr(downloads, "MAX_ROWS", 10)
    monkeypatch.setattr(downloads, "PAGE_ROWS", 4)
    for kind in ("csv", "jsonl"):
        response = client.get(f"/api/v1/search.{kind}?platform=rss")
        assert response.headers["X-Total-Count"] == "25"
        assert response.headers["X-Sunshine-Rows"] == response.headers["X-Sunshine-Max-Rows"] == "10"
        assert response.headers["X-Sunshine-Truncated"] == "true"
        rows = csv_table(response.data) if kind == "csv" else response.data.splitlines()
        assert len(rows) == 10


def test_bad_parameters_are_a_json_400_before_any_byte(client) -> None:
    for kind in ("csv", "jsonl"):
        response = client.get(f"/api/v1/search.{kind}?platform=myspace")
        assert response.status_code == 400
        assert "platform" in response.get_json()["error"]


class DownIndex:
    def search(self, query):
        raise OSError("disk gone")


def test_an_index_that_is_down_is_a_503_with_retry_after(archive: Archive) -> None:
    app = create_app(load_config(archive.config_path), index=DownIndex(), settings={"RATE_LIMIT_PER_MINUTE": 0})
    response = app.test_client().get("/api/v1/search.csv?q=parade")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "search index" in response.get_json()["error"]


def test_an_index_failing_mid_stream_aborts_the_response(client, monkeypatch) -> None:
    """A cut-off file must not end like a complete one: the stream raises (the server drops the connection)."""
    monkeypatch.setattr(downloads, "PAGE_ROWS", 5)
    index = client.application.extensions["sunshine.index"]
    real = index.search

    def failing(query):
        if query.page > 1:
            raise OSError("disk gone")
        return real(query)

    monkeypatch.setattr(index, "search", failing, raising=False)
    response = client.get("/api/v1/search.csv?platform=rss")
    assert response.status_code == 200
    with pytest.raises(OSError, match="disk gone"):
        response.get_data()


# --------------------------------------------------------------------------- CSV injection


@given(st.text())
def test_no_cell_starts_a_formula_and_the_value_is_kept(text: str) -> None:
    cell = downloads.csv_cell(text)
    assert not cell.startswith(downloads.FORMULA_STARTS)
    assert cell in (text, "'" + text)
    assert (cell != text) == text.startswith(downloads.FORMULA_STARTS)


@given(st.integers(min_value=0))
def test_numbers_are_written_plainly(value: int) -> None:
    assert downloads.csv_cell(value) == str(value)


def test_booleans_and_nulls_are_written_as_in_the_json() -> None:
    assert [downloads.csv_cell(value) for value in (True, False, None)] == ["true", "false", ""]


@pytest.fixture(scope="module")
def formula_client(tmp_path_factory: pytest.TempPathFactory):
    """Replies whose text and author a spreadsheet would run as formulas."""
    root = tmp_path_factory.mktemp("formulas")
    builder = ArchiveBuilder(root)
    for number, text in enumerate(FORMULAS):
        builder.add(f"formula{number}", [text], kind="reply", author=text, author_is_department=False,
                    account="=evil")
    builder.finish()
    index = open_sqlite_index(root / "search.sqlite")
    index.rebuild(builder.docs)
    index.close()
    return create_app(load_config(write_config(root)), settings={"RATE_LIMIT_PER_MINUTE": 0}).test_client()


def test_formula_cells_are_prefixed_in_the_csv_but_not_in_jsonl(formula_client) -> None:
    table = csv_table(formula_client.get("/api/v1/search.csv").data)
    assert sorted(row["text"] for row in table) == sorted("'" + text for text in FORMULAS)
    assert sorted(row["author"] for row in table) == sorted("'" + text for text in FORMULAS)
    assert {row["account"] for row in table} == {"'=evil"}
    lines = [json.loads(line) for line in formula_client.get("/api/v1/search.jsonl").data.splitlines()]
    assert sorted(line["text"] for line in lines) == sorted(FORMULAS)  # data, not a spreadsheet: as posted


# --------------------------------------------------------------------------- rate limits


def limited_app(archive: Archive, **settings):
    return create_app(load_config(archive.config_path),
                      settings={"RATE_LIMIT_PER_MINUTE": 600, "RATE_LIMIT_BURST": 100, **settings})


def test_downloads_have_a_stricter_bucket_with_retry_after(archive: Archive) -> None:
    client = limited_app(archive, DOWNLOAD_RATE_LIMIT_PER_MINUTE=2, DOWNLOAD_RATE_LIMIT_BURST=2).test_client()
    assert [client.get(f"/api/v1/search.{kind}?q=parade").status_code for kind in ("csv", "jsonl")] == [200, 200]
    refused = client.get("/api/v1/search.csv?q=parade")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 30  # 2 a minute: a token every 30 s
    assert "wait" in refused.get_json()["error"]
    assert client.get("/api/v1/search?q=parade").status_code == 200  # pages and the API are not held back
    other = client.get("/api/v1/search.csv?q=parade", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200  # per client


def test_the_download_default_is_stricter_than_pages(archive: Archive) -> None:
    client = limited_app(archive).test_client()
    statuses = [client.get("/api/v1/search.jsonl?q=parade").status_code for _ in range(10)]
    assert statuses.count(200) < 10 and statuses[0] == 200 and statuses[-1] == 429
    assert all(client.get("/api/v1/search?q=parade").status_code == 200 for _ in range(10))


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_PER_MINUTE": 0}, {"DOWNLOAD_RATE_LIMIT_PER_MINUTE": 0}])
def test_limits_turned_off(archive: Archive, settings) -> None:
    client = limited_app(archive, **settings).test_client()
    assert all(client.get("/api/v1/search.jsonl?q=parade").status_code == 200 for _ in range(10))
