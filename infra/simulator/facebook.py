"""Facebook Graph API (a Page) endpoints over a `World`, in the shapes `docs/platform-api.md` pins.

Objects honour `fields=` at the top level (nested `{…}` selections are accepted and ignored), as
the Graph API does; without `fields` every documented field is returned. Cursors are opaque base64
of the last item's sort key, so pages stay stable while the world changes underneath.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from infra.simulator import ids
from infra.simulator.wire import Reply, json_reply
from infra.simulator.world import DEPARTMENT_NAME, FACEBOOK, Node, World

GRAPH_DOCS = "https://developers.facebook.com/docs/graph-api"
FEED_EDGES = ("feed", "posts", "published_posts")


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
        "from": {"name": DEPARTMENT_NAME, "id": world.page_id},
        "permalink_url": f"https://www.facebook.com/{world.page_id}/posts/{node.number}",
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
    author = ({"name": DEPARTMENT_NAME, "id": world.page_id} if node.is_department else
              {"name": world.residents[node.author].name, "id": world.residents[node.author].facebook_id})
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
        "permalink_url": f"https://www.facebook.com/{world.page_id}/posts/{node.root.number}"
                         f"?comment_id={node.number}",
    })
    return obj


def page_object(world: World) -> dict[str, Any]:
    return {"id": world.page_id, "name": DEPARTMENT_NAME, "category": "Police Station",
            "link": f"https://www.facebook.com/{world.page_id}"}


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


def handle(world: World, version: str, path: list[str], params: Mapping[str, str], base_url: str) -> Reply:
    """Dispatch `GET /facebook/<version>/<object-id>[/<edge>]` (the token was checked already)."""
    if not path or len(path) > 2 or not path[0]:
        return graph_error(f"Unknown path components: /{'/'.join(path)}", "OAuthException", 2500,
                           trace="/".join(path))
    object_id, edge = path[0], (path[1] if len(path) == 2 else None)
    request = Request(world, version, object_id, edge, params, base_url)
    media_base = base_url
    if object_id == world.page_id:
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
