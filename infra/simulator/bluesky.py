"""Bluesky profile: AppView (XRPC) endpoints over a `World`, in the shapes `docs/platform-api.md` pins.

Routes under `/bluesky` (`/bluesky/xrpc/<nsid>`); no token needed (the public AppView). Ids follow
the AT Protocol: `at://<did>/app.bsky.feed.post/<rkey>` with a TID rkey; the department and each
resident have a handle and a did:plc. Rate limit: HTTP 429 with `RateLimit-*` and `Retry-After`.

Views are built by one function per shape (`post_view`, `thread_node`), so a record's PostView is
byte-identical wherever it appears within a step: in the author feed, as a feed item's root or
parent, or inside a thread.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.simulator import ids
from infra.simulator.profile import Profile, RecordFields, Route
from infra.simulator.text import DEPARTMENT_NAME
from infra.simulator.wire import Reply, json_reply

if TYPE_CHECKING:
    from infra.simulator.world import Node, World

BLUESKY = "bluesky"
BLUESKY_HANDLE = "springfieldpd.bsky.social"
RATE_LIMIT = 3000  # the RateLimit-Limit the Bluesky AppView advertises per 5 minutes

THREAD_TYPE = "app.bsky.feed.defs#threadViewPost"
FEED_FILTERS = ("posts_with_replies", "posts_no_replies", "posts_with_media", "posts_and_author_threads")


@dataclass(frozen=True)
class Identities:
    """The department's DID and each resident's handle and DID (by resident number)."""

    did: str
    handles: tuple[str, ...]
    dids: tuple[str, ...]
    did_of_handle: dict[str, str]


def setup(world: World) -> Identities:
    handles = tuple(f"{r.slug}{r.number}.bsky.social" for r in world.residents)
    dids = tuple(ids.plc_did(f"{world.seed}:{handle}") for handle in handles)
    did = ids.plc_did(BLUESKY_HANDLE)
    return Identities(did, handles, dids, {BLUESKY_HANDLE: did, **dict(zip(handles, dids, strict=True))})


def identities(world: World) -> Identities:
    return world.platform_state[BLUESKY]  # type: ignore[return-value]  # what setup() made


def assign_ids(world: World, node: Node, images: int) -> None:
    """A TID rkey from the creation time, and an at:// URI in the author's repo."""
    node.key = ids.tid(node.created_ms * 1000 + node.idx % 1000, node.idx // 1000)
    node.native_id = f"at://{author_did(world, node)}/app.bsky.feed.post/{node.key}"
    node.images = tuple(f"bsky-{node.key}-{k}" for k in range(images))


def author_did(world: World, node: Node) -> str:
    people = identities(world)
    return people.did if node.is_department else people.dids[node.author]


def author_handle(world: World, node: Node) -> str:
    return BLUESKY_HANDLE if node.is_department else identities(world).handles[node.author]


def resolve_uri(world: World, uri: str) -> str:
    """An at:// URI with a handle in the authority rewritten to the DID the world keys on."""
    if not uri.startswith("at://"):
        return uri
    authority, _, rest = uri[5:].partition("/")
    did = identities(world).did_of_handle.get(authority)
    return f"at://{did}/{rest}" if did else uri


def account_state(world: World) -> dict[str, Any]:
    return {"handle": BLUESKY_HANDLE, "did": identities(world).did, "displayName": DEPARTMENT_NAME}


def error(status: int, name: str, message: str) -> Reply:
    return json_reply(status, {"error": name, "message": message})


def invalid(message: str) -> Reply:
    return error(400, "InvalidRequest", message)


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int | Reply:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        return invalid(f"Error: {name} must be an integer")
    if value < low:
        return invalid(f"Error: {name} must be >= {low}")
    if value > high:
        return invalid(f"Error: {name} must be <= {high}")
    return value


def post_view(world: World, node: Node, media_base: str) -> dict[str, Any]:
    """app.bsky.feed.defs#postView of `node` as it is now."""
    created = ids.bluesky_time(node.created_ms)
    record: dict[str, Any] = {"$type": "app.bsky.feed.post", "createdAt": created, "langs": ["en"],
                              "text": world.text_of(node)}
    if node.parent is not None:
        record["reply"] = {"root": {"cid": world.cid(node.root, node.root_version), "uri": node.root.native_id},
                           "parent": {"cid": world.cid(node.parent, node.parent_version),
                                      "uri": node.parent.native_id}}
    view: dict[str, Any] = {
        "uri": node.native_id,
        "cid": world.cid(node),
        "author": {"did": author_did(world, node), "handle": author_handle(world, node),
                   "displayName": world.author_name(node)},
        "record": record,
    }
    if node.images:
        blobs, shown = [], []
        for position, name in enumerate(node.images):
            data = world.media_png(name) or b""
            alt = f"Photo {position + 1} from the {DEPARTMENT_NAME}"
            blobs.append({"alt": alt, "image": {"$type": "blob", "ref": {"$link": ids.blob_cid(data)},
                                                "mimeType": "image/png", "size": len(data)}})
            url = f"{media_base}/media/{name}.png"
            shown.append({"thumb": url, "fullsize": url, "alt": alt})
        record["embed"] = {"$type": "app.bsky.embed.images", "images": blobs}
        view["embed"] = {"$type": "app.bsky.embed.images#view", "images": shown}
    popularity = ids.digest_int(world.seed, "likes", node.idx)
    scale = 200 if node.is_department else 12
    view.update({
        "replyCount": sum(1 for child in node.children if not child.deleted),
        "repostCount": popularity % (scale // 4 + 1),
        "likeCount": (popularity >> 16) % scale,
        "quoteCount": (popularity >> 32) % 3,
        "indexedAt": ids.bluesky_time(node.created_ms + 150),
        "labels": [],
    })
    return view


def thread_node(world: World, node: Node, depth: int, media_base: str) -> dict[str, Any]:
    """A threadViewPost with replies `depth` levels down (`replies` left out where depth runs out)."""
    out: dict[str, Any] = {"$type": THREAD_TYPE, "post": post_view(world, node, media_base)}
    children = world.live_children(node)
    if depth > 0:
        out["replies"] = [thread_node(world, child, depth - 1, media_base) for child in children]
    elif not children:
        out["replies"] = []
    return out


def _parent_chain(world: World, node: Node, height: int, media_base: str) -> dict[str, Any] | None:
    if node.parent is None or height <= 0:
        return None
    parent = node.parent
    out: dict[str, Any] = {"$type": THREAD_TYPE, "post": post_view(world, parent, media_base)}
    above = _parent_chain(world, parent, height - 1, media_base)
    if above is not None:
        out["parent"] = above
    return out


def _actor_ok(world: World, actor: str) -> bool:
    return actor in (BLUESKY_HANDLE, identities(world).did)


def _encode_cursor(node: Node) -> str:
    return f"{node.created_ms}:{node.idx}"


def _decode_cursor(cursor: str) -> tuple[int, int] | None:
    created, sep, idx = cursor.partition(":")
    if not sep or not created.isdigit() or not idx.isdigit():
        return None
    return (-int(created), -int(idx))


def get_author_feed(world: World, params: Mapping[str, str], media_base: str) -> Reply:
    actor = params.get("actor")
    if not actor:
        return invalid('Error: Params must have the property "actor"')
    if not _actor_ok(world, actor):
        return invalid("Profile not found")
    limit = _int_param(params, "limit", 50, 1, 100)
    if isinstance(limit, Reply):
        return limit
    feed_filter = params.get("filter") or "posts_with_replies"
    if feed_filter not in FEED_FILTERS:
        return invalid(f"Error: filter must be one of {', '.join(FEED_FILTERS)}")
    items, keys = world.feed(BLUESKY)
    if feed_filter != "posts_with_replies":
        keep: Callable[[Node], bool] = {
            "posts_no_replies": lambda n: n.parent is None,
            "posts_with_media": lambda n: bool(n.images),
            "posts_and_author_threads": lambda n: n.parent is None or n.parent.is_department,
        }[feed_filter]
        items = [n for n in items if keep(n)]
        keys = [(-n.created_ms, -n.idx) for n in items]
    after = None
    if params.get("cursor"):
        after = _decode_cursor(params["cursor"])
        if after is None:
            return invalid("Malformed cursor")
    start = 0 if after is None else bisect_right(keys, after)
    page = items[start:start + limit]
    feed = []
    for node in page:
        item: dict[str, Any] = {"post": post_view(world, node, media_base)}
        if node.parent is not None:
            item["reply"] = {"root": post_view(world, node.root, media_base),
                             "parent": post_view(world, node.parent, media_base)}
        feed.append(item)
    body: dict[str, Any] = {"feed": feed}
    if start + limit < len(items) and page:
        body = {"cursor": _encode_cursor(page[-1]), "feed": feed}
    return json_reply(200, body)


def _find(world: World, uri: str) -> Node | None:
    node = world.node(BLUESKY, resolve_uri(world, uri))
    return None if node is None or node.deleted else node


def get_post_thread(world: World, params: Mapping[str, str], media_base: str) -> Reply:
    uri = params.get("uri")
    if not uri:
        return invalid('Error: Params must have the property "uri"')
    if not uri.startswith("at://"):
        return invalid("Error: uri must be a valid at-uri")
    depth = _int_param(params, "depth", 6, 0, 1000)
    if isinstance(depth, Reply):
        return depth
    height = _int_param(params, "parentHeight", 80, 0, 1000)
    if isinstance(height, Reply):
        return height
    node = _find(world, uri)
    if node is None:
        return error(400, "NotFound", f"Post not found: {uri}")
    thread = thread_node(world, node, depth, media_base)
    parent = _parent_chain(world, node, height, media_base)
    if parent is not None:
        thread = {"$type": THREAD_TYPE, "post": thread["post"], "parent": parent,
                  **({"replies": thread["replies"]} if "replies" in thread else {})}
    return json_reply(200, {"thread": thread})


def get_posts(world: World, uris: list[str], media_base: str) -> Reply:
    """app.bsky.feed.getPosts: the posts that still exist, in request order (at most 25)."""
    if not uris:
        return invalid('Error: Params must have the property "uris"')
    if len(uris) > 25:
        return invalid("Error: uris must not have more than 25 elements")
    found = (_find(world, uri) for uri in uris)
    return json_reply(200, {"posts": [post_view(world, n, media_base) for n in found if n is not None]})


def get_profile(world: World, params: Mapping[str, str]) -> Reply:
    actor = params.get("actor")
    if not actor:
        return invalid('Error: Params must have the property "actor"')
    if not _actor_ok(world, actor):
        return invalid("Profile not found")
    items, _ = world.feed(BLUESKY)
    return json_reply(200, {"did": identities(world).did, "handle": BLUESKY_HANDLE, "displayName": DEPARTMENT_NAME,
                            "description": "Official account of the Springfield Police Department. "
                                           "Not monitored 24/7: in an emergency call 911.",
                            "postsCount": len(items), "labels": []})


def xrpc(world: World, method: str, params: Mapping[str, str], uris: list[str], media_base: str) -> Reply:
    """Dispatch one XRPC query (`method` is the NSID after /xrpc/)."""
    if method == "app.bsky.feed.getAuthorFeed":
        return get_author_feed(world, params, media_base)
    if method == "app.bsky.feed.getPostThread":
        return get_post_thread(world, params, media_base)
    if method == "app.bsky.feed.getPosts":
        return get_posts(world, uris, media_base)
    if method == "app.bsky.actor.getProfile":
        return get_profile(world, params)
    return error(404, "MethodNotImplemented", "Method Not Implemented")


def handle(world: World, route: Route) -> Reply:
    """`GET /bluesky/xrpc/<nsid>?…` (the public AppView needs no token)."""
    if len(route.parts) != 2 or route.parts[0] != "xrpc":
        return error(404, "NotFound", f"No route for {route.path}")
    return xrpc(world, route.parts[1], route.params, route.multi.get("uris", []), route.base_url)


def throttled(retry_after: int, target: str) -> Reply:
    """HTTP 429 with the AppView's rate-limit headers."""
    reset = int(time.time()) + retry_after
    headers = (("RateLimit-Limit", str(RATE_LIMIT)), ("RateLimit-Remaining", "0"),
               ("RateLimit-Reset", str(reset)), ("RateLimit-Policy", f"{RATE_LIMIT};w=300"),
               ("Retry-After", str(retry_after)))
    return json_reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers)


def unsupported_method(target: str) -> Reply:
    return error(404, "MethodNotImplemented", "Method Not Implemented")


def first_record(doc: Any) -> RecordFields | None:
    """The first post of a feed page (`feed[0].post`), a thread (`thread.post`) or `getPosts`, for faults."""
    post: Any = None
    if isinstance(doc, dict) and isinstance(doc.get("feed"), list) and doc["feed"]:
        post = doc["feed"][0].get("post") if isinstance(doc["feed"][0], dict) else None
    elif isinstance(doc, dict) and isinstance(doc.get("thread"), dict):
        post = doc["thread"].get("post")
    elif isinstance(doc, dict) and isinstance(doc.get("posts"), list) and doc["posts"]:
        post = doc["posts"][0]
    return RecordFields(post, "uri", "record.text", "record.createdAt") if isinstance(post, dict) else None


PROFILE = Profile(
    name=BLUESKY, prefix="/bluesky", api_path="/bluesky", account=BLUESKY_HANDLE, token_required=False,
    feed_has_replies=True, hides_comments=False, setup=setup, assign_ids=assign_ids,
    timestamp=ids.bluesky_time, author_label=author_handle, account_state=account_state, handle=handle,
    throttled=throttled, unsupported_method=unsupported_method,
    first_record=first_record,
)
