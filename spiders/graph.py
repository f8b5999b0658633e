"""What every Meta Graph API puller shares (Facebook Pages, Instagram professional accounts).

Graph speaks one dialect whatever the node: `GET /{id}[/{edge}]?fields=…&limit=…&after=…`,
cursor pages `{"data": [...], "paging": {"cursors": {"before", "after"}, "next"?}}` (no `next` on
the last page), times like `2026-01-05T14:03:00+0000`, and errors
`{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}`:

* code 100 with subcode 33 ("Object with ID … does not exist") is the documented "gone" answer to a
  request for one object: the deletion sweep's tombstone;
* code 190 is an expired, revoked or unparseable access token;
* codes 4 (application), 17 (user), 32 (Page), 613 (custom) and 80002 (Instagram business use case)
  are throttling; `spiders.middlewares` retries them (each spider's `throttle_codes`), and the usage
  headers `X-App-Usage` / `X-Business-Use-Case-Usage` say how much of the budget is spent.

The token travels in an `Authorization: OAuth <token>` header, never the `access_token` query
parameter: Graph copies the request's query into `paging.next`, so a query token would end up in the
response body, which the archive keeps byte-exact and publishes.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from scrapy.http import Request

from archiver.model import Tombstone
from spiders.base import ApiSpider, Outcome, PayloadError

THROTTLE_CODES = frozenset({4, 17, 32, 613})
NOT_FOUND_CODE = 100
NOT_FOUND_SUBCODE = 33
TOKEN_CODE = 190
USAGE_HEADERS = ("X-App-Usage", "X-Business-Use-Case-Usage")


def expect_dict(obj: Any, where: str) -> dict[str, Any]:
    """`obj` if it is a JSON object, else a PayloadError naming `where`."""
    if not isinstance(obj, dict):
        raise PayloadError(f"{where}: expected an object, got {type(obj).__name__}")
    return obj


def expect_str(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    """`obj[key]` if it is a string ("" when absent and not `required`), else a PayloadError."""
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def expect_bool(obj: dict[str, Any], key: str, where: str) -> bool:
    """`obj[key]` if it is true or false (False when absent), else a PayloadError."""
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise PayloadError(f"{where}.{key}: expected true or false, got {type(value).__name__}")
    return value


def edge_data(payload: Any, where: str = "response") -> list[Any]:
    """The `data` list of an edge page."""
    data = expect_dict(payload, where).get("data")
    if not isinstance(data, list):
        raise PayloadError(f"{where}.data: expected a list, got {type(data).__name__}")
    return data


def rfc3339(graph_time: str) -> str:
    """`2026-01-05T14:03:00+0000` → `2026-01-05T14:03:00Z` (other offsets become `+HH:MM`)."""
    if graph_time.endswith("+0000"):
        return graph_time[:-5] + "Z"
    if len(graph_time) > 5 and graph_time[-5] in "+-" and graph_time[-4:].isdigit():
        return f"{graph_time[:-2]}:{graph_time[-2:]}"
    return graph_time


def next_cursor(payload: Any) -> str | None:
    """The `after` cursor when the page has a `paging.next` (absent on the last page)."""
    paging = payload.get("paging") if isinstance(payload, dict) else None
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and after else None


def graph_error(payload: Any) -> dict[str, Any]:
    """The `error` object of a Graph error body ({} when there is none)."""
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else {}


def is_gone(error: dict[str, Any]) -> bool:
    """Graph's "object does not exist": code 100 with subcode 33.

    The words alone are not enough: Graph also says "Object does not exist, cannot be loaded due to
    missing permission" (code 100, no subcode) when a token lacks a permission, and a deletion is
    recorded only when the platform confirms the object is gone.
    """
    return error.get("code") == NOT_FOUND_CODE and error.get("error_subcode") == NOT_FOUND_SUBCODE


def token_refused(status: int, payload: Any) -> bool:
    """Graph refused the access token (error code 190: expired, revoked, unparseable) or HTTP 401:
    the source stops, its other requests would get the same answer."""
    return status == 401 or graph_error(payload).get("code") == TOKEN_CODE


class GraphSpider(ApiSpider):
    """A puller of one Graph node's edges: header token, Graph URLs, Graph error answers.

    `token_what` names the token in the renew hint ("Page access token"); `throttle_codes` are the
    error codes the retry middleware treats as throttling for this platform.
    """

    token_what: ClassVar[str] = "access token"
    throttle_codes: ClassVar[frozenset[int]] = THROTTLE_CODES

    def graph_url(self, path: str, params: dict[str, Any]) -> str:
        """`{base}/{path}?{params}` with Graph's `fields={…}` syntax left readable."""
        return f"{self.base_url}/{quote(path, safe='_/')}?{urlencode(params, safe='{},')}"

    def api_request(self, *args: Any, **kwargs: Any) -> Request:
        token = self.source.token()
        if token:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": f"OAuth {token}"}
        return super().api_request(*args, **kwargs)

    def http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        """A tombstone for Graph's "does not exist" about the node a request names, else an error.

        `ctx["gone_id"]` (else `ctx["native_id"]`) is the node in the request's path: an edge of a
        deleted node gets the same answer as the node itself.
        """
        error = graph_error(payload)
        gone = ctx.get("gone_id", ctx.get("native_id"))  # the node the request's path names
        if gone and is_gone(error):
            return Outcome(tombstones=[Tombstone(self.platform, gone)])
        return Outcome(error=self.error_text(status, error))

    def token_rejected(self, status: int, payload: Any) -> bool:
        return token_refused(status, payload)

    def error_text(self, status: int, error: dict[str, Any]) -> str:
        """`HTTP 400 Graph API error 190 (OAuthException): …`, and for a token error what to renew."""
        code = error.get("code")
        text = f"HTTP {status} Graph API error {code} ({error.get('type', 'unknown type')}): " \
               f"{error.get('message') or ''}" if error else f"HTTP {status}"
        if code == TOKEN_CODE or status in (401, 403):
            if not self.source.token_env:
                text += f"; source {self.source.name!r} has no token_env: name the environment variable " \
                        f"that holds the {self.token_what}"
            elif not self.source.token():
                text += f"; no access token: environment variable {self.source.token_env} is not set"
            else:
                text += f"; the token in environment variable {self.source.token_env} was rejected " \
                        f"(expired or revoked): renew the {self.token_what}"
        return text
