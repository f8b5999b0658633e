"""Instagram profile: Instagram API with Facebook Login (Graph API) over a `World`, in the shapes
`docs/platform-api.md` pins.

Routes under `/instagram/<version>/…`: the IG User (`/{ig-user-id}`, its `/media` edge newest
first), IG Media (`/{ig-media-id}`, its `/comments` edge of top-level comments newest first) and IG
Comment (`/{ig-comment-id}`, its `/replies` edge oldest first). Every request needs the server's
token (`access_token` or an `Authorization: OAuth|Bearer` header), else Graph error 190.

Instagram keeps replies one level deep: a top-level comment's `replies` holds every reply in its
thread, and a reply names the comment it answers in `parent_id`, always that top-level comment. The
profile's `max_depth=2` keeps the world to that (a reply answers a top-level comment, never a reply),
so the ground truth is what Instagram can state.

Every post has at least one image (Instagram has no text-only media): one image is an `IMAGE`, more
a `CAROUSEL_ALBUM` with `children`. `fields=` selects top-level fields as Graph does, a field the
node type lacks is Graph error 100 "Tried accessing nonexisting field", and `replies{…}` expands a
comment's first page of replies inline. Rate limit: Instagram's business-use-case throttle, HTTP 400
with Graph error 80002 and an `X-Business-Use-Case-Usage` header.
"""

from __future__ import annotations

import base64
import json
import math
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from infra.simulator import ids
from infra.simulator.facebook import (
    _decode_cursor,
    _encode_cursor,
    bad_parameter,
    graph_error,
    header_token,
    invalid_token,
    not_found,
    requested_fields,
)
from infra.simulator.profile import Profile, RecordFields, Route
from infra.simulator.text import DEPARTMENT_NAME
from infra.simulator.wire import Reply, json_reply

if TYPE_CHECKING:
    from infra.simulator.world import Node, World

INSTAGRAM = "instagram"
INSTAGRAM_USER_ID = "17841401234567890"
INSTAGRAM_USERNAME = "springfieldpd"
DEFAULT_LIMIT = 25  # Graph's default page size, also for an inline `replies{…}` expansion
MAX_LIMIT = 100
MEDIA_FIELDS = frozenset({"id", "caption", "media_type", "media_url", "permalink", "thumbnail_url", "timestamp",
                          "username", "comments_count", "like_count", "children", "is_comment_enabled",
                          "media_product_type", "owner", "shortcode"})
COMMENT_FIELDS = frozenset({"id", "text", "timestamp", "username", "from", "user", "media", "hidden",
                            "like_count", "parent_id", "replies"})
BUC_THROTTLE_CODE = 80002


@dataclass(frozen=True)
class Identities:
    """Each resident's username and Instagram-scoped id (by resident number)."""

    usernames: tuple[str, ...]
    scoped_ids: tuple[str, ...]


def setup(world: World) -> Identities:
    return Identities(tuple(f"{r.slug}{r.number}" for r in world.residents),
                      tuple(str(6_100_000_000_000_000 + world.id_base + r.number) for r in world.residents))


def _identities(world: World) -> Identities:
    return world.platform_state[INSTAGRAM]  # type: ignore[return-value]  # what setup() made


def assign_ids(world: World, node: Node, images: int) -> None:
    """Media `179…`, comments `180…`: 17-digit decimal ids apart per seed; every post has an image."""
    if node.parent is None:
        node.key = node.native_id = str(17_900_000_000_000_000 + world.id_base + node.idx)
        node.images = tuple(f"ig-{node.key}-{k}" for k in range(max(images, 1)))
    else:
        node.key = node.native_id = str(18_000_000_000_000_000 + world.id_base + node.idx)
        node.images = ()


def author_label(world: World, node: Node) -> str:
    return INSTAGRAM_USERNAME if node.is_department else _identities(world).usernames[node.author]


def account_state(world: World) -> dict[str, Any]:
    return {"ig_user_id": INSTAGRAM_USER_ID, "username": INSTAGRAM_USERNAME, "name": DEPARTMENT_NAME}


def _shortcode(node: Node) -> str:
    return base64.urlsafe_b64encode(int(node.key).to_bytes(8, "big")).decode("ascii").rstrip("=")


def _likes(world: World, node: Node) -> int:
    """A like count that drifts from step to step (a counter: never a new version)."""
    return (ids.digest_int(world.seed, "likes", node.idx) + world.step * 3) % 97


def _media_url(base_url: str, name: str) -> str:
    return f"{base_url}/media/{name}.png"


def media_object(world: World, node: Node, base_url: str) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": node.native_id,
        "caption": world.text_of(node),
        "media_type": "IMAGE" if len(node.images) == 1 else "CAROUSEL_ALBUM",
        "media_url": _media_url(base_url, node.images[0]),
        "permalink": f"https://www.instagram.com/p/{_shortcode(node)}/",
        "shortcode": _shortcode(node),
        "timestamp": ids.facebook_time(node.created_ms),
        "username": INSTAGRAM_USERNAME,
        "owner": {"id": INSTAGRAM_USER_ID},
        "is_comment_enabled": True,
        "media_product_type": "FEED",
        "comments_count": len(world.live_descendants(node)),
        "like_count": _likes(world, node),
    }
    if len(node.images) > 1:
        obj["children"] = {"data": [
            {"id": str(17_950_000_000_000_000 + (world.id_base + node.idx) * 4 + k), "media_type": "IMAGE",
             "media_url": _media_url(base_url, name)}
            for k, name in enumerate(node.images)
        ]}
    return obj


def comment_object(world: World, node: Node) -> dict[str, Any]:
    if node.is_department:
        author = {"id": INSTAGRAM_USER_ID, "username": INSTAGRAM_USERNAME}
    else:
        people = _identities(world)
        author = {"id": people.scoped_ids[node.author], "username": people.usernames[node.author]}
    obj: dict[str, Any] = {
        "id": node.native_id,
        "text": world.text_of(node),
        "timestamp": ids.facebook_time(node.created_ms),
        "username": author["username"],
        "from": author,
    }
    if node.is_department:
        obj["user"] = {"id": INSTAGRAM_USER_ID}  # Graph returns `user` only for the app user's comments
    obj["media"] = {"id": node.root.native_id}
    obj["hidden"] = node.hidden
    obj["like_count"] = _likes(world, node)
    if node.parent is not None and node.parent.parent is not None:
        obj["parent_id"] = node.parent.native_id
    return obj


def nested_fields(raw: str | None, edge: str) -> tuple[str, int] | None:
    """The `a,b` and page size of `edge{a,b}` or `edge.limit(n){a,b}` in a `fields=` value (None when
    the edge is not expanded); Graph's default page size unless `.limit(n)` says otherwise."""
    text = raw or ""
    found = re.search(rf"(?:^|[,{{]){re.escape(edge)}(?:\.limit\((\d+)\))?\{{", text)
    if found is None:
        return None
    depth, begin = 0, found.end() - 1
    for index in range(begin, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            limit = int(found.group(1)) if found.group(1) else DEFAULT_LIMIT
            return text[begin + 1:index], max(1, min(limit, MAX_LIMIT))
    return None


@dataclass(frozen=True)
class Page:
    """One Graph page of a node's edge: where its `next` link points and which fields it returns."""

    base_url: str
    version: str
    path: str  # `<node-id>/<edge>`
    fields_raw: str | None
    limit: int
    after: tuple[int, int] | None

    def render(self, items: list[Node], keys: list[tuple[int, int]],
               render: Callable[[Node], dict[str, Any]]) -> dict[str, Any]:
        start = bisect_right(keys, self.after) if self.after is not None else 0
        chosen = range(start, min(start + self.limit, len(items)))
        fields = requested_fields({"fields": self.fields_raw} if self.fields_raw else {})
        body: dict[str, Any] = {"data": [_select(render(items[i]), fields) for i in chosen]}
        if chosen:
            after = _encode_cursor(keys[chosen[-1]])
            paging: dict[str, Any] = {"cursors": {"before": _encode_cursor(keys[chosen[0]]), "after": after}}
            if chosen[-1] + 1 < len(items):
                query: dict[str, Any] = {"fields": self.fields_raw} if self.fields_raw else {}
                query.update(limit=self.limit, after=after)
                paging["next"] = f"{self.base_url}/instagram/{self.version}/{self.path}?{urlencode(query)}"
            body["paging"] = paging
        return body


def _select(obj: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
    if fields is None:
        return obj
    return {key: value for key, value in obj.items() if key == "id" or key in fields}


def _page(route: Route, version: str, path: str) -> Page | Reply:
    """The page a request asks for, or Graph's answer to a bad `limit`/`after`."""
    raw_limit = route.params.get("limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit() or int(raw_limit) < 1:
        return bad_parameter("The parameter limit must be a positive integer", route.target)
    after = None
    if route.params.get("after"):
        after = _decode_cursor(route.params["after"])
        if after is None:
            return bad_parameter("The after cursor is invalid", route.target)
    return Page(route.base_url, version, path, route.params.get("fields") or None, min(int(raw_limit), MAX_LIMIT),
                after)


def _chronological(nodes: list[Node]) -> tuple[list[Node], list[tuple[int, int]]]:
    return nodes, [(n.created_ms, n.idx) for n in nodes]


def _newest_first(nodes: list[Node]) -> tuple[list[Node], list[tuple[int, int]]]:
    nodes = sorted(nodes, key=lambda n: (-n.created_ms, -n.idx))
    return nodes, [(-n.created_ms, -n.idx) for n in nodes]


def _comment_with_replies(world: World, node: Node, page: Page) -> dict[str, Any]:
    """A top-level comment, with its first page of replies inline when `replies{…}` was asked."""
    obj = comment_object(world, node)
    nested = nested_fields(page.fields_raw, "replies")
    replies = world.live_descendants(node)
    if nested is not None and replies:
        inline = Page(page.base_url, page.version, f"{node.native_id}/replies", nested[0], nested[1], None)
        obj["replies"] = inline.render(*_chronological(replies), lambda n: comment_object(world, n))
    return obj


def _unknown_fields(route: Route, allowed: frozenset[str]) -> set[str]:
    return (requested_fields(route.params) or set()) - allowed


def nonexisting_field(field: str, node_type: str, trace: str) -> Reply:
    return graph_error(f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})",
                       "OAuthException", 100, trace=trace)


def graph(world: World, route: Route, version: str, path: list[str]) -> Reply:
    """Dispatch `GET /instagram/<version>/<node-id>[/<edge>]` (the token was checked already)."""
    if not path or len(path) > 2 or not path[0]:
        return graph_error(f"Unknown path components: /{'/'.join(path)}", "OAuthException", 2500, trace=route.target)
    node_id, edge = path[0], (path[1] if len(path) == 2 else None)
    if node_id == INSTAGRAM_USER_ID:
        if edge is None:
            return json_reply(200, _select({"id": INSTAGRAM_USER_ID, "username": INSTAGRAM_USERNAME,
                                            "name": DEPARTMENT_NAME}, requested_fields(route.params)))
        if edge != "media":
            return nonexisting_field(edge, "IGUser", route.target)
        page = _page(route, version, f"{node_id}/media")
        if isinstance(page, Reply):
            return page
        if unknown := _unknown_fields(route, MEDIA_FIELDS):
            return nonexisting_field(sorted(unknown)[0], "IGMedia", route.target)
        items, keys = world.feed(INSTAGRAM)
        return json_reply(200, page.render(items, keys, lambda n: media_object(world, n, route.base_url)))
    node = world.node(INSTAGRAM, node_id)
    if node is None or node.deleted:
        return not_found(node_id)
    is_media = node.parent is None
    node_type, allowed = ("IGMedia", MEDIA_FIELDS) if is_media else ("IGComment", COMMENT_FIELDS)
    if edge is None:
        if unknown := _unknown_fields(route, allowed):
            return nonexisting_field(sorted(unknown)[0], node_type, route.target)
        page = Page(route.base_url, version, node_id, route.params.get("fields") or None, DEFAULT_LIMIT, None)
        obj = media_object(world, node, route.base_url) if is_media else _comment_with_replies(world, node, page)
        return json_reply(200, _select(obj, requested_fields(route.params)))
    if edge != ("comments" if is_media else "replies"):
        return nonexisting_field(edge, node_type, route.target)
    if unknown := _unknown_fields(route, COMMENT_FIELDS):
        return nonexisting_field(sorted(unknown)[0], "IGComment", route.target)
    page = _page(route, version, f"{node_id}/{edge}")
    if isinstance(page, Reply):
        return page
    if is_media:
        items, keys = _newest_first(world.live_children(node))
        return json_reply(200, page.render(items, keys, lambda n: _comment_with_replies(world, n, page)))
    items, keys = _chronological(world.live_descendants(node))
    return json_reply(200, page.render(items, keys, lambda n: comment_object(world, n)))


def handle(world: World, route: Route) -> Reply:
    """`GET /instagram/<version>/<node-id>[/<edge>]`, after the token check Graph makes first."""
    if not route.parts or not route.parts[0].startswith("v"):
        return graph_error(f"Unknown path components: {route.path}", "OAuthException", 2500, trace=route.path)
    token = route.params.get("access_token") or header_token(route.headers)
    if token != route.token:
        return invalid_token(route.path)
    return graph(world, route, route.parts[0], route.parts[1:])


def throttled(retry_after: int, target: str) -> Reply:
    """Instagram's business-use-case throttle: HTTP 400, Graph error 80002, the usage header at 100 %."""
    body = graph_error("There have been too many calls to this Instagram account. Wait a bit and try again.",
                       "OAuthException", BUC_THROTTLE_CODE, trace=target, is_transient=True).body
    usage = {INSTAGRAM_USER_ID: [{"type": "instagram", "call_count": 100, "total_cputime": 12, "total_time": 14,
                                  "estimated_time_to_regain_access": math.ceil(retry_after / 60)}]}
    return Reply(400, body, headers=(("X-Business-Use-Case-Usage", json.dumps(usage, separators=(",", ":"))),))


def unsupported_method(target: str) -> Reply:
    return graph_error("Unsupported method", "OAuthException", 100, trace=target)


def first_record(doc: Any) -> RecordFields | None:
    """The first media or comment of a Graph page (`data[0]`), or the one object asked for, for faults."""
    obj = doc.get("data") if isinstance(doc, dict) else None
    obj = (obj[0] if obj else None) if isinstance(obj, list) else doc
    if not isinstance(obj, dict) or "id" not in obj:
        return None
    return RecordFields(obj, "id", "caption" if "media_type" in obj or "caption" in obj else "text", "timestamp")


PROFILE = Profile(
    name=INSTAGRAM, prefix="/instagram", api_path="/instagram/v21.0", account=INSTAGRAM_USER_ID,
    token_required=True, feed_has_replies=False, hides_comments=True, setup=setup, assign_ids=assign_ids,
    timestamp=ids.facebook_time, author_label=author_label, account_state=account_state, handle=handle,
    throttled=throttled, unsupported_method=unsupported_method, max_depth=2,
    first_record=first_record,
)
