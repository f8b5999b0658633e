"""The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`: built here, in one place.

Every limit in it is read from the constant the code enforces (`indexer.query`, `portal.ledger`,
`portal.downloads`), so the document cannot drift from the checks; `tests/portal/test_openapi.py`
fails if a route under `/api/v1` is missing from it, and runs schemathesis against it.

Error bodies are what `portal.errors` sends under `/api/`: `{"error": "<message>"}`, with
`Retry-After` (seconds) on 429 and 503. 451 (RFC 7725) is listed among the shared responses because
the portal sends it for withheld originals (`/records/<id>/raw` and `/capture`, pages outside this
API); no `/api/v1` route sends it, since the API serves public text, never withheld bytes.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from archiver.config import PLATFORMS
from archiver.model import KINDS, STATUSES
from indexer import FACET_FIELDS, MAX_PER_PAGE, SORTS
from indexer.query import DEFAULT_PER_PAGE, MAX_ACCOUNT_CHARS, MAX_QUERY_CHARS, MAX_RESULT_WINDOW
from portal.downloads import CSV_COLUMNS, MAX_ROWS, RESULT_TEXT_CHARS
from portal.ledger import MAX_NUMBER_DIGITS

Schema = dict[str, Any]

HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
NO_CONTROL = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"  # control characters are refused with a 400
NULLABLE_STRING = {"type": ["string", "null"]}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _choice(values: tuple[str, ...]) -> Schema:
    return {"type": "string", "enum": [*values, ""]}  # empty counts as absent


def _or_empty(schema: Schema) -> Schema:
    """An optional parameter: sent empty (`?page=`) it counts as absent."""
    return {"anyOf": [schema, {"const": ""}]}


DATE = _or_empty({"type": "string", "format": "date"})


SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {"type": "string", "description": "What is wrong, for a person to fix the request."}},
    },
    "WarcRef": {
        "type": "object", "required": ["key", "offset", "length"],
        "description": "The WARC object in the store and the byte range of the HTTP exchange in it.",
        "properties": {"key": {"type": "string"}, "offset": {"type": "integer", "minimum": 0},
                       "length": {"type": "integer", "minimum": 0}},
    },
    "Withheld": {
        "type": "object", "description": "Legal bases for withholding this version's original bytes from the public.",
        "properties": {"raw": {"type": "array", "items": {"type": "string"}},
                       "capture": {"type": "array", "items": {"type": "string"}}},
    },
    "VersionSummary": {
        "type": "object", "required": ["version", "captured_at", "status", "content_sha256", "warc_ref", "ledger_index"],
        "description": "A captured version without its text.",
        "properties": {
            "version": {"type": "integer", "minimum": 1},
            "captured_at": {"type": "string", "description": "RFC 3339, UTC."},
            "status": {"type": "string", "enum": list(STATUSES)},
            "content_sha256": HEX64,
            "warc_ref": _ref("WarcRef"),
            "ledger_index": {"type": ["integer", "null"], "minimum": 0},
            "withheld": _ref("Withheld"),
        },
    },
    "Version": {
        "description": "A captured version: its status, content hash, capture and ledger entry, and its text.",
        "allOf": [_ref("VersionSummary"), {"type": "object", "required": ["text"],
                                          "properties": {"text": NULLABLE_STRING}}],
    },
    "Media": {
        "type": "object", "required": ["url"],
        "properties": {"url": {"type": "string"}, "sha256": NULLABLE_STRING, "mime": NULLABLE_STRING},
    },
    "RecordFields": {
        "type": "object",
        "required": ["record_id", "platform", "account", "kind", "native_id", "url", "author",
                     "author_is_department", "created_at", "text", "parent_id", "thread_id", "media",
                     "status", "versions", "sha256", "ledger_index"],
        "properties": {
            "record_id": {"type": "string"},
            "platform": {"type": "string", "enum": list(PLATFORMS)},
            "account": {"type": "string"},
            "kind": {"type": "string", "enum": list(KINDS)},
            "native_id": {"type": "string", "description": "The platform's id."},
            "url": {"type": "string"},
            "author": {"type": "string"},
            "author_is_department": {"type": "boolean"},
            "created_at": {"type": "string", "description": "As the platform gives it."},
            "text": {"type": "string", "description": "The latest text."},
            "parent_id": {**NULLABLE_STRING, "description": "Record id; null for a post."},
            "thread_id": {"type": "string"},
            "media": {"type": "array", "items": _ref("Media")},
            "status": {"type": "string", "enum": list(STATUSES), "description": "The latest version's."},
            "sha256": {**HEX64, "description": "The latest version's content_sha256."},
            "ledger_index": {"type": ["integer", "null"], "minimum": 0},
            "versions": {"type": "array"},
        },
    },
    "Record": {
        "description": "A record with every version, oldest first.",
        "allOf": [_ref("RecordFields"),
                  {"type": "object", "properties": {"versions": {"type": "array", "items": _ref("Version")}}}],
    },
    "ResultRow": {
        "description": f"A search result without its highlight (a download row): the text up to "
                     f"{RESULT_TEXT_CHARS} characters, only the latest version, without its text.",
        "allOf": [_ref("RecordFields"), {
            "type": "object", "required": ["text_truncated", "version_count"],
            "properties": {
                "text": {"type": "string", "maxLength": RESULT_TEXT_CHARS},
                "text_truncated": {"type": "boolean"},
                "version_count": {"type": "integer", "minimum": 0},
                "versions": {"type": "array", "maxItems": 1, "items": _ref("VersionSummary")},
            },
        }],
    },
    "SearchResult": {
        "allOf": [_ref("ResultRow"), {
            "type": "object", "required": ["highlight"],
            "properties": {"highlight": {"type": "string",
                                         "description": "The matching text as escaped HTML with <mark> around matches."}},
        }],
    },
    "Facets": {
        "type": "object", "required": list(FACET_FIELDS), "additionalProperties": COUNTS,
        "description": "Per field, each value's count over the whole filtered result.",
        "properties": {name: COUNTS for name in FACET_FIELDS},
    },
    "SearchPage": {
        "type": "object", "required": ["total", "results", "facets", "page", "per_page", "timeline"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "results": {"type": "array", "maxItems": MAX_PER_PAGE, "items": _ref("SearchResult")},
            "facets": _ref("Facets"),
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            "timeline": {"type": "object", "description": "Records created per month (YYYY-MM).",
                         "propertyNames": {"pattern": "^[0-9]{4}-[0-9]{2}$"},
                         "additionalProperties": {"type": "integer", "minimum": 0}},
        },
    },
    "InclusionProof": {
        "type": "object", "required": ["index", "size", "leaf_hash", "proof", "root"],
        "description": "RFC 9162 §2.1.3 inclusion proof of entry `index` in the tree of `size` entries.",
        "properties": {"index": {"type": "integer", "minimum": 0}, "size": {"type": "integer", "minimum": 1},
                       "leaf_hash": HEX64, "proof": {"type": "array", "items": HEX64}, "root": HEX64},
    },
    "ConsistencyProof": {
        "type": "object", "required": ["old", "new", "proof"],
        "description": "RFC 9162 §2.1.4 consistency proof: the tree of `old` entries is a prefix of the one of `new`.",
        "properties": {"old": {"type": "integer", "minimum": 0}, "new": {"type": "integer", "minimum": 1},
                       "proof": {"type": "array", "items": HEX64}},
    },
}

RETRY_AFTER = {"description": "Seconds to wait before trying again.", "schema": {"type": "integer", "minimum": 1}}
_ERROR_JSON = {"application/json": {"schema": _ref("Error")}}
RESPONSES: dict[str, Schema] = {
    "BadRequest": {"description": "A parameter is not valid; the message names it and the accepted range.",
                   "content": _ERROR_JSON},
    "NotFound": {"description": "Nothing at this address.", "content": _ERROR_JSON},
    "TooManyRequests": {"description": "This client is over its rate limit.", "content": _ERROR_JSON,
                        "headers": {"Retry-After": RETRY_AFTER}},
    "Withheld": {"description": "Unavailable for legal reasons (RFC 7725): withheld bytes, naming the basis.",
                 "content": _ERROR_JSON},
    "Unavailable": {"description": "A backend (the search index or the object store) is not answering.",
                    "content": _ERROR_JSON, "headers": {"Retry-After": RETRY_AFTER}},
}


def _param(name: str, schema: Schema, description: str, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


SEARCH_FILTERS = [
    _param("q", {"type": "string", "maxLength": MAX_QUERY_CHARS, "pattern": NO_CONTROL},
           "Search text (the language is in docs/interface.md): words all required, \"phrase\", OR, -exclude, "
           "prefix*. Bounded in clauses, prefixes and words; a search over a bound is a 400 naming it."),
    _param("platform", _choice(PLATFORMS), "Only this platform."),
    _param("account", {"type": "string", "maxLength": MAX_ACCOUNT_CHARS, "pattern": NO_CONTROL}, "Only this account."),
    _param("kind", _choice(KINDS), "Only this kind."),
    _param("status", _choice(STATUSES), "Only records whose latest version has this status."),
    _param("from", DATE, "Created on or after this day (YYYY-MM-DD); not after `to`."),
    _param("to", DATE, "Created on or before this day (YYYY-MM-DD)."),
    _param("sort", _choice(SORTS), "Order: relevance (the default with search text), newest (the default "
           "without), or oldest."),
]
PAGING = [
    _param("page", _or_empty({"type": "integer", "minimum": 1, "maximum": MAX_RESULT_WINDOW, "default": 1}),
           f"Page number; page × per_page may not pass {MAX_RESULT_WINDOW}."),
    _param("per_page", _or_empty({"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                                  "default": DEFAULT_PER_PAGE}),
           "Results per page."),
]
LEDGER_NUMBER = {"type": "integer", "minimum": 0, "maximum": 10 ** MAX_NUMBER_DIGITS - 1}


def _errors(*names: str) -> dict[str, Schema]:
    codes = {"BadRequest": "400", "NotFound": "404", "TooManyRequests": "429", "Withheld": "451", "Unavailable": "503"}
    return {codes[name]: {"$ref": f"#/components/responses/{name}"} for name in names}


def _download(kind: str, media_type: str, body: str) -> Schema:
    count = {"schema": {"type": "integer", "minimum": 0}}
    return {"get": {
        "operationId": f"search_{kind}",
        "summary": f"A search's results as {body} (streamed, at most {MAX_ROWS} rows)",
        "description": (f"The parameters of /api/v1/search (`page` and `per_page` are validated, then ignored); "
                        f"the first {MAX_ROWS} results in the search's order. Rate-limited more strictly than "
                        "the other routes (the `downloads` bucket)."),
        "parameters": SEARCH_FILTERS + PAGING,
        "responses": {
            "200": {"description": f"{body}, UTF-8.", "content": {media_type: {"schema": {"type": "string"}}},
                    "headers": {
                        "X-Total-Count": {**count, "description": "Every match of the search."},
                        "X-Sunshine-Rows": {**count, "description": "Rows in this file (a broken stream has fewer)."},
                        "X-Sunshine-Max-Rows": {**count, "description": "The most rows a download holds."},
                        "X-Sunshine-Truncated": {"schema": {"type": "string", "enum": ["true", "false"]},
                                                 "description": "true when matches were left out."},
                    }},
            **_errors("BadRequest", "TooManyRequests", "Unavailable"),
        },
    }}


def _json_get(operation: str, summary: str, schema: Schema, parameters: list[Schema], errors: tuple[str, ...]) -> Schema:
    return {"get": {"operationId": operation, "summary": summary, "parameters": parameters,
                    "responses": {"200": {"description": summary, "content": {"application/json": {"schema": schema}}},
                                  **_errors(*errors)}}}


@cache
def document() -> Schema:
    """The OpenAPI 3.1 document (built once per process: it depends only on constants)."""
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Sunshine public archive API", "version": "1",
            "description": "Read-only access to the archive's search read model and its Merkle ledger proofs. "
                           "Only GET (and HEAD) are accepted. Every client is rate-limited (429 with Retry-After).",
        },
        "paths": {
            "/api/v1/search": _json_get("search", "One page of search results, with facets and a monthly timeline",
                                        _ref("SearchPage"), SEARCH_FILTERS + PAGING,
                                        ("BadRequest", "TooManyRequests", "Unavailable")),
            "/api/v1/search.csv": _download("csv", "text/csv", "CSV with a header row (formula-like cells "
                                            "prefixed with ')"),
            "/api/v1/search.jsonl": _download("jsonl", "application/jsonl", "JSON Lines (one ResultRow a line)"),
            "/api/v1/records/{record_id}": _json_get(
                "record", "One record with every version", _ref("Record"),
                [{"name": "record_id", "in": "path", "required": True, "description": "`<platform>-<the platform's id>`",
                  "schema": {"type": "string", "minLength": 3, "maxLength": 300, "pattern": "^[a-z]+-"}}],
                ("NotFound", "TooManyRequests", "Unavailable")),
            "/api/v1/proof/inclusion": _json_get(
                "inclusion_proof", "Inclusion proof of a ledger entry", _ref("InclusionProof"),
                [_param("index", LEDGER_NUMBER, "The entry's index.", required=True),
                 _param("size", _or_empty(LEDGER_NUMBER), "Tree size (default: the latest checkpoint's).")],
                ("BadRequest", "NotFound", "TooManyRequests", "Unavailable")),
            "/api/v1/proof/consistency": _json_get(
                "consistency_proof", "Consistency proof between two tree sizes", _ref("ConsistencyProof"),
                [_param("old", LEDGER_NUMBER, "The older tree size.", required=True),
                 _param("new", _or_empty(LEDGER_NUMBER), "The newer tree size (default: the latest checkpoint's).")],
                ("BadRequest", "NotFound", "TooManyRequests", "Unavailable")),
            "/api/v1/openapi.json": _json_get("openapi", "This document", {"type": "object"}, [],
                                              ("TooManyRequests",)),
        },
        "components": {"schemas": SCHEMAS, "responses": RESPONSES},
        "x-csv-columns": list(CSV_COLUMNS),
    }
