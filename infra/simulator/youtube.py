"""YouTube profile: Data API v3 `list` methods over a `World`, in the shapes `docs/platform-api.md` pins.

Routes under `/youtube/v3/<method>` (the real API is `https://www.googleapis.com/youtube/v3/<method>`):
`channels`, `playlistItems`, `videos`, `commentThreads`, `comments`, `captions`, `captions/<id>`. Every call needs the server's
token, as an API key (`key=` or `X-goog-api-key`) or an OAuth access token (`Authorization: Bearer`);
otherwise Google's JSON error (400 `API_KEY_INVALID`, 401 `authError`, 403 missing key).

The department is one channel; each post is a video in its uploads playlist (`UU…`), each reply a
comment. YouTube threads are two levels deep (a reply answers a top-level comment), so the profile
caps the world's reply depth at 2. Ids look like YouTube's: video ids 11 base64url characters,
channel ids `UC` + 22, top-level comment ids `Ug…4AaABAg`, reply ids `<parent>.<22 characters>`.
A deleted video or comment is absent from `items` (and a thread or reply list of a deleted video or
comment is a 404 `videoNotFound` / `commentNotFound`). Comments cannot be hidden through the API.

Each video has one thumbnail (served at `/media/yt-<video>-0.png`). About two videos in three have a
caption track (`contentDetails.caption` says "true"): `captions?part=snippet&videoId=` lists it as a
`youtube#caption` resource and `captions/<id>?tfmt=vtt` downloads it as WebVTT; the download needs an
OAuth token of the channel owner, so an API key gets Google's 403 `forbidden` (as the real API answers
a caller who cannot edit the video). `likeCount` inside comment
snippets and the `statistics` counters grow with every world step, as real counters do. Page tokens
are opaque base64 of the last item's sort key, so pages stay stable while the world changes.
Rate limit: HTTP 429 `rateLimitExceeded` (`RESOURCE_EXHAUSTED`), as the per-minute quota answers.
"""

from __future__ import annotations

import base64
import binascii
import html
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from infra.simulator import ids
from infra.simulator.profile import Profile, RecordFields, Route
from infra.simulator.text import DEPARTMENT_NAME
from infra.simulator.wire import Reply, json_reply

if TYPE_CHECKING:
    from infra.simulator.world import Node, World

YOUTUBE = "youtube"
YOUTUBE_CHANNEL_ID = "UCsPd7Xr0Q2kLm9VbN4tYw1A"
UPLOADS_PLAYLIST_ID = "UU" + YOUTUBE_CHANNEL_ID[2:]
YOUTUBE_HANDLE = "@SpringfieldPD"
INLINE_REPLIES = 5  # commentThreads.list carries at most this many replies inline
MAX_RESULTS = {"playlistItems": (0, 50, 5), "commentThreads": (1, 100, 20), "comments": (1, 100, 20)}
MAX_IDS = 50


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _digest(length: int, *parts: object) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += ids.digest_int(*parts, counter).to_bytes(8, "big")
        counter += 1
    return out[:length]


def setup(world: World) -> tuple[tuple[str, str], ...]:
    """Each resident's (channel id, @handle), by resident number."""
    return tuple(("UC" + _b64(_digest(17, "yt-channel", world.seed, r.number))[:22], f"@{r.slug}{r.number}")
                 for r in world.residents)


def _resident(world: World, node: Node) -> tuple[str, str]:
    return world.platform_state[YOUTUBE][node.author]  # type: ignore[index, no-any-return]


def channel_of(world: World, node: Node) -> str:
    return YOUTUBE_CHANNEL_ID if node.is_department else _resident(world, node)[0]


def author_label(world: World, node: Node) -> str:
    """What `authorDisplayName` says (the @handle); a video's author is the channel title."""
    if node.parent is None:
        return DEPARTMENT_NAME
    return YOUTUBE_HANDLE if node.is_department else _resident(world, node)[1]


def assign_ids(world: World, node: Node, images: int) -> None:
    """Video ids from 64 digest bits (11 characters, like YouTube's); comment ids under their parent.

    Every video has exactly one thumbnail, whatever `images` says: YouTube always makes one.
    """
    if node.parent is None:
        node.key = node.native_id = _b64(_digest(8, "yt-video", world.seed, node.idx))
        node.images = (f"yt-{node.key}-0",)
    elif node.parent.parent is None:
        node.key = node.native_id = "Ug" + _b64(_digest(13, "yt-comment", world.seed, node.idx))[:17] + "4AaABAg"
    else:
        node.key = _b64(_digest(17, "yt-reply", world.seed, node.idx))[:22]
        node.native_id = f"{node.parent.native_id}.{node.key}"


def account_state(world: World) -> dict[str, Any]:
    return {"channel_id": YOUTUBE_CHANNEL_ID, "uploads": UPLOADS_PLAYLIST_ID, "title": DEPARTMENT_NAME}


def etag(*parts: object) -> str:
    return _b64(_digest(20, "etag", *parts))


def google_error(status: int, message: str, reason: str, domain: str = "global", *, status_text: str = "",
                 location: tuple[str, str] | None = None, details: list[dict[str, Any]] | None = None) -> Reply:
    """Google's JSON error body (developers.google.com/youtube/v3/docs/errors)."""
    entry: dict[str, Any] = {"message": message, "domain": domain, "reason": reason}
    if location:
        entry.update(location=location[0], locationType=location[1])
    error: dict[str, Any] = {"code": status, "message": message, "errors": [entry]}
    if status_text:
        error["status"] = status_text
    if details:
        error["details"] = details
    return json_reply(status, {"error": error})


def missing_key() -> Reply:
    return google_error(403, "Method doesn't allow unregistered callers (callers without established identity)."
                        " Please use API Key or other form of API consumer identity to call this API.",
                        "forbidden", status_text="PERMISSION_DENIED")


def invalid_key() -> Reply:
    return google_error(400, "API key not valid. Please pass a valid API key.", "badRequest",
                        status_text="INVALID_ARGUMENT",
                        details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                  "domain": "googleapis.com", "metadata": {"service": "youtube.googleapis.com"}}])


def invalid_credentials() -> Reply:
    return google_error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                        "login cookie or other valid authentication credential.", "authError",
                        status_text="UNAUTHENTICATED", location=("Authorization", "header"))


def bad_parameter(message: str, reason: str, name: str) -> Reply:
    return google_error(400, message, reason, "youtube.parameter", location=(name, "parameter"))


def not_found(resource: str, reason: str, name: str) -> Reply:
    return google_error(404, f"The {resource} identified by the <code>{name}</code> parameter could not be found.",
                        reason, f"youtube.{'commentThread' if reason == 'videoNotFound' else 'comment'}",
                        location=(name, "parameter"))


def _title(text: str) -> str:
    """A video title: the description's first paragraph, at most 100 characters (YouTube's limit)."""
    first = text.split("\n", 1)[0]
    return first if len(first) <= 100 else first[:99] + "…"


def video_resource(world: World, node: Node, parts: set[str], base_url: str) -> dict[str, Any]:
    text = world.text_of(node)
    obj: dict[str, Any] = {"kind": "youtube#video", "etag": etag("video", node.idx, node.version, world.step),
                           "id": node.native_id}
    if "snippet" in parts:
        thumb = f"{base_url}/media/{node.images[0]}.png"
        obj["snippet"] = {
            "publishedAt": ids.rfc3339(node.created_ms), "channelId": YOUTUBE_CHANNEL_ID,
            "title": _title(text), "description": text,
            "thumbnails": {"default": {"url": thumb, "width": 120, "height": 90},
                           "high": {"url": thumb, "width": 480, "height": 360}},
            "channelTitle": DEPARTMENT_NAME, "categoryId": "25", "liveBroadcastContent": "none",
            "localized": {"title": _title(text), "description": text},
        }
    if "contentDetails" in parts:
        seconds = 30 + ids.digest_int("yt-duration", world.seed, node.idx) % 600
        obj["contentDetails"] = {"duration": f"PT{seconds // 60}M{seconds % 60}S", "dimension": "2d",
                                 "definition": "hd", "caption": "true" if has_caption(world, node) else "false", "licensedContent": False,
                                 "contentRating": {}, "projection": "rectangular"}
    if "status" in parts:
        obj["status"] = {"uploadStatus": "processed", "privacyStatus": "public", "license": "youtube",
                         "embeddable": True, "publicStatsViewable": True, "madeForKids": False}
    if "statistics" in parts:
        live = world.live_descendants(node)
        obj["statistics"] = {"viewCount": str(40 * len(live) + 13 * world.step), "likeCount": str(len(live)),
                             "favoriteCount": "0", "commentCount": str(len(live))}
    return obj


def comment_resource(world: World, node: Node, plain: bool) -> dict[str, Any]:
    text = world.text_of(node)
    channel = channel_of(world, node)
    snippet: dict[str, Any] = {
        "channelId": YOUTUBE_CHANNEL_ID, "videoId": node.root.native_id,
        "textDisplay": text if plain else html.escape(text).replace("\n", "<br>"), "textOriginal": text,
    }
    if node.parent is not None and node.parent.parent is not None:
        snippet["parentId"] = node.parent.native_id
    snippet.update({
        "authorDisplayName": author_label(world, node),
        "authorProfileImageUrl": f"https://yt3.ggpht.com/ytc/{channel[2:]}=s48-c-k-c0x00ffffff-no-rj",
        "authorChannelUrl": f"http://www.youtube.com/{author_label(world, node)}",
        "authorChannelId": {"value": channel},
        "canRate": True, "viewerRating": "none",
        "likeCount": ids.digest_int("yt-likes", world.seed, node.idx) % 20 + world.step,
        "publishedAt": ids.rfc3339(node.created_ms), "updatedAt": ids.rfc3339(node.edited_ms),
    })
    return {"kind": "youtube#comment", "etag": etag("comment", node.idx, node.version, world.step),
            "id": node.native_id, "snippet": snippet}


def thread_resource(world: World, node: Node, parts: set[str], plain: bool) -> dict[str, Any]:
    replies = world.live_children(node)
    obj: dict[str, Any] = {"kind": "youtube#commentThread", "etag": etag("thread", node.idx, world.step),
                           "id": node.native_id}
    if "snippet" in parts:
        obj["snippet"] = {"channelId": YOUTUBE_CHANNEL_ID, "videoId": node.root.native_id,
                          "topLevelComment": comment_resource(world, node, plain), "canReply": True,
                          "totalReplyCount": len(replies), "isPublic": True}
    if "replies" in parts and replies:
        obj["replies"] = {"comments": [comment_resource(world, r, plain) for r in replies[:INLINE_REPLIES]]}
    return obj


def _encode_token(key: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"{key[0]}:{key[1]}".encode("ascii")).decode("ascii")


def _decode_token(token: str) -> tuple[int, int] | None:
    try:
        first, _, second = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii").partition(":")
        return int(first), int(second)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def page(method: str, params: Mapping[str, str], kind: str, items: list[Node], keys: list[tuple[int, int]],
         render: Callable[[Node], dict[str, Any]], world: World) -> Reply:
    """One page of a list method: `maxResults` within the method's range, `pageToken` after a sort key."""
    low, high, default = MAX_RESULTS[method]
    raw = params.get("maxResults") or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        return bad_parameter(f"Invalid value '{raw}'. Values must be within the range: [{low}, {high}]",
                             "invalidParameter", "maxResults")
    limit = int(raw)
    start = 0
    if params.get("pageToken"):
        key = _decode_token(params["pageToken"])
        if key is None:
            return bad_parameter("The request specifies an invalid page token.", "invalidPageToken", "pageToken")
        start = bisect_right(keys, key)
    chosen = range(start, min(start + limit, len(items)))
    body: dict[str, Any] = {"kind": kind, "etag": etag(kind, params.get("pageToken"), world.step)}
    if len(chosen) and chosen[-1] + 1 < len(items):
        body["nextPageToken"] = _encode_token(keys[chosen[-1]])
    body["pageInfo"] = {"totalResults": len(items), "resultsPerPage": limit}
    body["items"] = [render(items[i]) for i in chosen]
    return json_reply(200, body)


def _parts(params: Mapping[str, str]) -> set[str]:
    return {part.strip() for part in (params.get("part") or "").split(",") if part.strip()}


def _live(world: World, native_id: str) -> Node | None:
    node = world.node(YOUTUBE, native_id)
    return node if node is not None and not node.deleted else None


def channels(world: World, params: Mapping[str, str], parts: set[str]) -> Reply:
    wanted = (params.get("id") or "").split(",")
    items = []
    if YOUTUBE_CHANNEL_ID in wanted:
        item: dict[str, Any] = {"kind": "youtube#channel", "etag": etag("channel", world.step), "id": YOUTUBE_CHANNEL_ID}
        if "contentDetails" in parts:
            item["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": UPLOADS_PLAYLIST_ID}}
        if "snippet" in parts:
            item["snippet"] = {"title": DEPARTMENT_NAME, "customUrl": YOUTUBE_HANDLE.lower(),
                               "publishedAt": "2012-03-01T16:00:00Z"}
        items.append(item)
    return json_reply(200, {"kind": "youtube#channelListResponse", "etag": etag("channels", world.step),
                            "pageInfo": {"totalResults": len(items), "resultsPerPage": 5}, "items": items})


def playlist_items(world: World, params: Mapping[str, str], parts: set[str], base_url: str) -> Reply:
    if params.get("playlistId") != UPLOADS_PLAYLIST_ID:
        return google_error(404, "The playlist identified with the request's <code>playlistId</code> parameter "
                            "cannot be found.", "playlistNotFound", "youtube.playlistItem",
                            location=("playlistId", "parameter"))
    items, keys = world.feed(YOUTUBE)

    def render(node: Node) -> dict[str, Any]:
        obj: dict[str, Any] = {"kind": "youtube#playlistItem", "etag": etag("pli", node.idx, node.version),
                               "id": _b64(f"{UPLOADS_PLAYLIST_ID}.{node.native_id}".encode("ascii"))}
        if "snippet" in parts:
            video = video_resource(world, node, {"snippet"}, base_url)["snippet"]
            obj["snippet"] = {
                "publishedAt": video["publishedAt"], "channelId": YOUTUBE_CHANNEL_ID, "title": video["title"],
                "description": video["description"], "thumbnails": video["thumbnails"],
                "channelTitle": DEPARTMENT_NAME, "playlistId": UPLOADS_PLAYLIST_ID,
                "position": bisect_left(keys, (-node.created_ms, -node.idx)),
                "resourceId": {"kind": "youtube#video", "videoId": node.native_id},
                "videoOwnerChannelTitle": DEPARTMENT_NAME, "videoOwnerChannelId": YOUTUBE_CHANNEL_ID,
            }
        if "contentDetails" in parts:
            obj["contentDetails"] = {"videoId": node.native_id, "videoPublishedAt": ids.rfc3339(node.created_ms)}
        return obj

    return page("playlistItems", params, "youtube#playlistItemListResponse", items, keys, render, world)


def videos(world: World, params: Mapping[str, str], parts: set[str], base_url: str) -> Reply:
    wanted = [v for v in (params.get("id") or "").split(",") if v]
    if len(wanted) > MAX_IDS:
        return bad_parameter(f"The request specifies more than {MAX_IDS} ids.", "invalidParameter", "id")
    found = [node for node in map(lambda v: _live(world, v), wanted) if node is not None and node.parent is None]
    return json_reply(200, {"kind": "youtube#videoListResponse", "etag": etag("videos", params.get("id"), world.step),
                            "items": [video_resource(world, n, parts, base_url) for n in found],
                            "pageInfo": {"totalResults": len(found), "resultsPerPage": len(found)}})


def comment_threads(world: World, params: Mapping[str, str], parts: set[str]) -> Reply:
    video = _live(world, params.get("videoId") or "")
    if video is None or video.parent is not None:
        return not_found("video", "videoNotFound", "videoId")
    order = params.get("order") or "time"
    if order not in ("time", "relevance"):
        return bad_parameter(f"Invalid value '{order}' for order.", "invalidParameter", "order")
    plain = params.get("textFormat") == "plainText"
    top = world.live_children(video)
    top.reverse()  # newest first, for "time" (and, in the simulator, for "relevance" too)
    keys = [(-c.created_ms, -c.idx) for c in top]
    return page("commentThreads", params, "youtube#commentThreadListResponse", top, keys,
                lambda n: thread_resource(world, n, parts, plain), world)


def comments(world: World, params: Mapping[str, str], parts: set[str]) -> Reply:
    plain = params.get("textFormat") == "plainText"
    if params.get("parentId"):
        parent = _live(world, params["parentId"])
        if parent is None or parent.parent is None or parent.parent.parent is not None:
            return not_found("comment", "commentNotFound", "parentId")
        replies = world.live_children(parent)
        keys = [(c.created_ms, c.idx) for c in replies]
        return page("comments", params, "youtube#commentListResponse", replies, keys,
                    lambda n: comment_resource(world, n, plain), world)
    if not params.get("id"):
        return bad_parameter("No filter selected. Expected one of: id, parentId", "missingRequiredParameter",
                             "parameters")
    wanted = [c for c in params["id"].split(",") if c]
    found = [node for node in map(lambda c: _live(world, c), wanted) if node is not None and node.parent is not None]
    return json_reply(200, {"kind": "youtube#commentListResponse", "etag": etag("comments", params["id"], world.step),
                            "items": [comment_resource(world, n, plain) for n in found],
                            "pageInfo": {"totalResults": len(found), "resultsPerPage": len(found)}})


CAPTION_ID_PREFIX = "AUieDa"  # real caption track ids start so; the video id ends the simulator's


def has_caption(world: World, node: Node) -> bool:
    """Whether a video has a caption track (two in three, fixed per video)."""
    return ids.digest_int("yt-caption", world.seed, node.idx) % 3 != 0


def caption_id(world: World, node: Node) -> str:
    return CAPTION_ID_PREFIX + _b64(_digest(9, "yt-caption-id", world.seed, node.idx)) + node.native_id


def caption_resource(world: World, node: Node) -> dict[str, Any]:
    """A `youtube#caption` resource (developers.google.com/youtube/v3/docs/captions#resource)."""
    return {"kind": "youtube#caption", "etag": etag("caption", node.idx), "id": caption_id(world, node),
            "snippet": {"videoId": node.native_id, "lastUpdated": ids.rfc3339(node.created_ms),
                        "trackKind": "standard", "language": "en", "name": "English", "audioTrackType": "unknown",
                        "isCC": False, "isLarge": False, "isEasyReader": False, "isDraft": False,
                        "isAutoSynced": False, "status": "serving"}}


def captions_list(world: World, params: Mapping[str, str]) -> Reply:
    """captions.list?part=snippet&videoId=: the video's tracks (404 `videoNotFound` for a gone video)."""
    video = _live(world, params.get("videoId") or "")
    if video is None or video.parent is not None:
        return google_error(404, "The video identified by the <code>videoId</code> parameter could not be found.",
                            "videoNotFound", "youtube.video", location=("videoId", "parameter"))
    items = [caption_resource(world, video)] if has_caption(world, video) else []
    return json_reply(200, {"kind": "youtube#captionListResponse", "etag": etag("captions", video.idx, world.step),
                            "items": items})


def captions_download(world: World, track: str, route: Route) -> Reply:
    """captions.download (`GET captions/<id>?tfmt=vtt`): WebVTT for the channel owner's OAuth token only."""
    if _header(route.headers, "Authorization") is None:
        return google_error(403, "The permissions associated with the request are not sufficient to download the "
                            "caption track. The request might not be properly authorized, or the video order might "
                            "not have enabled third-party contributions for this caption.", "forbidden",
                            "youtube.caption")
    video = _live(world, track[-11:]) if track.startswith(CAPTION_ID_PREFIX) else None
    if video is None or video.parent is not None or not has_caption(world, video) \
            or caption_id(world, video) != track:
        return google_error(404, "The caption track identified by the <code>id</code> parameter could not be "
                            "found.", "captionNotFound", "youtube.caption", location=("id", "parameter"))
    first = world.text_of(video).split("\n", 1)[0][:80]
    body = f"WEBVTT\n\n00:00:00.000 --> 00:00:04.000\n{first}\n".encode()
    return Reply(200, body, content_type="text/vtt; charset=utf-8")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name whatever its case (the server's headers are case-insensitive, a dict is not)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def token_problem(route: Route) -> Reply | None:
    """Google checks credentials first: an API key (query or header) or an OAuth access token."""
    key = route.params.get("key") or _header(route.headers, "X-Goog-Api-Key")
    auth = _header(route.headers, "Authorization")
    if key is not None:
        return None if key == route.token else invalid_key()
    if auth:
        scheme, _, token = auth.partition(" ")
        ok = scheme.lower() in ("bearer", "oauth") and token.strip() == route.token
        return None if ok else invalid_credentials()
    return missing_key()


def handle(world: World, route: Route) -> Reply:
    """`GET /youtube/v3/<method>?part=…`, after the credential check."""
    problem = token_problem(route)
    if problem is not None:
        return problem
    if len(route.parts) == 3 and route.parts[:2] == ["v3", "captions"]:
        return captions_download(world, route.parts[2], route)
    if len(route.parts) != 2 or route.parts[0] != "v3":
        return google_error(404, f"Not Found: {route.path}", "notFound")
    method, parts = route.parts[1], _parts(route.params)
    if method in ("channels", "playlistItems", "videos", "commentThreads", "comments", "captions") and not parts:
        return bad_parameter("Required parameter: part", "required", "part")
    if method == "channels":
        return channels(world, route.params, parts)
    if method == "playlistItems":
        return playlist_items(world, route.params, parts, route.base_url)
    if method == "videos":
        return videos(world, route.params, parts, route.base_url)
    if method == "commentThreads":
        return comment_threads(world, route.params, parts)
    if method == "comments":
        return comments(world, route.params, parts)
    if method == "captions":
        return captions_list(world, route.params)
    return google_error(404, f"Method not found: {method}", "notFound")


def throttled(retry_after: int, target: str) -> Reply:
    """The per-minute quota's answer: HTTP 429 `rateLimitExceeded`, `RESOURCE_EXHAUSTED` (no Retry-After)."""
    return google_error(429, "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of "
                        "service 'youtube.googleapis.com' for consumer 'project_number:000000000000'.",
                        "rateLimitExceeded", status_text="RESOURCE_EXHAUSTED")


def quota_exceeded() -> Reply:
    """The daily quota's answer (what a budget-limited simulator would send)."""
    return google_error(403, "The request cannot be completed because you have exceeded your "
                        "<a href=\"/youtube/v3/getting-started#quota\">quota</a>.", "quotaExceeded",
                        "youtube.quota")


def unsupported_method(target: str) -> Reply:
    return google_error(405, "Method not allowed", "methodNotAllowed")


def first_record(doc: Any) -> RecordFields | None:
    """The first resource of `items`: a comment thread's top-level comment, a comment or a video, for faults."""
    items = doc.get("items") if isinstance(doc, dict) else None
    item = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else None
    if item is None:
        return None
    snippet = item.get("snippet")
    top = snippet.get("topLevelComment") if isinstance(snippet, dict) else None
    if isinstance(top, dict):
        return RecordFields(top, "id", "snippet.textOriginal", "snippet.publishedAt")
    text = "snippet.description" if item.get("kind") == "youtube#video" else "snippet.textOriginal"
    return RecordFields(item, "id", text, "snippet.publishedAt")


PROFILE = Profile(
    name=YOUTUBE, prefix="/youtube", api_path="/youtube/v3", account=YOUTUBE_CHANNEL_ID, token_required=True,
    feed_has_replies=False, hides_comments=False, setup=setup, assign_ids=assign_ids, timestamp=ids.rfc3339,
    author_label=author_label, account_state=account_state, handle=handle, throttled=throttled,
    unsupported_method=unsupported_method, max_depth=2,
    first_record=first_record,
)
