"""A search's results as a file: CSV and JSON Lines, streamed and bounded (`/api/v1/search.csv|.jsonl`).

Both take the parameters of `/api/v1/search` (validated by the same `indexer.query` rules; `page` and
`per_page` are checked but ignored) and hold the first `MAX_ROWS` results in the search's own order,
read from the index `PAGE_ROWS` at a time while the response streams, so a download never holds more
than one page in memory. A row is a search result as `/api/v1/search` gives it without `highlight`
(markup is for pages): the text up to `RESULT_TEXT_CHARS`, the latest version without its text.
Headers say what the file holds before the first byte: `X-Total-Count` (every match),
`X-Sunshine-Rows` (the rows in this file: at most `X-Sunshine-Max-Rows`) and
`X-Sunshine-Truncated: true` when matches were left out, so a client can tell a complete file from
a cut one (and a stream broken by a failing backend from a whole one).

The first page is searched before the response starts, so a bad query is a JSON 400 and a backend
that is down a 503, as on `/api/v1/search`. Pages after it are separate searches: records indexed
meanwhile can shift a row across a page boundary (the file is a snapshot of the index, not of one
instant). A backend that fails mid-stream aborts the response (the WSGI server drops the
connection) rather than ending it as if complete.

CSV is UTF-8 with a header row; a cell that a spreadsheet would run as a formula (it begins with
`=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP's "CSV Injection"
advice says, so a hostile reply cannot run a formula on a clerk's machine.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from flask import Response, stream_with_context

from indexer import SearchHit, SearchPage, SearchQuery
from indexer.query import MAX_RESULT_WINDOW

log = logging.getLogger(__name__)

RESULT_TEXT_CHARS = 2000  # a search result's text, in /api/v1/search and in downloads alike
MAX_ROWS = MAX_RESULT_WINDOW  # Elasticsearch reads no deeper with from/size (index.max_result_window)
PAGE_ROWS = 500  # rows per search while streaming: memory per download is one page
CSV_MEDIA_TYPE = "text/csv; charset=utf-8; header=present"
JSONL_MEDIA_TYPE = "application/jsonl; charset=utf-8"
CSV_COLUMNS = ("record_id", "platform", "account", "kind", "native_id", "url", "author",
               "author_is_department", "created_at", "status", "version_count", "captured_at",
               "sha256", "ledger_index", "parent_id", "thread_id", "text", "text_truncated")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV Injection

Row = dict[str, Any]


def csv_cell(value: Any) -> str:
    """One CSV cell: text a spreadsheet would read as a formula gets a leading `'`.

    None is an empty cell; booleans are `true`/`false` as in the JSON.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        return str(value)  # numbers stay numbers: an int cannot spell a formula
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_row(row: Row) -> list[str]:
    """The CSV columns of one result row (`captured_at` is the latest version's)."""
    latest = row["versions"][-1] if row.get("versions") else {}
    flat = {**row, "captured_at": latest.get("captured_at")}
    return [csv_cell(flat.get(name)) for name in CSV_COLUMNS]


def csv_lines(rows: Iterable[Row]) -> Iterator[str]:
    """The CSV file, a line at a time: the header row, then one row per result (RFC 4180 quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: list[str]) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(list(CSV_COLUMNS))
    for row in rows:
        yield line(csv_row(row))


def jsonl_lines(rows: Iterable[Row]) -> Iterator[str]:
    """One JSON object a line, `\\n`-terminated; non-ASCII kept as UTF-8 (JSON escapes line breaks)."""
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def result_rows(search: Callable[[SearchQuery], SearchPage], query: SearchQuery, first: SearchPage,
                to_row: Callable[[SearchHit], Row], limit: int) -> Iterator[Row]:
    """The first `limit` results: `first` (page 1 of PAGE_ROWS, already searched), then the next pages."""
    page, sent = first, 0
    while True:
        for hit in page.hits[:limit - sent]:
            yield to_row(hit)
            sent += 1
        if sent >= limit or len(page.hits) < PAGE_ROWS:
            return
        page = search(replace(query, page=page.page + 1, per_page=PAGE_ROWS))


def download(search: Callable[[SearchQuery], SearchPage], query: SearchQuery, to_row: Callable[[SearchHit], Row],
             kind: str) -> Response:
    """The streamed response for `kind` ("csv" or "jsonl"); page 1 is searched before it starts."""
    max_rows = MAX_ROWS
    query = replace(query, page=1, per_page=PAGE_ROWS)
    first = search(query)
    rows_in_file = min(first.total, max_rows)
    rows = result_rows(search, query, first, to_row, rows_in_file)
    lines, media_type = (csv_lines(rows), CSV_MEDIA_TYPE) if kind == "csv" else (jsonl_lines(rows), JSONL_MEDIA_TYPE)
    headers = {
        "Content-Disposition": f'attachment; filename="sunshine-search.{kind}"',
        "Cache-Control": "no-store",
        "X-Total-Count": str(first.total),
        "X-Sunshine-Rows": str(rows_in_file),
        "X-Sunshine-Max-Rows": str(max_rows),
        "X-Sunshine-Truncated": "true" if first.total > rows_in_file else "false",
    }
    return Response(stream_with_context(_logged(lines)), headers=headers, content_type=media_type)


def _logged(lines: Iterator[str]) -> Iterator[bytes]:
    """Encode the lines; a failure after the headers went out is logged, then aborts the stream."""
    try:
        for text in lines:
            yield text.encode("utf-8", "replace")  # lone surrogates in hostile text become "?"
    except Exception:
        log.exception("a search download failed mid-stream; the response is cut off")
        raise
