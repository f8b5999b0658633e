"""Account pages, `/accounts/<platform>/<account>`: one archived account's counts, activity and latest posts.

Everything comes from two searches of the read model filtered to the account (no text, so on SQLite
they are counted from the per-day counts table and paged off the newest-first index, and on
Elasticsearch the counting request sits in the shard request cache): the first gives the totals by
kind and by status and the per-month timeline, the second the latest posts. No page reads every
record of an account. An account with no records is a 404; an account name the read model could never
hold (too long, control characters) is a 400 naming the problem.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, url_for

from archiver.config import PLATFORMS
from archiver.model import KINDS, STATUSES
from indexer import SearchQuery
from indexer.query import QueryError, parse_search_args
from portal.backends import index
from portal.charts import month_label, month_series, month_svg

bp = Blueprint("accounts", __name__)
bp.add_app_template_filter(month_label, "month_label")

LATEST_POSTS = 10


@bp.get("/accounts/<platform>/<path:account>", merge_slashes=False)  # RSS accounts are URLs ("//")
def account(platform: str, account: str) -> str:
    if platform not in PLATFORMS:
        abort(404, f"There is no platform {platform[:40]!r} in this archive; the platforms are {', '.join(PLATFORMS)}.")
    try:
        query = parse_search_args({"platform": platform, "account": account, "per_page": "1"})
    except QueryError as exc:
        abort(400, f"That is not an account name: {exc}")
    if query.account != account:  # surrounding spaces: a different account, which the index cannot hold
        abort(404, "There is no account with that name in this archive.")
    overview = index().search(query)
    if overview.total == 0:
        abort(404, f"The archive holds nothing from the account {account[:80]!r} on {platform}.")
    posts = index().search(SearchQuery(platform=platform, account=account, kind="post", per_page=LATEST_POSTS))
    series = month_series(overview.timeline)
    return render_template(
        "account.html", platform=platform, account=account, total=overview.total,
        by_kind=[(kind, overview.facets.get("kind", {}).get(kind, 0)) for kind in KINDS],
        by_status=[(status, overview.facets.get("status", {}).get(status, 0)) for status in STATUSES],
        series=series, chart=month_svg(series, title=f"Records per month from {account} on {platform}",
                                       chart_id="activity"),
        posts=posts.hits, posts_total=posts.total,
        search_url=url_for("public.search", platform=platform, account=account),
        changes_url=url_for("changes.changes", platform=platform, account=account),
        month_url=lambda month: month_search_url(month, platform=platform, account=account))


@bp.app_template_global()
def account_url(platform: str, account: str) -> str:
    """The account page's address (templates link record pages and facets here)."""
    return url_for("accounts.account", platform=platform, account=account)


def month_search_url(month: str, **args: str) -> str:
    """A search limited to one "YYYY-MM" month, keeping `args` (the other filters)."""
    from portal.charts import month_bounds

    first, last = month_bounds(month)
    return url_for("public.search", **{**args, "from": first, "to": last})
