"""What changed, publicly: `/changes` and `/changes.atom`, every edit, hide, deletion and restoration.

The list comes from the read model's change log (`indexer.changes`, the same on both backends),
newest detection first; each change links to its version on the record page, where the diff from the
previous version is shown. Parameters are validated by `indexer.changes.parse_change_args` (a 400
names the fault); pages are bounded (`MAX_CHANGE_WINDOW`) and the feed holds at most `FEED_ENTRIES`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for

from indexer.changes import CHANGE_KINDS, Change, ChangeQuery, parse_change_args
from indexer.query import QueryError
from portal.backends import index
from portal.feeds import FEED_ENTRIES, Entry, atom_response, tag_uri

bp = Blueprint("changes", __name__)

ARGS = ("platform", "account", "change", "from", "to")
VERBS = {"edit": "Edited", "hide": "Hidden", "delete": "Deleted", "restore": "Restored"}


@bp.get("/changes")
def changes() -> str:
    query = _query()
    page = index().changes(query)
    args = _args()
    last = max(1, -(-page.total // page.per_page))
    return render_template(
        "changes.html", page=page, args=args, verbs=VERBS, kinds=CHANGE_KINDS, last_page=last,
        kind_links=[{"kind": kind, "count": page.counts.get(kind, 0), "active": kind == query.change,
                     "url": _url(args, change=kind)} for kind in CHANGE_KINDS],
        clear_kind=_url(args, change=None) if query.change else None,
        prev=_url(args, page=str(page.page - 1)) if page.page > 1 else None,
        next=_url(args, page=str(page.page + 1)) if page.page < last else None,
        feed=url_for("changes.feed", **args), diff_url=diff_url)


@bp.get("/changes.atom")
def feed() -> Response:
    args = _args()
    page = index().changes(_query(per_page=FEED_ENTRIES))
    return atom_response(
        feed_id=tag_uri("changes", *(f"{key}={value}" for key, value in sorted(args.items()))),
        title="Changes to archived posts and replies" + (f" ({', '.join(args.values())})" if args else ""),
        self_path=url_for("changes.feed", **args), html_path=url_for("changes.changes", **args),
        entries=[_entry(change) for change in page.changes])


def diff_url(change: Change) -> str:
    """The changed version on its record page: its status, and the diff from the version before."""
    return url_for("public.record", record_id=change.record_id, _anchor=f"v{change.version}")


def _entry(change: Change) -> Entry:
    what = f"{VERBS[change.change]}: {change.kind} by {change.author} on {change.platform} ({change.account})"
    return Entry(id=tag_uri("change", change.record_id, change.version), title=what,
                 updated=change.detected_at, published=change.detected_at, author=change.author,
                 link=diff_url(change),
                 summary=f"{what}. Posted {change.created_at}; change seen {change.detected_at}. {change.summary}")


def _query(per_page: int | None = None) -> ChangeQuery:
    args: dict[str, Any] = {key: value for key, value in request.args.items() if key != "per_page"}
    if per_page is not None:  # the feed: always its first page, of a fixed size
        args.pop("page", None)
    try:
        query = parse_change_args(args)
    except QueryError as exc:
        abort(400, str(exc))
    if per_page is not None:
        query = replace(query, per_page=per_page)
    return query


def _args() -> dict[str, str]:
    return {key: value for key in ARGS if (value := request.args.get(key, ""))}


def _url(args: dict[str, str], **changes: str | None) -> str:
    merged = {key: value for key, value in args.items() if key not in changes}
    merged.update({key: value for key, value in changes.items() if value})
    return url_for("changes.changes", **merged)

