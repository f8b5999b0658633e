"""The public HTML pages: home, search, record (with thread and versions), raw bytes, captures.

Views stay thin: the read model does the searching (`indexer`), `archive` reads stored bytes,
`thread` and `textdiff` shape data for the templates, which escape everything they print.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from archiver.errors import SunshineError
from archiver.model import RecordDoc
from indexer import FACET_FIELDS, SORTS, SearchPage, SearchQuery
from portal import archive
from portal.backends import STORE_PART, BackendDown, index, store
from portal.charts import month_bounds, month_series, month_svg
from portal.search_args import parse_args
from portal.security import CAPTURE_CSP
from portal.textdiff import diff_texts
from portal.thread import nest

bp = Blueprint("public", __name__)

LATEST_ON_HOME = 10
# A version's bytes never change (its URL names the version, its ETag is their sha256); the URL
# without `version` means "the latest", which a new capture replaces, so caches must ask again soon.
CACHE_VERSIONED = "public, max-age=31536000, immutable"
CACHE_LATEST = "public, max-age=60"
THREAD_LIMIT = 500
HTML_ARGS = ("q", "platform", "account", "kind", "status", "from", "to", "sort", "page")
SORT_LABELS = {"relevance": "Best match", "newest": "Newest first", "oldest": "Oldest first"}


@bp.get("/")
def home() -> str:
    counts = index().counts()
    return render_template("home.html", counts=sorted(counts.items()), total=sum(counts.values()),
                           latest=index().latest(LATEST_ON_HOME))


@bp.get("/search")
def search() -> str:
    # The HTML page always shows the default page size; per_page is an API parameter.
    args = MultiDict([(key, value) for key, value in request.args.items(multi=True) if key != "per_page"])
    query = parse_args(args)
    page = index().search(query)
    series = month_series(page.timeline)
    return render_template("search.html", query=query, page=page, args=_current_args(),
                           facets=_facet_links(query, page), pages=_pagination(page),
                           last_page=_last_page(page), sorts=_sort_links(query),
                           series=series, chart=month_svg(series, title="Results per month", chart_id="timeline"),
                           month_url=_month_url, current_month=_current_month(query),
                           account_link=_account_link(query, page))


@bp.get("/records/<record_id>")
def record(record_id: str) -> str:
    doc = _get_record(record_id)
    thread = index().thread(doc.thread_id) if doc.thread_id else []
    thread_size = len(thread)
    if thread_size > THREAD_LIMIT:  # a viral post: show the start of the conversation, not all of it
        thread = thread[:THREAD_LIMIT]
    if not any(item.record_id == doc.record_id for item in thread):
        thread = [*thread, doc]
        thread_size = max(thread_size, len(thread))
    versions = _version_rows(doc)
    return render_template("record.html", record=doc, versions=versions, thread=nest(thread),
                           thread_size=thread_size, thread_shown=len(thread), withheld_raw=_redacted_bases(doc))


@bp.get("/records/<record_id>/raw")
def raw(record_id: str) -> Response:
    doc = _get_record(record_id)
    version = _pick(doc)
    _refuse_withheld(doc, version, "raw")
    try:
        sha256, data = archive.read_raw(store(), version)
    except archive.NotStored as exc:
        abort(404, str(exc))
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Cache-Control": _cache_control(),
               "Content-Disposition": f'inline; filename="{doc.record_id}-v{version.get("version")}.json"'}
    if request.if_none_match.contains(sha256):
        return Response(status=304, headers=headers)
    return Response(data, status=200, headers=headers, content_type="application/json; charset=utf-8")


@bp.get("/records/<record_id>/capture")
def capture(record_id: str) -> Response:
    doc = _get_record(record_id)
    version = _pick(doc)
    wanted = request.args.get("format", "")
    if wanted not in ("", "warc"):
        abort(400, f"format must be 'warc' or left out, got {wanted!r}")
    _refuse_withheld(doc, version, "capture")
    try:
        captured = archive.read_capture(store(), version)
    except archive.NotStored as exc:
        abort(404, str(exc))
    except SunshineError as exc:
        raise BackendDown(STORE_PART, str(exc)) from exc
    headers = {
        "X-Sunshine-Warc": f"{captured.warc_key}#{captured.warc_offset}",
        # Other people's bytes served from our origin: sandboxed, never scripted, never framed.
        "Content-Security-Policy": CAPTURE_CSP,
        "Cache-Control": _cache_control(),
    }
    if wanted == "warc":
        name = f"{doc.record_id}-v{version.get('version')}.warc.gz"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Response(captured.warc_member, headers=headers, content_type="application/warc")
    if captured.content_encoding == "gzip" and captured.body[:2] == b"\x1f\x8b":
        headers["Content-Encoding"] = "gzip"  # still compressed as sent: let the client decode it
    return Response(captured.body, headers=headers, content_type=captured.content_type)


@bp.get("/healthz")
def healthz() -> Response:
    down = []
    for part, backend in (("search index", index()), ("object store", store())):
        try:
            backend.ping()
        except BackendDown:
            down.append(part)
    if down:
        return Response(f"down: {', '.join(down)}\n", status=503, mimetype="text/plain",
                        headers={"Cache-Control": "no-store"})
    return Response("ok\n", status=200, mimetype="text/plain", headers={"Cache-Control": "no-store"})


def _get_record(record_id: str) -> RecordDoc:
    if len(record_id) > 300:
        abort(404, "There is no record with that id.")
    doc = index().get(record_id)
    if doc is None:
        abort(404, f"There is no record with the id {record_id!r} in this archive.")
    return doc


def _pick(doc: RecordDoc) -> dict[str, Any]:
    try:
        return archive.pick_version(doc, request.args.get("version"))
    except ValueError as exc:
        abort(400, str(exc))
    except archive.NotStored as exc:
        abort(404, str(exc))


def _redacted_bases(doc: RecordDoc) -> list[str]:
    """The legal bases the record's redactions name (none: not redacted)."""
    return sorted({basis for version in doc.versions for basis in (version.get("withheld") or {}).get("raw", [])})


def _refuse_withheld(doc: RecordDoc, version: dict[str, Any], part: str) -> None:
    """451 Unavailable For Legal Reasons (RFC 7725) for bytes a redaction withholds, naming the basis.

    The read model marks them (`archiver.redaction.apply_redactions`): a redacted record's raw JSON
    and captures, and any capture (a thread page) that also holds a redacted record.
    """
    bases = (version.get("withheld") or {}).get(part)
    if bases:
        what = "original JSON" if part == "raw" else "original capture"
        raise Withheld(f"The {what} of version {version.get('version')} of {doc.record_id} is withheld from the "
                       f"public under {'; '.join(bases)}: it holds redacted content. The record's public text is "
                       "on its page; the original is kept unchanged in the archive for auditors.")


class Withheld(HTTPException):
    code = 451
    description = "Unavailable for legal reasons."


def _cache_control() -> str:
    return CACHE_VERSIONED if request.args.get("version") else CACHE_LATEST


def _version_rows(doc: RecordDoc) -> list[dict[str, Any]]:
    """Versions oldest first, each with the diff from the previous version that had text."""
    rows: list[dict[str, Any]] = []
    previous_text: str | None = None
    for version in doc.versions:
        status = version.get("status", "active")
        text = version.get("text")
        diff = None
        if status != "deleted" and text is not None and previous_text is not None:
            diff = diff_texts(previous_text, text)
        if status != "deleted" and text is not None:
            previous_text = text
        rows.append({"v": version, "status": status, "diff": diff,
                     "warc": version.get("warc_ref") or {}, "withheld": version.get("withheld") or {}})
    return rows


def _current_args() -> dict[str, str]:
    return {key: value for key in HTML_ARGS if (value := request.args.get(key, "")) != ""}


def _search_url(args: dict[str, str], **changes: str | None) -> str:
    merged = dict(args)
    for key, value in changes.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if "page" not in changes:
        merged.pop("page", None)  # a new filter starts again at page 1
    return url_for("public.search", **merged)


def _facet_links(query: SearchQuery, page: SearchPage) -> list[dict[str, Any]]:
    args = _current_args()
    groups = []
    for name in FACET_FIELDS:
        values = page.facets.get(name) or {}
        active = getattr(query, name, None)
        items = [{"value": value, "count": count, "active": value == active,
                  "url": _search_url(args, **{name: value})}
                 for value, count in sorted(values.items(), key=lambda item: (-item[1], item[0]))[:20]]
        if items or active:
            groups.append({"name": name, "items": items, "active": active,
                           "clear_url": _search_url(args, **{name: None}) if active else None})
    return groups


def _last_page(page: SearchPage) -> int:
    return max(1, -(-page.total // max(1, page.per_page)))


def _pagination(page: SearchPage) -> dict[str, str | None]:
    args = _current_args()
    last = _last_page(page)
    return {
        "prev": _search_url(args, page=str(page.page - 1)) if page.page > 1 else None,
        "next": _search_url(args, page=str(page.page + 1)) if page.page < last else None,
    }


def _sort_links(query: SearchQuery) -> list[dict[str, Any]]:
    """The orders a search can take, as links; the one in force is marked, not linked."""
    args = _current_args()
    current = query.order(ranked=bool(query.text.strip()))
    offered = SORTS if query.text.strip() else tuple(sort for sort in SORTS if sort != "relevance")
    return [{"sort": sort, "label": SORT_LABELS[sort], "active": sort == current,
             "url": _search_url(args, sort=sort)} for sort in offered]


def _month_url(month: str) -> str:
    """The current search limited to one "YYYY-MM" month (a linked month facet)."""
    first, last = month_bounds(month)
    return _search_url(_current_args(), **{"from": first, "to": last})


def _current_month(query: SearchQuery) -> str | None:
    """The month the search is limited to, when its dates are exactly one whole month."""
    if query.date_from and query.date_to and query.date_from[:7] == query.date_to[:7]:
        month = query.date_from[:7]
        if (query.date_from, query.date_to) == month_bounds(month):
            return month
    return None


def _account_link(query: SearchQuery, page: SearchPage) -> str | None:
    """The account page of the account the search is filtered to, when its platform is known too."""
    if query.account is None:
        return None
    platforms = [name for name, count in (page.facets.get("platform") or {}).items() if count]
    platform = query.platform or (platforms[0] if len(platforms) == 1 else None)
    if platform is None:
        return None
    return url_for("accounts.account", platform=platform, account=query.account)
