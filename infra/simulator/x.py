"""X profile: API v2 endpoints over a `World`, in the shapes `docs/platform-api.md` pins.

Routes under `/x/2/…`: the user Post timeline (`/users/:id/tweets`), recent search for one
conversation (`/tweets/search/recent?query=conversation_id:<id>`) and Post lookup
(`/tweets?ids=`). Every request needs the server's token as a bearer token, else the documented
401 problem. Ids are Snowflakes (creation millisecond << 22); an edit gives the Post a new id and
appends it to `edit_history_tweet_ids`, while the world (and the archive) keep the original id as
the record's native id. A reply's `referenced_tweets` names the version of its parent it answered.
Rate limit: HTTP 429 problem with `x-rate-limit-*` headers (no `Retry-After`).

Differences from the real platform, on purpose: recent search here reaches the whole world, not just
the last 7 days (the simulated history spans two years and tests need every reply), and the
timeline is not cut at 3,200 Posts. X has no readable "hidden reply" flag, so no reply is hidden.
Cursors are opaque base64 of the last item's sort key, so pages stay stable while the world changes.
"""

from __future__ import annotations

import base64
import binascii
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.simulator import ids
from infra.simulator.facebook import header_token
from infra.simulator.profile import Profile, RecordFields, Route
from infra.simulator.text import DEPARTMENT_NAME
from infra.simulator.wire import Reply, json_reply

if TYPE_CHECKING:
    from infra.simulator.world import Node, World

X = "x"
X_USER_ID = "1381985123456789504"
X_USERNAME = "SpringfieldPD"
SNOWFLAKE_EPOCH_MS = 1_288_834_974_657
EDIT_STEP_MS = 60_000  # version v of a Post gets an id v minutes after the original's
LOW_BITS = 22
# Per-15-minute request windows X publishes for app-only auth (they differ per access tier).
WINDOWS = {"timeline": 1500, "search": 450, "lookup": 3500}
DEFAULT_FIELDS = ("id", "text", "edit_history_tweet_ids")
PROBLEMS = "https://api.twitter.com/2/problems"


@dataclass(frozen=True)
class Identities:
    """Each resident's numeric user id and @username (by resident number)."""

    ids: tuple[str, ...]
    usernames: tuple[str, ...]


def setup(world: World) -> Identities:
    ids = tuple(str(1_500_000_000_000_000_000 + world.id_base + r.number) for r in world.residents)
    return Identities(ids, tuple(f"{r.slug[:11]}{r.number}" for r in world.residents))


def identities(world: World) -> Identities:
    return world.platform_state[X]  # type: ignore[return-value]  # what setup() made


def _low(world: World, idx: int) -> int:
    return (idx + world.seed * 7919) % (1 << LOW_BITS)


def version_id(world: World, node: Node, version: int) -> str:
    """The Snowflake id of version `version` of a Post (0 = the original, its native id)."""
    ms = node.created_ms + version * EDIT_STEP_MS - SNOWFLAKE_EPOCH_MS
    return str((ms << LOW_BITS) | _low(world, node.idx))


def node_of_version(world: World, tweet_id: str) -> tuple[Node, int] | None:
    """The Post and version an id names (any version's id), or None."""
    if not tweet_id.isdigit():
        return None
    idx = (int(tweet_id) - world.seed * 7919) % (1 << LOW_BITS)
    if idx >= len(world.nodes) or world.nodes[idx].platform != X:
        return None
    node = world.nodes[idx]
    for version in range(node.version + 1):
        if version_id(world, node, version) == tweet_id:
            return node, version
    return None


def assign_ids(world: World, node: Node, images: int) -> None:
    node.native_id = version_id(world, node, 0)
    node.key = node.native_id
    node.images = tuple(f"x-{node.key}-{k}" for k in range(images))


# X API v2 `created_at` is ISO 8601 UTC with milliseconds (`2026-01-05T14:03:00.000Z`), Bluesky's form too.
timestamp = ids.bluesky_time


def user_id(world: World, node: Node) -> str:
    return X_USER_ID if node.is_department else identities(world).ids[node.author]


def username(world: World, node: Node) -> str:
    return X_USERNAME if node.is_department else identities(world).usernames[node.author]


def author_label(world: World, node: Node) -> str:
    return username(world, node)


def account_state(world: World) -> dict[str, Any]:
    return {"user_id": X_USER_ID, "username": X_USERNAME, "name": DEPARTMENT_NAME}


def problem(status: int, title: str, detail: str) -> Reply:
    """X's RFC 7807-style answer for auth and rate-limit failures."""
    return json_reply(status, {"title": title, "detail": detail, "type": "about:blank", "status": status})


def invalid_request(message: str, parameter: str, value: str) -> Reply:
    return json_reply(400, {"errors": [{"parameters": {parameter: [value]}, "message": message}],
                            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                            "type": f"{PROBLEMS}/invalid-request"})


def rate_headers(window: str) -> tuple[tuple[str, str], ...]:
    limit = WINDOWS[window]
    reset = int(time.time()) + 900
    return (("x-rate-limit-limit", str(limit)), ("x-rate-limit-remaining", str(limit - 1)),
            ("x-rate-limit-reset", str(reset)))


def tweet_object(world: World, node: Node) -> dict[str, Any]:
    """The current version of a Post with every field the spiders ask for."""
    history = [version_id(world, node, v) for v in range(node.version + 1)]
    obj: dict[str, Any] = {
        "edit_history_tweet_ids": history,
        "id": history[-1],
        "text": world.text_of(node),
        "author_id": user_id(world, node),
        "conversation_id": node.root.native_id,
        "created_at": timestamp(node.created_ms + node.version * EDIT_STEP_MS),
        "public_metrics": {"retweet_count": 0, "reply_count": sum(1 for c in node.children if not c.deleted),
                           "like_count": len(node.children) * 3 % 17, "quote_count": 0, "bookmark_count": 0,
                           "impression_count": 40 + 7 * len(node.children)},
    }
    if node.parent is not None:
        obj["in_reply_to_user_id"] = user_id(world, node.parent)
        obj["referenced_tweets"] = [{"type": "replied_to",
                                     "id": version_id(world, node.parent, node.parent_version)}]
    if node.images:
        obj["attachments"] = {"media_keys": [f"3_{node.key}{k}" for k in range(len(node.images))]}
    return obj


def media_objects(node: Node, base_url: str) -> list[dict[str, Any]]:
    return [{"media_key": f"3_{node.key}{k}", "type": "photo", "url": f"{base_url}/media/{name}.png",
             "width": 16, "height": 16}
            for k, name in enumerate(node.images)]


def user_object(world: World, node: Node) -> dict[str, Any]:
    return {"id": user_id(world, node), "name": world.author_name(node), "username": username(world, node)}


def _fields(params: Mapping[str, str], key: str) -> set[str]:
    return {name for name in (params.get(key) or "").split(",") if name}


def render(world: World, nodes: list[Node], params: Mapping[str, str], base_url: str) -> dict[str, Any]:
    """`data` (requested fields only) and the requested `includes` for these Posts."""
    wanted = set(DEFAULT_FIELDS) | _fields(params, "tweet.fields")
    expansions = _fields(params, "expansions")
    data = []
    for node in nodes:
        obj = tweet_object(world, node)
        data.append({key: value for key, value in obj.items() if key in wanted})
    body: dict[str, Any] = {"data": data}
    includes: dict[str, list[dict[str, Any]]] = {}
    if "attachments.media_keys" in expansions:
        media = [m for node in nodes for m in media_objects(node, base_url)]
        if media:
            includes["media"] = media
    if "author_id" in expansions:
        seen: dict[str, dict[str, Any]] = {}
        for node in nodes:
            seen.setdefault(user_id(world, node), user_object(world, node))
        includes["users"] = list(seen.values())
    if "referenced_tweets.id" in expansions:
        parents = {n.parent.idx: n.parent for n in nodes if n.parent is not None and not n.parent.deleted}
        if parents:
            includes["tweets"] = [{key: value for key, value in tweet_object(world, p).items() if key in wanted}
                                  for p in parents.values()]
    if includes:
        body["includes"] = includes
    return body


def _encode_cursor(key: tuple[int, int]) -> str:
    return base64.b32encode(f"{key[0]}:{key[1]}".encode("ascii")).decode("ascii").rstrip("=").lower()


def _decode_cursor(cursor: str) -> tuple[int, int] | None:
    try:
        raw = base64.b32decode(cursor.upper() + "=" * (-len(cursor) % 8)).decode("ascii")
        first, _, second = raw.partition(":")
        return int(first), int(second)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def page(world: World, route: Route, items: list[Node], keys: list[tuple[int, int]], *, low: int,
         token_param: str, window: str) -> Reply:
    """One newest-first page of `items` with `meta` (`next_token` absent on the last page)."""
    raw = route.params.get("max_results") or "10"
    if not raw.isdigit() or not low <= int(raw) <= 100:
        return invalid_request(f"The `max_results` query parameter value [{raw}] is not between {low} and 100",
                               "max_results", raw)
    start = 0
    token = route.params.get(token_param)
    if token:
        key = _decode_cursor(token)
        if key is None:
            return invalid_request(f"The `{token_param}` query parameter value [{token}] is not valid",
                                   token_param, token)
        start = bisect_right(keys, key)
    chosen = items[start:start + int(raw)]
    if not chosen:
        return json_reply(200, {"meta": {"result_count": 0}}, headers=rate_headers(window))
    body = render(world, chosen, route.params, route.base_url)
    meta: dict[str, Any] = {"newest_id": tweet_object(world, chosen[0])["id"],
                            "oldest_id": tweet_object(world, chosen[-1])["id"], "result_count": len(chosen)}
    if start + len(chosen) < len(items):
        meta["next_token"] = _encode_cursor(keys[start + len(chosen) - 1])
    body["meta"] = meta
    return json_reply(200, body, headers=rate_headers(window))


def timeline(world: World, route: Route, user: str) -> Reply:
    if user != X_USER_ID:
        return json_reply(200, {"errors": [{"value": user, "detail": f"Could not find user with id: [{user}].",
                                            "title": "Not Found Error", "resource_type": "user",
                                            "parameter": "id", "resource_id": user,
                                            "type": f"{PROBLEMS}/resource-not-found"}]})
    items, keys = world.feed(X)
    return page(world, route, items, keys, low=5, token_param="pagination_token", window="timeline")


def search(world: World, route: Route) -> Reply:
    query = route.params.get("query") or ""
    name, _, value = query.partition(":")
    if name != "conversation_id" or not value.isdigit():
        return invalid_request("The simulator's recent search understands only `conversation_id:<id>`",
                               "query", query)
    root = world.node(X, value)
    replies = [] if root is None or root.deleted else world.live_descendants(root)
    replies.sort(key=lambda n: (-n.created_ms, -n.idx))
    keys = [(-n.created_ms, -n.idx) for n in replies]
    return page(world, route, replies, keys, low=10, token_param="next_token", window="search")


def lookup(world: World, route: Route) -> Reply:
    raw = route.params.get("ids") or ""
    wanted = [part for part in raw.split(",") if part]
    if not wanted or len(wanted) > 100 or not all(part.isdigit() for part in wanted):
        return invalid_request(f"The `ids` query parameter value [{raw}] is not valid", "ids", raw)
    found: list[Node] = []
    errors = []
    for tweet_id in wanted:
        hit = node_of_version(world, tweet_id)
        if hit is None or hit[0].deleted:
            errors.append({"value": tweet_id, "detail": f"Could not find tweet with ids: [{tweet_id}].",
                           "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                           "resource_id": tweet_id, "type": f"{PROBLEMS}/resource-not-found"})
        else:
            found.append(hit[0])  # the latest version: the spider re-asks for it when it names an older one
    body: dict[str, Any] = render(world, found, route.params, route.base_url) if found else {}
    if errors:
        body["errors"] = errors
    return json_reply(200, body, headers=rate_headers("lookup"))


ROUTES: dict[tuple[str, ...], Callable[[World, Route], Reply]] = {
    ("tweets", "search", "recent"): search,
    ("tweets",): lookup,
}


def handle(world: World, route: Route) -> Reply:
    """`GET /x/2/…` after the bearer-token check X makes first."""
    if header_token(route.headers) != route.token:
        return problem(401, "Unauthorized", "Unauthorized")
    parts = tuple(route.parts)
    if parts[:1] == ("2",) and len(parts) == 4 and parts[1] == "users" and parts[3] == "tweets":
        return timeline(world, route, parts[2])
    handler = ROUTES.get(parts[1:]) if parts[:1] == ("2",) else None
    if handler is None:
        return json_reply(404, {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]})
    return handler(world, route)


def throttled(retry_after: int, target: str) -> Reply:
    """X's spent window: HTTP 429 problem, `x-rate-limit-remaining: 0` and the reset as epoch seconds."""
    body = problem(429, "Too Many Requests", "Too Many Requests").body
    return Reply(429, body, headers=(("x-rate-limit-limit", "450"), ("x-rate-limit-remaining", "0"),
                                     ("x-rate-limit-reset", str(int(time.time()) + retry_after))))


def unsupported_method(target: str) -> Reply:
    return json_reply(404, {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]})


def first_record(doc: Any) -> RecordFields | None:
    """The first post of `data` (a list of posts, or the one post a lookup by id answers), for faults."""
    obj = doc.get("data") if isinstance(doc, dict) else None
    obj = (obj[0] if obj else None) if isinstance(obj, list) else obj
    return RecordFields(obj, "id", "text", "created_at") if isinstance(obj, dict) else None


PROFILE = Profile(
    name=X, prefix="/x", api_path="/x/2", account=X_USER_ID, token_required=True,
    feed_has_replies=True, hides_comments=False, setup=setup, assign_ids=assign_ids,
    timestamp=timestamp, author_label=author_label, account_state=account_state, handle=handle,
    throttled=throttled, unsupported_method=unsupported_method,
    first_record=first_record,
)
