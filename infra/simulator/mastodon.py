"""Mastodon profile: REST API v1 endpoints over a `World`, in the shapes `docs/platform-api.md` pins.

Routes under `/mastodon/api/v1/…` (a source's `base_url` is the instance, `…/mastodon`). Public
statuses need no token; a request that sends `Authorization: Bearer <token>` must carry the server's
token, else HTTP 401 `{"error": "The access token is invalid"}` (Mastodon's `authorize_if_got_token!`).
Without a token a context answer holds at most 60 descendants (the documented public limit).

Ids are Mastodon's snowflakes: the creation time in milliseconds shifted left 16 bits, plus 16 low
bits (here from the node's index and the seed's id base), so they sort by creation. Content is HTML
made from the text the way Mastodon formats plain text (escaped; paragraphs `<p>`, line breaks
`<br />`). Rate limit: HTTP 429 `{"error": "Too many requests"}` with `X-RateLimit-Limit`,
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (ISO 8601), and no `Retry-After`, as Mastodon sends.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from infra.simulator import ids
from infra.simulator.profile import Profile, RecordFields, Route
from infra.simulator.text import DEPARTMENT_NAME
from infra.simulator.wire import Reply, json_reply

if TYPE_CHECKING:
    from infra.simulator.world import Node, World

MASTODON = "mastodon"
MASTODON_ACCOUNT_ID = "109348211234567890"
USERNAME = "springfieldpd"
INSTANCE = "mastodon.example"
RATE_LIMIT = 300  # Mastodon's default: 300 API requests per 5 minutes per account or IP
PUBLIC_DESCENDANTS = 60
TOKEN_DESCENDANTS = 4096
INVALID_TOKEN = "The access token is invalid"
NOT_FOUND = "Record not found"


@dataclass
class State:
    """Residents' account ids, and the feed sorted by id (cached per world step)."""

    resident_ids: tuple[str, ...]
    feed_cache: dict[int, tuple[list[Node], list[int]]] = field(default_factory=dict)


def setup(world: World) -> State:
    return State(tuple(str(109_400_000_000_000_000 + world.id_base + r.number) for r in world.residents))


def state(world: World) -> State:
    return world.platform_state[MASTODON]  # type: ignore[return-value]  # what setup() made


def assign_ids(world: World, node: Node, images: int) -> None:
    """A snowflake id: creation milliseconds << 16, plus 16 low bits from the node and the seed."""
    node.key = str((node.created_ms << 16) | ((world.id_base // 10**9 + node.idx) & 0xFFFF))
    node.native_id = node.key
    node.images = tuple(f"mstdn-{node.key}-{k}" for k in range(images))


def timestamp(ms: int) -> str:
    """`2026-01-05T14:03:00.000Z` (Mastodon's datetime, millisecond precision)."""
    return ids.bluesky_time(ms)


def author_acct(world: World, node: Node) -> str:
    return USERNAME if node.is_department else f"{world.residents[node.author].slug}{node.author}"


def account_id(world: World, node: Node) -> str:
    return MASTODON_ACCOUNT_ID if node.is_department else state(world).resident_ids[node.author]


def account_state(world: World) -> dict[str, Any]:
    return {"id": MASTODON_ACCOUNT_ID, "acct": USERNAME, "display_name": DEPARTMENT_NAME}


def error(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return json_reply(status, {"error": message}, headers)


def content_html(text: str) -> str:
    """Plain text as Mastodon formats it: escaped, `<p>` per paragraph, `<br />` per line break."""
    paragraphs = re.split(r"\n\n+", text)
    return "".join("<p>" + html.escape(part, quote=True).replace("&#x27;", "&#39;").replace("\n", "<br />")
                   + "</p>" for part in paragraphs)


def account_object(world: World, node: Node, media_base: str) -> dict[str, Any]:
    acct = author_acct(world, node)
    dept = node.is_department
    posts = len(world.feed(MASTODON)[0]) if dept else 1 + ids.digest_int(world.seed, "toots", node.author) % 400
    return {
        "id": account_id(world, node), "username": acct, "acct": acct,
        "display_name": world.author_name(node), "locked": False, "bot": False, "discoverable": dept,
        "group": False, "created_at": "2022-11-09T17:00:00.000Z",
        "note": "<p>Official account of the Springfield Police Department. Not monitored 24/7: in an "
                "emergency call 911.</p>" if dept else "",
        "url": f"https://{INSTANCE}/@{acct}", "uri": f"https://{INSTANCE}/users/{acct}",
        "avatar": f"https://{INSTANCE}/avatars/original/missing.png",
        "avatar_static": f"https://{INSTANCE}/avatars/original/missing.png",
        "header": f"https://{INSTANCE}/headers/original/missing.png",
        "header_static": f"https://{INSTANCE}/headers/original/missing.png",
        "followers_count": 4200 + world.step * 7 if dept else 12, "following_count": 3,
        "statuses_count": posts, "last_status_at": timestamp(world.now_ms)[:10],
        "emojis": [], "fields": [],
    }


def status_object(world: World, node: Node, media_base: str, *, authorized: bool) -> dict[str, Any]:
    """The Status entity of `node` as it is now (viewer fields only for a token's owner)."""
    acct = author_acct(world, node)
    popularity = ids.digest_int(world.seed, "likes", node.idx)
    scale = 200 if node.is_department else 12
    parent = node.parent
    obj: dict[str, Any] = {
        "id": node.native_id,
        "created_at": timestamp(node.created_ms),
        "in_reply_to_id": parent.native_id if parent is not None else None,
        "in_reply_to_account_id": account_id(world, parent) if parent is not None else None,
        "sensitive": False, "spoiler_text": "", "visibility": "public", "language": "en",
        "uri": f"https://{INSTANCE}/users/{acct}/statuses/{node.native_id}",
        "url": f"https://{INSTANCE}/@{acct}/{node.native_id}",
        "replies_count": sum(1 for child in node.children if not child.deleted),
        "reblogs_count": popularity % (scale // 4 + 1),
        "favourites_count": (popularity >> 16) % scale,
        "edited_at": timestamp(node.edited_ms) if node.version else None,
    }
    if authorized:
        obj.update({"favourited": False, "reblogged": False, "muted": False, "bookmarked": False})
        if node.is_department:
            obj["pinned"] = False
    obj.update({
        "content": content_html(world.text_of(node)),
        "reblog": None,
        "application": {"name": "Web", "website": None} if node.is_department else None,
        "account": account_object(world, node, media_base),
        "media_attachments": [
            {"id": str(ids.digest_int(name) >> 8), "type": "image", "url": f"{media_base}/media/{name}.png",
             "preview_url": f"{media_base}/media/{name}.png", "remote_url": None, "preview_remote_url": None,
             "text_url": None,
             "meta": {"original": {"width": 16, "height": 16, "size": "16x16", "aspect": 1.0},
                      "small": {"width": 16, "height": 16, "size": "16x16", "aspect": 1.0}},
             "description": f"Photo {position + 1} from the {DEPARTMENT_NAME}", "blurhash": "UCFY~u4n00%M~qIU"}
            for position, name in enumerate(node.images)
        ],
        "mentions": [] if parent is None else [
            {"id": account_id(world, parent), "username": author_acct(world, parent),
             "url": f"https://{INSTANCE}/@{author_acct(world, parent)}", "acct": author_acct(world, parent)}],
        "tags": [], "emojis": [], "card": None, "poll": None,
    })
    if obj["application"] is None:
        del obj["application"]
    return obj


def _feed(world: World) -> tuple[list[Node], list[int]]:
    """The department's live statuses by id, newest first, and their negated ids for bisect."""
    step_cache = state(world).feed_cache
    cached = step_cache.get(world.step)
    if cached is None:
        items = sorted(world.feed(MASTODON)[0], key=lambda n: -int(n.native_id))
        cached = (items, [-int(n.native_id) for n in items])
        step_cache.clear()
        step_cache[world.step] = cached
    return cached


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    """Mastodon clamps a limit into range rather than refusing it."""
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = default
    return min(max(value, low), high)


def account_statuses(world: World, route: Route, authorized: bool) -> Reply:
    items, keys = _feed(world)
    limit = _int(route.params.get("limit"), 20, 1, 40)
    exclude_replies = route.params.get("exclude_replies") in ("true", "1")
    start = 0
    if route.params.get("max_id", "").isdigit():
        start = bisect_right(keys, -int(route.params["max_id"]))
    page: list[Node] = []
    for node in items[start:]:
        if exclude_replies and node.parent is not None:
            continue
        page.append(node)
        if len(page) == limit:
            break
    media_base = route.base_url
    body = [status_object(world, node, media_base, authorized=authorized) for node in page]
    headers: tuple[tuple[str, str], ...] = ()
    if page:
        base = f"{route.base_url}/mastodon/api/v1/accounts/{MASTODON_ACCOUNT_ID}/statuses"
        kept = {k: v for k, v in route.params.items() if k in ("limit", "exclude_replies", "exclude_reblogs",
                                                               "only_media", "pinned", "tagged")}
        links = []
        if len(page) == limit:  # Mastodon: a next link only when the page is full
            links.append(f'<{base}?{urlencode({**kept, "max_id": page[-1].native_id})}>; rel="next"')
        links.append(f'<{base}?{urlencode({**kept, "min_id": page[0].native_id})}>; rel="prev"')
        headers = (("Link", ", ".join(links)),)
    return json_reply(200, body, headers)


def _descendants(world: World, node: Node, limit: int) -> list[Node]:
    """Depth-first by id under `node` (Mastodon orders the reply tree by path), at most `limit`."""
    found: list[Node] = []
    stack = sorted(world.live_children(node), key=lambda c: -int(c.native_id))
    while stack and len(found) < limit:
        current = stack.pop()
        found.append(current)
        stack.extend(sorted(world.live_children(current), key=lambda c: -int(c.native_id)))
    return found


def context(world: World, node: Node, media_base: str, authorized: bool) -> Reply:
    ancestors = []
    walker = node.parent
    while walker is not None:
        ancestors.append(walker)
        walker = walker.parent
    ancestors.reverse()
    limit = TOKEN_DESCENDANTS if authorized else PUBLIC_DESCENDANTS
    return json_reply(200, {
        "ancestors": [status_object(world, n, media_base, authorized=authorized) for n in ancestors],
        "descendants": [status_object(world, n, media_base, authorized=authorized)
                        for n in _descendants(world, node, limit)],
    })


def handle(world: World, route: Route) -> Reply:
    """`GET /mastodon/api/v1/…`: account statuses, a status, its context, account lookup."""
    header = route.headers.get("Authorization") or route.headers.get("authorization") or ""
    authorized = False
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":  # other schemes are not Doorkeeper's: the simulator ignores them
        if token.strip() != route.token:
            return Reply(401, json_reply(401, {"error": INVALID_TOKEN}).body, cacheable=False, headers=(
                ("WWW-Authenticate", f'Bearer realm="Doorkeeper", error="invalid_token", '
                                     f'error_description="{INVALID_TOKEN}"'),))
        authorized = True
    reply = _route(world, route, authorized)
    return Reply(reply.status, reply.body, reply.content_type, reply.headers, cacheable=not authorized)


def _route(world: World, route: Route, authorized: bool) -> Reply:
    parts = route.parts
    if parts[:2] != ["api", "v1"]:
        return error(404, NOT_FOUND)
    rest = parts[2:]
    if rest == ["accounts", "lookup"]:
        if route.params.get("acct", "").removeprefix("@").split("@")[0] != USERNAME:
            return error(404, NOT_FOUND)
        items, _ = world.feed(MASTODON)
        return json_reply(200, account_object(world, items[0], route.base_url) if items else
                          {"id": MASTODON_ACCOUNT_ID, "username": USERNAME, "acct": USERNAME})
    if len(rest) == 3 and rest[0] == "accounts" and rest[2] == "statuses":
        if rest[1] != MASTODON_ACCOUNT_ID:
            return error(404, NOT_FOUND)
        return account_statuses(world, route, authorized)
    if len(rest) in (2, 3) and rest[0] == "statuses" and (len(rest) == 2 or rest[2] == "context"):
        node = world.node(MASTODON, rest[1])
        if node is None or node.deleted:
            return error(404, NOT_FOUND)
        if len(rest) == 3:
            return context(world, node, route.base_url, authorized)
        return json_reply(200, status_object(world, node, route.base_url, authorized=authorized))
    return error(404, NOT_FOUND)


def throttled(retry_after: int, target: str) -> Reply:
    """Mastodon's throttle (Rack::Attack): 429 with the X-RateLimit headers and no Retry-After."""
    reset = datetime.now(UTC) + timedelta(seconds=retry_after)
    headers = (("X-RateLimit-Limit", str(RATE_LIMIT)), ("X-RateLimit-Remaining", "0"),
               ("X-RateLimit-Reset", reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
    return error(429, "Too many requests", headers)


def unsupported_method(target: str) -> Reply:
    return error(404, NOT_FOUND)


def first_record(doc: Any) -> RecordFields | None:
    """The first Status of an array, of a Context (`ancestors`, then `descendants`) or a lone Status,
    for faults."""
    status: Any = None
    if isinstance(doc, list):
        status = doc[0] if doc else None
    elif isinstance(doc, dict) and ("ancestors" in doc or "descendants" in doc):
        statuses = [s for key in ("ancestors", "descendants") for s in doc.get(key) or ()]
        status = statuses[0] if statuses else None
    elif isinstance(doc, dict) and "id" in doc and "error" not in doc:
        status = doc
    return RecordFields(status, "id", "content", "created_at") if isinstance(status, dict) else None


PROFILE = Profile(
    name=MASTODON, prefix="/mastodon", api_path="/mastodon", account=MASTODON_ACCOUNT_ID, token_required=False,
    feed_has_replies=True, hides_comments=False, setup=setup, assign_ids=assign_ids,
    timestamp=timestamp, author_label=author_acct, account_state=account_state, handle=handle,
    throttled=throttled, unsupported_method=unsupported_method,
    first_record=first_record, token_accepted=True,
)
