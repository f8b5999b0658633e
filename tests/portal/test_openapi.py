"""`/api/v1/openapi.json`: it describes every `/api/v1` route the app serves, and the app keeps to it.

schemathesis (in-process, against the Flask app) generates requests from the document, valid and
invalid, for every operation, on the standard test archive with a small signed ledger in its store,
and checks that no response is a 5xx and that each one's status, content type, headers and body are
what the document says. It does not check that every schema-valid request is accepted: some limits
span parameters (page × per_page, `from` ≤ `to`, clauses in `q`) and JSON Schema cannot state them,
so such a request is a documented 400.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from archiver.config import load_config
from archiver.ledger import log
from portal import create_app
from portal.openapi import document
from tests.portal.conftest import Archive, ArchiveBuilder, build_standard, open_sqlite_index, write_config

LEDGER_SIZE = 40
EXAMPLES = 40  # per operation and generation mode: the whole run stays well under a minute
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def api_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The standard archive on each search backend, with a signed ledger so the proof routes answer 200 too."""
    root = tmp_path_factory.mktemp("openapi")
    builder = ArchiveBuilder(root)
    build_standard(builder)
    builder.finish()
    signer = log.load_or_create_signer(root / "keys" / "ledger.key", "openapi-test.example/log")
    log.append_entries(builder.store, 0, [log.entry_for_capture(f"bluesky-p{i}", 1, "2026-01-01T00:00:00Z", f"{i:064x}")
                                          for i in range(LEDGER_SIZE)])
    log.sign_checkpoint(builder.store, signer, "openapi-test.example/log")
    if request.param == "elasticsearch":
        from indexer.elastic import ElasticIndex

        index = ElasticIndex(request.getfixturevalue("es_url"), f"test-openapi-{uuid.uuid4().hex[:10]}")
    else:
        index = open_sqlite_index(root / "search.sqlite")
    index.rebuild(builder.docs)
    yield create_app(load_config(write_config(root)), index=index, settings={"RATE_LIMIT_PER_MINUTE": 0})
    index.close()


def openapi_path(rule: str) -> str:
    """A Flask rule (`/records/<record_id>`, `<path:x>`) written as an OpenAPI path (`/records/{record_id}`)."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def api_rules(app) -> Iterator[tuple[str, set[str]]]:
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            yield openapi_path(rule.rule), {method.lower() for method in rule.methods or ()} - {"head", "options"}


def undescribed(app) -> list[str]:
    """Every way the app's /api/v1 routes and the document disagree."""
    paths = document()["paths"]
    served = dict(api_rules(app))
    problems = [f"{path} is served but not described in portal/openapi.py" for path in served if path not in paths]
    problems += [f"{path}: {sorted(methods - set(paths[path]))} not described"
                 for path, methods in served.items() if path in paths and not methods <= set(paths[path])]
    return problems + [f"{path} is described but not served" for path in paths if path not in served]


def test_every_api_route_is_described(app) -> None:
    assert dict(api_rules(app)), "no /api/v1 route found: the test would pass vacuously"
    assert undescribed(app) == []


def test_a_route_missing_from_the_document_is_caught(archive: Archive) -> None:
    """The check really reads the app: a new /api/v1 route without a description fails it."""
    app = create_app(load_config(archive.config_path))
    app.add_url_rule("/api/v1/undocumented/<item_id>", "undocumented", lambda item_id: item_id)
    assert undescribed(app) == ["/api/v1/undocumented/{item_id} is served but not described in portal/openapi.py"]


def test_document_is_openapi_3_1_and_served(client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    assert body["openapi"].startswith("3.1.")
    assert body == document()
    for status in ("400", "404", "429", "451", "503"):
        name = {"400": "BadRequest", "404": "NotFound", "429": "TooManyRequests", "451": "Withheld",
                "503": "Unavailable"}[status]
        assert body["components"]["responses"][name]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}


def test_document_is_valid_openapi() -> None:
    """schemathesis loads it and finds an operation for every described path and method."""
    schema = schemathesis.openapi.from_dict(document())
    labels = {operation.ok().label for operation in schema.get_all_operations()}
    described = {f"{method.upper()} {path}" for path, item in document()["paths"].items() for method in item}
    assert described <= labels


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value)
def test_schemathesis_finds_no_5xx_and_no_response_off_the_schema(api_app, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def run(case) -> None:
            case.call_and_validate(checks=checks)

        try:
            run()
        except Exception as exc:  # gather every operation's failures, not only the first
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_every_record_and_a_full_search_page_keep_to_the_schema(api_app) -> None:
    """Random ids never find a record, so each real one is validated here, and a page of every result."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)
    record = schema["/api/v1/records/{record_id}"]["GET"]
    with api_app.test_client() as client:
        ids = [row["record_id"] for row in client.get("/api/v1/search?per_page=100").get_json()["results"]]
    assert len(ids) >= 30
    for record_id in ids:
        response = record.Case(path_parameters={"record_id": record_id}).call_and_validate(checks=CHECKS)
        assert response.status_code == 200
    search = schema["/api/v1/search"]["GET"]
    for query in ({"per_page": 100}, {"q": "parade", "per_page": 100}, {"q": "-bulletin"}):
        assert search.Case(query=query).call_and_validate(checks=CHECKS).status_code == 200


@pytest.mark.parametrize(("path", "query"), [
    ("/api/v1/proof/inclusion", {"index": 0}), ("/api/v1/proof/inclusion", {"index": 39, "size": 40}),
    ("/api/v1/proof/consistency", {"old": 1}), ("/api/v1/proof/consistency", {"old": 17, "new": 40}),
])
def test_proofs_keep_to_the_schema(api_app, path: str, query: dict[str, int]) -> None:
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)[path]["GET"]
    assert operation.Case(query=query).call_and_validate(checks=CHECKS).status_code == 200
