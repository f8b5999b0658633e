"""Facebook profile: Graph API (a Page) endpoints over a `World`, in the shapes `docs/platform-api.md` pins.

Routes under `/facebook/<version>/…`; every request needs the server's token (`access_token` query
parameter or an `Authorization: OAuth|Bearer` header), else Graph error 190. Post ids are
`<page-id>_<n>`, comment ids `<post-n>_<n>`; residents' comments can be hidden. Rate limit: HTTP 400
with Graph error code 4 and an `X-App-Usage` header.

Objects honour `fields=` at the top level (nested `{…}` selections are accepted and ignored), as
the Graph API does; without `fields` every documented field is returned. Cursors are opaque base64
of the last item's sort key, so pages stay stable while the world changes underneath.
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_right
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from infra.simulator import ids
from infra.simulator.profile import Profile, RecordFields, Route
from infra.simulator.text import DEPARTMENT_NAME
from infra.simulator.wire import Reply, json_reply

if TYPE_CHECKING:
    from infra.simulator.world import Node, World

FACEBOOK = "facebook"
FACEBOOK_PAGE_ID = "104712345678901"

GRAPH_DOCS = "https://developers.facebook.com/docs/graph-api"
FEED_EDGES = ("feed", "posts", "published_posts")


def setup(world: World) -> tuple[str, ...]:
    """Each resident's Facebook user id (by resident number)."""
    return tuple(str(100_000_000_000_000 + world.id_base + r.number) for r in world.residents)


def user_id(world: World, node: Node) -> str:
    return FACEBOOK_PAGE_ID if node.is_department else world.platform_state[FACEBOOK][node.author]  # type: ignore[index]


def assign_ids(world: World, node: Node, images: int) -> None:
    """Posts `<page-id>_<n>`, comments `<post-n>_<n>`: decimal object numbers apart per seed."""
    if node.parent is None:
        node.key = str(122_000_000_000_000_000 + world.id_base + node.idx)
        node.native_id = f"{FACEBOOK_PAGE_ID}_{node.key}"
    else:
        node.key = str(1_000_000_000_000_000 + world.id_base + node.idx)
        node.native_id = f"{node.root.key}_{node.key}"
    node.images = tuple(f"fb-{node.key}-{k}" for k in range(images))


def author_label(world: World, node: Node) -> str:
    return world.author_name(node)


def account_state(world: World) -> dict[str, Any]:
    return {"page_id": FACEBOOK_PAGE_ID, "name": DEPARTMENT_NAME}


def fbtrace_id(*parts: object) -> str:
    """A trace id like Graph's (`AbC…`), derived from the request so answers stay deterministic."""
    return base64.b64encode(ids.digest_int("fbtrace", *parts).to_bytes(8, "big")).decode("ascii")[:11]


def graph_error(message: str, kind: str, code: int, *, trace: str, **extra: Any) -> Reply:
    return json_reply(400, {"error": {"message": message, "type": kind, "code": code, **extra,
                                      "fbtrace_id": fbtrace_id(trace)}})


def invalid_token(trace: str) -> Reply:
    return graph_error("Invalid OAuth access token - Cannot parse access token", "OAuthException", 190,
                       trace=trace)


def not_found(object_id: str) -> Reply:
    return graph_error(f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
                       "loaded due to missing permissions, or does not support this operation. Please "
                       f"read the Graph API documentation at {GRAPH_DOCS}",
                       "GraphMethodException", 100, trace=object_id, error_subcode=33)


def bad_parameter(message: str, trace: str) -> Reply:
    return graph_error(f"(#100) {message}", "OAuthException", 100, trace=trace)


def requested_fields(params: Mapping[str, str]) -> set[str] | None:
    """Top-level names in `fields=a,b{c,d},e` (None when absent: return everything)."""
    raw = params.get("fields")
    if not raw:
        return None
    names, depth, current = set(), 0, []
    for char in raw:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            names.add("".join(current).strip())
            current = []
        elif depth == 0:
            current.append(char)
    names.add("".join(current).strip())
    return {name.split(".")[0] for name in names if name}


def _select(obj: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
    if fields is None:
        return obj
    return {key: value for key, value in obj.items() if key == "id" or key in fields}


def post_object(world: World, node: Node, media_base: str) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": node.native_id,
        "message": world.text_of(node),
        "created_time": ids.facebook_time(node.created_ms),
        "updated_time": ids.facebook_time(node.edited_ms),
        "from": {"name": DEPARTMENT_NAME, "id": FACEBOOK_PAGE_ID},
        "permalink_url": f"https://www.facebook.com/{FACEBOOK_PAGE_ID}/posts/{node.key}",
    }
    if node.images:
        obj["attachments"] = {"data": [
            {"media_type": "photo",
             "media": {"image": {"height": 16, "width": 16, "src": f"{media_base}/media/{name}.png"}},
             "url": f"{media_base}/media/{name}.png"}
            for name in node.images
        ]}
    return obj


def comment_object(world: World, node: Node) -> dict[str, Any]:
    author = {"name": world.author_name(node), "id": user_id(world, node)}
    obj: dict[str, Any] = {
        "id": node.native_id,
        "message": world.text_of(node),
        "created_time": ids.facebook_time(node.created_ms),
        "from": author,
    }
    if node.parent is not None and node.parent.parent is not None:
        obj["parent"] = {"id": node.parent.native_id}
    obj.update({
        "is_hidden": node.hidden,
        "comment_count": sum(1 for child in node.children if not child.deleted),
        "permalink_url": f"https://www.facebook.com/{FACEBOOK_PAGE_ID}/posts/{node.root.key}"
                         f"?comment_id={node.key}",
    })
    return obj


def page_object(world: World) -> dict[str, Any]:
    return {"id": FACEBOOK_PAGE_ID, "name": DEPARTMENT_NAME, "category": "Police Station",
            "link": f"https://www.facebook.com/{FACEBOOK_PAGE_ID}"}


def _encode_cursor(key: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"{key[0]}:{key[1]}".encode("ascii")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        first, _, second = raw.partition(":")
        return int(first), int(second)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


class Request:
    """One Graph request: the object, the edge, the query, and where to build `next` links."""

    def __init__(self, world: World, version: str, object_id: str, edge: str | None,
                 params: Mapping[str, str], base_url: str) -> None:
        self.world, self.version, self.object_id, self.edge = world, version, object_id, edge
        self.params, self.base_url = params, base_url
        self.fields = requested_fields(params)
        self.trace = f"{object_id}/{edge}?{sorted(params.items())}"

    def page(self, items: list[Node], keys: list[tuple[int, int]], render: Any) -> Reply:
        raw_limit = self.params.get("limit") or "25"
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            return bad_parameter("The parameter limit must be a positive integer", self.trace)
        limit = min(int(raw_limit), 100)
        start = 0
        if self.params.get("after"):
            key = _decode_cursor(self.params["after"])
            if key is None:
                return bad_parameter("The after cursor is invalid", self.trace)
            start = bisect_right(keys, key)
        chosen = list(range(start, min(start + limit, len(items))))
        body: dict[str, Any] = {"data": [_select(render(items[i]), self.fields) for i in chosen]}
        if chosen:
            after = _encode_cursor(keys[chosen[-1]])
            paging: dict[str, Any] = {"cursors": {"before": _encode_cursor(keys[chosen[0]]), "after": after}}
            if chosen[-1] + 1 < len(items):
                query = {k: v for k, v in self.params.items() if k not in ("after", "before")}
                query["after"] = after
                paging["next"] = (f"{self.base_url}/facebook/{self.version}/{self.object_id}/{self.edge}?"
                                  + urlencode(query))
            body["paging"] = paging
        return json_reply(200, body)


def graph(world: World, version: str, path: list[str], params: Mapping[str, str], base_url: str) -> Reply:
    """Dispatch `GET /facebook/<version>/<object-id>[/<edge>]` (the token was checked already)."""
    if not path or len(path) > 2 or not path[0]:
        return graph_error(f"Unknown path components: /{'/'.join(path)}", "OAuthException", 2500,
                           trace="/".join(path))
    object_id, edge = path[0], (path[1] if len(path) == 2 else None)
    request = Request(world, version, object_id, edge, params, base_url)
    media_base = base_url
    if object_id == FACEBOOK_PAGE_ID:
        if edge is None:
            return json_reply(200, _select(page_object(world), request.fields))
        if edge not in FEED_EDGES:
            return graph_error(f"(#100) Tried accessing nonexisting field ({edge}) on node type (Page)",
                               "OAuthException", 100, trace=request.trace)
        items, keys = world.feed(FACEBOOK)
        return request.page(items, keys, lambda n: post_object(world, n, media_base))
    node = world.node(FACEBOOK, object_id)
    if node is None or node.deleted:
        return not_found(object_id)
    if edge is None:
        obj = post_object(world, node, media_base) if node.parent is None else comment_object(world, node)
        return json_reply(200, _select(obj, request.fields))
    if edge != "comments":
        kind = "Post" if node.parent is None else "Comment"
        return graph_error(f"(#100) Tried accessing nonexisting field ({edge}) on node type ({kind})",
                           "OAuthException", 100, trace=request.trace)
    mode = params.get("filter") or "toplevel"
    if mode not in ("toplevel", "stream"):
        return bad_parameter("filter must be one of the following values: toplevel, stream", request.trace)
    order = params.get("order") or "chronological"
    if order not in ("chronological", "reverse_chronological"):
        return bad_parameter("order must be one of: chronological, reverse_chronological", request.trace)
    comments = world.live_children(node) if mode == "toplevel" else world.live_descendants(node)
    if order == "chronological":
        keys = [(c.created_ms, c.idx) for c in comments]
    else:
        comments.reverse()
        keys = [(-c.created_ms, -c.idx) for c in comments]
    return request.page(comments, keys, lambda n: comment_object(world, n))


def header_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: OAuth <token>` (or `Bearer`) header, if any."""
    value = headers.get("Authorization") or headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else None


def handle(world: World, route: Route) -> Reply:
    """`GET /facebook/<version>/<object-id>[/<edge>]`, after the token check Graph makes first."""
    if not route.parts or not route.parts[0].startswith("v"):
        return graph_error(f"Unknown path components: {route.path}", "OAuthException", 2500, trace=route.path)
    token = route.params.get("access_token") or header_token(route.headers)
    if token != route.token:
        return invalid_token(route.path)
    return graph(world, route.parts[0], route.parts[1:], route.params, route.base_url)


def throttled(retry_after: int, target: str) -> Reply:
    """Graph's application throttle: HTTP 400, error code 4, and the usage header at 100 %."""
    body = graph_error("(#4) Application request limit reached", "OAuthException", 4,
                       trace=target, is_transient=True).body
    usage = json.dumps({"call_count": 100, "total_cputime": 10, "total_time": 10}, separators=(",", ":"))
    return Reply(400, body, headers=(("X-App-Usage", usage),))


def unsupported_method(target: str) -> Reply:
    return graph_error("Unsupported method", "OAuthException", 100, trace=target)


def first_record(doc: Any) -> RecordFields | None:
    """The first post or comment of a Graph page (`data[0]`), or the one object asked for, for faults."""
    obj = doc.get("data") if isinstance(doc, dict) else None
    obj = (obj[0] if obj else None) if isinstance(obj, list) else doc
    if not isinstance(obj, dict) or "id" not in obj:
        return None
    return RecordFields(obj, "id", "message", "created_time")


PROFILE = Profile(
    name=FACEBOOK, prefix="/facebook", api_path="/facebook/v21.0", account=FACEBOOK_PAGE_ID, token_required=True,
    feed_has_replies=False, hides_comments=True, setup=setup, assign_ids=assign_ids,
    timestamp=ids.facebook_time, author_label=author_label, account_state=account_state, handle=handle,
    throttled=throttled, unsupported_method=unsupported_method,
    first_record=first_record,
)
