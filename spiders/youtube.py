"""YouTube: a channel's uploads (Data API v3) and every comment thread and reply under each video.

The walk, all documented `list` methods of https://developers.google.com/youtube/v3/docs:
    channels.list?part=contentDetails&id=<channel>     → contentDetails.relatedPlaylists.uploads (UU…)
    playlistItems.list?part=snippet,contentDetails&playlistId=<uploads>&maxResults=50&pageToken=
                                                       → contentDetails.videoId per item; nextPageToken
    videos.list?part=snippet,status,contentDetails&id=<up to 50 ids>
                                                       → one `youtube#video` per live id (a deleted or
                                                         private video is simply absent from `items`)
    commentThreads.list?part=snippet,replies&videoId=&maxResults=100&order=time&textFormat=plainText
                                                       → top-level comment + a few inline replies
    comments.list?part=snippet&parentId=<comment>&maxResults=100&textFormat=plainText
                                                       → every reply, when totalReplyCount says the
                                                         inline `replies.comments` are not all of them
    comments.list?part=snippet&id=<comment> / videos.list?id=<video>
                                                       → the deletion sweep: an id absent from `items`
                                                         is the platform's "gone" answer
Records: a video is a post; a top-level comment is a reply whose parent is the video; a reply's
parent is its `snippet.parentId` (YouTube threads are two levels deep). A video's text is its
`snippet.description` (its title when the description is empty; the title stays in the native
object); a comment's text is `snippet.textOriginal` (else `textDisplay`, asked for as plain text).
YouTube has no "hidden" state readable by the API (held-for-review comments are simply not listed),
so every record is "active". A video's media is its largest thumbnail and its caption tracks:
    captions.list?part=snippet&videoId=<video>         → `youtube#caption` ids, asked only for a video
                                                         whose `contentDetails.caption` is "true"
    captions/<id>?tfmt=vtt (captions.download)         → the track as WebVTT, fetched as media
The track ids are known only after captions.list, so a captioned video's record is held back and taken
from a second videos.list of that one video (1 unit) whose record names the tracks as media; the
download needs an OAuth token of the channel owner, and an API key's 403 `forbidden` is recorded as a
skipped media ("captions need OAuth"), not a failed capture.

Auth: a source's token is either an API key (Google keys start `AIza`), sent in the `X-goog-api-key`
header, or an OAuth 2.0 access token, sent as `Authorization: Bearer`. Never the `key=` query
parameter: the URL is recorded in the published capture (`redact_url` would blank it, but nothing
secret should be there to begin with).

Budget: every call costs quota units against the API project's daily quota (default 10,000):
`QUOTA_COST` (per method, from the quota calculator) and `quota_cost(url)`; `quota_exceeded(payload)`
recognises the 403 `youtube.quota`/`quotaExceeded` answer, which is not retried (it lasts until
midnight Pacific time). The per-minute limit is HTTP 429 (`rateLimitExceeded`), retried with backoff
by the retry middleware like any 429.

Native-object rule (part of the archive format, docs/archive-format.md): the record object is the
`youtube#video` resource (`items[]` of videos.list) or the `youtube#comment` resource
(`items[].snippet.topLevelComment` and `items[].replies.comments[]` of commentThreads.list, `items[]`
of comments.list); its native id is its `id`. Dropped, because they change without the record
changing:
    top level:         etag, statistics (viewCount, likeCount, commentCount, …)
    inside `snippet`:  likeCount, viewerRating, canRate (counters and the caller's own state),
                       totalReplyCount, canReply (thread bookkeeping, should they appear)
Everything else stays as received: `kind`, `id`, the rest of `snippet` (title, description,
thumbnails, textOriginal, textDisplay, authorChannelId, parentId, publishedAt, updatedAt…),
`contentDetails`, `status`. `iter_raw_objects` tells resources apart by their `kind`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlencode, urlsplit

from scrapy.http import Request, Response
from twisted.python.failure import Failure

from archiver.model import Capture, MediaRef, ParsedRecord, Tombstone
from spiders.base import DEFERRED, FEED_PRIORITY, ApiSpider, Outcome, PayloadError, exchange_of, instant
from spiders.platform import NativeRule, Platform

PLATFORM = "youtube"
DEFAULT_BASE_URL = "https://www.googleapis.com/youtube/v3"
PLAYLIST_PAGE_SIZE = 50  # playlistItems.list maximum
VIDEOS_PER_CALL = 50  # videos.list takes at most 50 ids
COMMENT_PAGE_SIZE = 100  # commentThreads.list and comments.list maximum
VIDEO_KIND = "youtube#video"
COMMENT_KIND = "youtube#comment"
THREAD_KIND = "youtube#commentThread"
VOLATILE = frozenset({"etag", "statistics"})
SNIPPET_VOLATILE = frozenset({"likeCount", "viewerRating", "canRate", "totalReplyCount", "canReply"})
# Quota units per call (developers.google.com/youtube/v3/determine_quota_cost); list methods cost 1.
QUOTA_COST: Mapping[str, int] = MappingProxyType({
    "channels": 1, "playlistItems": 1, "videos": 1, "commentThreads": 1, "comments": 1,
    "search": 100, "captions": 50,
})
CAPTION_DOWNLOAD_COST = 200  # captions.download (`GET captions/<id>`), per the brief's quota figure
CAPTION_MIME = "text/vtt"
CAPTIONS_NEED_OAUTH = "skipped: captions need OAuth (an OAuth token of the channel owner; an API key gets HTTP 403)"
DAILY_QUOTA = 10_000  # the default daily allocation of an API project
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
TOKEN_REASONS = frozenset({"authError", "keyInvalid", "keyExpired", "forbidden", "accessNotConfigured",
                           "API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"})
CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_-]{22}")
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
THUMBNAIL_SIZES = ("maxres", "standard", "high", "medium", "default")  # largest first


@dataclass(frozen=True)
class NestedNativeRule(NativeRule):
    """A `NativeRule` that also drops volatile keys one level down (`snippet.likeCount`).

    YouTube keeps its counters and viewer state inside `snippet`, next to the text; dropping only
    top-level keys would make every new like a new version.
    """

    nested_volatile: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))

    def native_object(self, raw_obj: dict[str, Any]) -> dict[str, Any]:
        native = super().native_object(raw_obj)
        for key, drop in self.nested_volatile.items():
            inner = native.get(key)
            if isinstance(inner, dict):
                native[key] = {name: value for name, value in inner.items() if name not in drop}
        return native


def iter_raw_objects(payload: Any) -> Iterator[dict[str, Any]]:
    """Every video and comment in a videos/commentThreads/comments list response, by `kind`."""
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        return
    for item in payload["items"]:
        if not isinstance(item, dict):
            continue
        if item.get("kind") in (VIDEO_KIND, COMMENT_KIND):
            yield item
        elif item.get("kind") == THREAD_KIND:
            snippet = item.get("snippet")
            if isinstance(snippet, dict) and isinstance(snippet.get("topLevelComment"), dict):
                yield snippet["topLevelComment"]
            replies = item.get("replies")
            comments = replies.get("comments") if isinstance(replies, dict) else None
            if isinstance(comments, list):
                yield from (c for c in comments if isinstance(c, dict))


def native_id_of(obj: dict[str, Any]) -> str | None:
    """A video or comment is recorded under its `id`."""
    value = obj.get("id")
    return value if isinstance(value, str) else None


NATIVE = NestedNativeRule(volatile=VOLATILE, iter_raw_objects=iter_raw_objects, native_id_of=native_id_of,
                          nested_volatile=MappingProxyType({"snippet": SNIPPET_VOLATILE}))


def quota_cost(url: str) -> int:
    """Quota units a Data API call costs, from its method (the last path segment); unknown: 1.

    captions.download is `captions/<id>`: its last segment is the track id, the one before `captions`."""
    segments = urlsplit(url).path.rstrip("/").split("/")
    if len(segments) >= 2 and segments[-2] == "captions":
        return CAPTION_DOWNLOAD_COST
    return QUOTA_COST.get(segments[-1], 1)


def api_errors(payload: Any) -> tuple[int | None, str, tuple[str, ...]]:
    """(code, message, reasons) of a Google JSON error body (`error.errors[].reason` and the
    `google.rpc.ErrorInfo` reason in `error.details`); (None, "", ()) when it is not one."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, "", ()
    reasons = [e.get("reason") for e in error.get("errors") or () if isinstance(e, dict)]
    reasons += [d.get("reason") for d in error.get("details") or () if isinstance(d, dict)]
    code = error.get("code")
    message = error.get("message")
    return (code if isinstance(code, int) else None, message if isinstance(message, str) else "",
            tuple(r for r in reasons if isinstance(r, str)))


def quota_exceeded(payload: Any) -> bool:
    """The daily quota is spent (`youtube.quota` / `quotaExceeded`): stop, retrying will not help."""
    return bool(QUOTA_REASONS & set(api_errors(payload)[2]))


def _dict(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise PayloadError(f"{where}: expected an object, got {type(obj).__name__}")
    return obj


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise PayloadError(f"{where}.{key}: expected a list, got {type(value).__name__}")
    return value


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def _opt_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise PayloadError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def _kind(obj: dict[str, Any], expected: str, where: str) -> None:
    kind = obj.get("kind")
    if kind is not None and kind != expected:
        raise PayloadError(f"{where}.kind: expected {expected!r}, got {kind!r}")


def _items(payload: Any) -> list[Any]:
    return _list(_dict(payload, "response"), "items", "response")


def next_page(payload: Any) -> str | None:
    """The response's `nextPageToken` (absent on the last page)."""
    token = payload.get("nextPageToken") if isinstance(payload, dict) else None
    return token if isinstance(token, str) and token else None


def uploads_playlist(payload: Any, channel_id: str) -> str:
    """channels.list → the channel's uploads playlist id."""
    items = _items(payload)
    for index, item in enumerate(items):
        item = _dict(item, f"items[{index}]")
        if item.get("id") == channel_id:
            details = _dict(item.get("contentDetails"), f"items[{index}].contentDetails")
            related = _dict(details.get("relatedPlaylists"), f"items[{index}].contentDetails.relatedPlaylists")
            return _str(related, "uploads", f"items[{index}].contentDetails.relatedPlaylists")
    raise PayloadError(f"items: no channel {channel_id} (is the source's account the channel id?)")


def playlist_video_ids(payload: Any) -> list[str]:
    """playlistItems.list page → the video ids, in playlist order."""
    ids = []
    for index, item in enumerate(_items(payload)):
        item = _dict(item, f"items[{index}]")
        details = item.get("contentDetails")
        if details is not None:
            ids.append(_str(_dict(details, f"items[{index}].contentDetails"), "videoId",
                            f"items[{index}].contentDetails"))
        else:
            snippet = _dict(item.get("snippet"), f"items[{index}].snippet")
            resource = _dict(snippet.get("resourceId"), f"items[{index}].snippet.resourceId")
            ids.append(_str(resource, "videoId", f"items[{index}].snippet.resourceId"))
    return ids


def playlist_published(payload: Any) -> list[str]:
    """playlistItems.list page → each item's `contentDetails.videoPublishedAt` that is a string."""
    found = []
    for item in _items(payload):
        details = item.get("contentDetails") if isinstance(item, dict) else None
        published = details.get("videoPublishedAt") if isinstance(details, dict) else None
        if isinstance(published, str):
            found.append(published)
    return found


def _thumbnail(snippet: dict[str, Any]) -> tuple[MediaRef, ...]:
    thumbnails = snippet.get("thumbnails")
    if not isinstance(thumbnails, dict):
        return ()
    for size in THUMBNAIL_SIZES:
        entry = thumbnails.get(size)
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            return (MediaRef(url=entry["url"], mime=None),)
    return ()


def parse_video(obj: Any, channel_id: str, where: str) -> ParsedRecord:
    """One `youtube#video` resource → a post record."""
    obj = _dict(obj, where)
    _kind(obj, VIDEO_KIND, where)
    video_id = _str(obj, "id", where)
    snippet = _dict(obj.get("snippet"), f"{where}.snippet")
    title = _str(snippet, "title", f"{where}.snippet")
    description = _opt_str(snippet, "description", f"{where}.snippet") or ""
    owner = _str(snippet, "channelId", f"{where}.snippet")
    published = _str(snippet, "publishedAt", f"{where}.snippet")
    author = _opt_str(snippet, "channelTitle", f"{where}.snippet") or owner
    return ParsedRecord(
        platform=PLATFORM, account=channel_id, kind="post", native_id=video_id,
        native=NATIVE.native_object(obj), url=f"https://www.youtube.com/watch?v={video_id}",
        author=author, author_is_department=owner == channel_id, created_at=published,
        text=description or title, parent_native_id=None, thread_native_id=video_id,
        media=_thumbnail(snippet),
    )


def parse_comment(obj: Any, channel_id: str, where: str, *, video_id: str | None = None) -> ParsedRecord:
    """One `youtube#comment` resource → a reply record (parent: `parentId`, else the video)."""
    obj = _dict(obj, where)
    _kind(obj, COMMENT_KIND, where)
    comment_id = _str(obj, "id", where)
    snippet = _dict(obj.get("snippet"), f"{where}.snippet")
    video = _opt_str(snippet, "videoId", f"{where}.snippet") or video_id
    if video is None:
        raise PayloadError(f"{where}.snippet.videoId: expected a string, got NoneType")
    text = _opt_str(snippet, "textOriginal", f"{where}.snippet")
    if text is None:
        text = _str(snippet, "textDisplay", f"{where}.snippet")
    published = _str(snippet, "publishedAt", f"{where}.snippet")
    parent = _opt_str(snippet, "parentId", f"{where}.snippet")
    author_channel = snippet.get("authorChannelId")
    author_id = _opt_str(_dict(author_channel, f"{where}.snippet.authorChannelId"), "value",
                         f"{where}.snippet.authorChannelId") if author_channel is not None else None
    author = _opt_str(snippet, "authorDisplayName", f"{where}.snippet") or author_id or ""
    return ParsedRecord(
        platform=PLATFORM, account=channel_id, kind="reply", native_id=comment_id,
        native=NATIVE.native_object(obj), url=f"https://www.youtube.com/watch?v={video}&lc={comment_id}",
        author=author, author_is_department=author_id == channel_id, created_at=published, text=text,
        parent_native_id=parent or video, thread_native_id=video,
    )


def has_captions(record: ParsedRecord) -> bool:
    """A video whose `contentDetails.caption` says "true" (the API's own flag: a track exists)."""
    details = record.native.get("contentDetails")
    return isinstance(details, dict) and details.get("caption") == "true"


def caption_tracks(payload: Any, video_id: str) -> list[str]:
    """captions.list → the ids of the video's tracks (a `youtube#caption` of another video is an error)."""
    tracks = []
    for index, item in enumerate(_items(payload)):
        where = f"items[{index}]"
        item = _dict(item, where)
        _kind(item, "youtube#caption", where)
        snippet = item.get("snippet")
        if isinstance(snippet, dict) and snippet.get("videoId") not in (None, video_id):
            raise PayloadError(f"{where}.snippet.videoId: expected {video_id!r}, got {snippet.get('videoId')!r}")
        tracks.append(_str(item, "id", where))
    return tracks


def parse_videos(payload: Any, channel_id: str) -> list[ParsedRecord]:
    """videos.list → one post per video."""
    return [parse_video(item, channel_id, f"items[{index}]") for index, item in enumerate(_items(payload))]


@dataclass(frozen=True)
class ThreadPage:
    """One commentThreads.list page: its comments, and the threads whose replies are not all inline."""

    records: list[ParsedRecord]
    more_replies: list[str]  # top-level comment ids to list with comments.list?parentId=


def parse_comment_threads(payload: Any, channel_id: str, video_id: str) -> ThreadPage:
    """commentThreads.list → every top-level comment and inline reply."""
    records: list[ParsedRecord] = []
    more: list[str] = []
    for index, item in enumerate(_items(payload)):
        where = f"items[{index}]"
        item = _dict(item, where)
        _kind(item, THREAD_KIND, where)
        snippet = _dict(item.get("snippet"), f"{where}.snippet")
        top = parse_comment(snippet.get("topLevelComment"), channel_id, f"{where}.snippet.topLevelComment",
                            video_id=video_id)
        records.append(top)
        replies = item.get("replies")
        inline = _list(_dict(replies, f"{where}.replies"), "comments", f"{where}.replies") \
            if replies is not None else []
        records.extend(parse_comment(reply, channel_id, f"{where}.replies.comments[{k}]", video_id=video_id)
                       for k, reply in enumerate(inline))
        total = snippet.get("totalReplyCount", 0)
        if not isinstance(total, int) or isinstance(total, bool):
            raise PayloadError(f"{where}.snippet.totalReplyCount: expected an integer, got {type(total).__name__}")
        if total > len(inline):
            more.append(top.native_id)
    return ThreadPage(records, more)


def parse_comments(payload: Any, channel_id: str, video_id: str | None) -> list[ParsedRecord]:
    """comments.list → one reply record per comment."""
    return [parse_comment(item, channel_id, f"items[{index}]", video_id=video_id)
            for index, item in enumerate(_items(payload))]


def auth_headers(token: str | None) -> dict[str, str] | None:
    """An API key (`AIza…`) goes in `X-goog-api-key`, an OAuth access token in `Authorization`."""
    if not token:
        return None
    return {"X-goog-api-key": token} if token.startswith("AIza") else {"Authorization": f"Bearer {token}"}


class YouTubeSpider(ApiSpider):
    """Pulls one YouTube channel: uploads, videos, comment threads and replies, deletion sweep."""

    name = "youtube"
    platform = PLATFORM
    default_base_url = DEFAULT_BASE_URL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, int] = {}  # video id → its comment requests not yet answered

    def _url(self, method: str, params: dict[str, Any]) -> str:
        return f"{self.base_url}/{method}?{urlencode(params, safe=',')}"

    def api_request(self, *args: Any, **kwargs: Any) -> Request:
        headers = auth_headers(self.source.token())
        if headers:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), **headers}
        return super().api_request(*args, **kwargs)

    # -- the feed: channel → uploads playlist → videos -----------------------------------------

    def first_requests(self) -> list[Request]:
        url = self._url("channels", {"part": "contentDetails", "id": self.account})
        return [self.api_request(url, self.on_channel, {"feed": True, "channel": True}, priority=FEED_PRIORITY)]

    def on_channel(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        return Outcome(requests=[self.playlist_request(uploads_playlist(payload, self.account))])

    def playlist_request(self, playlist_id: str, page: str | None = None) -> Request:
        params: dict[str, Any] = {"part": "snippet,contentDetails", "playlistId": playlist_id,
                                  "maxResults": PLAYLIST_PAGE_SIZE}
        if page:
            params["pageToken"] = page
        return self.api_request(self._url("playlistItems", params), self.on_playlist,
                                {"feed": True, "playlist": playlist_id, "page": page}, priority=FEED_PRIORITY)

    def on_playlist(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        ids = playlist_video_ids(payload)
        requests = self.salvage(payload, ctx)
        for start in range(0, len(ids), VIDEOS_PER_CALL):
            requests.append(self.videos_request(ids[start:start + VIDEOS_PER_CALL]))
        return Outcome(requests=requests)

    def videos_request(self, video_ids: list[str]) -> Request:
        url = self._url("videos", {"part": "snippet,status,contentDetails", "id": ",".join(video_ids)})
        return self.api_request(url, self.on_videos, {"feed": True, "videos": video_ids}, priority=FEED_PRIORITY)

    def on_videos(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        records = parse_videos(payload, self.account)
        requests: list[Request] = []
        if "tracks" in ctx:  # the second look at one captioned video: its tracks are its media too
            refs = tuple(MediaRef(url=self.caption_url(track), mime=CAPTION_MIME) for track in ctx["tracks"])
            records = [replace(r, media=r.media + refs) for r in records]
        else:
            # Tracks are looked up when a video is first archived (captions.list costs 50 quota
            # units and the download 200): a video the last complete walk saw (older than the plan)
            # or a known one being re-swept takes its record as it comes.
            held = {r.native_id for r in records if has_captions(r) and r.native_id not in self.known
                    and not self.older_than_plan(r.created_at)}
            requests += [self.captions_request(video_id) for video_id in sorted(held)]
            records = [r for r in records if r.native_id not in held]
        requests += [self.threads_request(r.native_id) for r in records if r.native_id not in self.skip_threads]
        return Outcome(records=records, requests=requests)

    # -- captions: list a captioned video's tracks, then take its record again naming them ------

    def caption_url(self, track: str) -> str:
        return f"{self.base_url}/captions/{track}?{urlencode({'tfmt': 'vtt'})}"

    def captions_request(self, video_id: str) -> Request:
        url = self._url("captions", {"part": "snippet", "videoId": video_id})
        return self.api_request(url, self.on_captions, {"feed": True, "captions_for": video_id},
                                priority=FEED_PRIORITY)

    def on_captions(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        video_id = ctx["captions_for"]
        return Outcome(requests=[self.video_again(video_id, caption_tracks(payload, video_id))])

    def video_again(self, video_id: str, tracks: list[str]) -> Request:
        """videos.list of one held-back video; its record names `tracks` as media."""
        url = self._url("videos", {"part": "snippet,status,contentDetails", "id": video_id})
        return self.api_request(url, self.on_videos, {"feed": True, "videos": [video_id], "tracks": tracks},
                                priority=FEED_PRIORITY)

    def _media_request(self, ref: MediaRef) -> Request:
        request = super()._media_request(ref)
        headers = auth_headers(self.source.token()) if ref.url.startswith(self.base_url + "/") else None
        return request.replace(headers=headers) if headers else request  # captions.download is an API call

    def _on_media(self, response: Response, ref: MediaRef) -> Iterator[Capture]:
        if response.status == 403 and ref.mime == CAPTION_MIME and ref.url.startswith(self.base_url + "/"):
            # The API's answer to a caller who may not download the track (an API key): not a failure.
            yield Capture(source=self.source.name, exchange=exchange_of(response),
                          media_problems=((ref.url, CAPTIONS_NEED_OAUTH),))
            return
        yield from super()._on_media(response, ref)

    def _on_failure(self, failure: Failure) -> Iterator[Any]:
        yield from super()._on_failure(failure)
        request = failure.request  # type: ignore[attr-defined]
        ctx = request.cb_kwargs.get("ctx") or {}
        if "captions_for" in ctx and not request.meta.get(DEFERRED):
            yield self.video_again(ctx["captions_for"], [])  # the record without its tracks, not lost

    def salvage(self, payload: Any, ctx: dict[str, Any]) -> list[Request]:
        if "captions_for" in ctx:  # an unreadable track list: the record, without tracks, is not lost
            return [self.video_again(ctx["captions_for"], [])]
        page = next_page(payload)
        if "playlist" in ctx:
            if page and page != ctx.get("page"):
                return [self.playlist_request(ctx["playlist"], page)]
            self.feed_done()
        elif "thread_page" in ctx and page and page != ctx.get("page"):
            return [self.threads_request(ctx["native_id"], page)]
        elif "parent" in ctx and page and page != ctx.get("page"):
            return [self.replies_request(ctx["native_id"], ctx["parent"], page)]
        return []

    # -- a video's comments: threads, then replies beyond those inline --------------------------

    def _comment_request(self, video_id: str, method: str, params: dict[str, Any], ctx: dict[str, Any]) -> Request:
        self._pending[video_id] = self._pending.get(video_id, 0) + 1
        return self.api_request(self._url(method, params), self.on_comments,
                                {"native_id": video_id, "thread": True, **ctx})

    def threads_request(self, video_id: str, page: str | None = None) -> Request:
        params: dict[str, Any] = {"part": "snippet,replies", "videoId": video_id, "maxResults": COMMENT_PAGE_SIZE,
                                  "order": "time", "textFormat": "plainText"}
        if page:
            params["pageToken"] = page
        return self._comment_request(video_id, "commentThreads", params, {"thread_page": True, "page": page})

    def replies_request(self, video_id: str, parent_id: str, page: str | None = None) -> Request:
        params: dict[str, Any] = {"part": "snippet", "parentId": parent_id, "maxResults": COMMENT_PAGE_SIZE,
                                  "textFormat": "plainText"}
        if page:
            params["pageToken"] = page
        return self._comment_request(video_id, "comments", params, {"parent": parent_id, "page": page})

    def on_comments(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        video_id = ctx["native_id"]
        if "parent" in ctx:
            records, more = parse_comments(payload, self.account, video_id), []
        else:
            page = parse_comment_threads(payload, self.account, video_id)
            records, more = page.records, page.more_replies
        requests = self.salvage(payload, ctx)
        requests.extend(self.replies_request(video_id, parent) for parent in more)
        return Outcome(records=records, requests=requests, completes_thread=self._answered(video_id))

    def _answered(self, video_id: str) -> str | None:
        """One comment request of `video_id` answered: the video id when it was the last one."""
        self._pending[video_id] -= 1
        done = self._pending[video_id] == 0 and video_id not in self.broken
        return video_id if done else None

    # -- incremental runs and the daily quota ---------------------------------------------------

    def feed_page_oldest(self, payload: Any, ctx: dict[str, Any], outcome: Outcome) -> str | None:
        """A playlist page's oldest `contentDetails.videoPublishedAt` (its items are ids, not records);
        a videos.list answer belongs to its playlist page and says nothing of the walk."""
        if "playlist" not in ctx:
            return None
        times = [(instant(published), published) for published in playlist_published(payload)]
        known = [pair for pair in times if pair[0] is not None]
        return min(known)[1] if known else None

    def request_cost(self, request: Request) -> int:
        return quota_cost(request.url)

    def budget_spent(self, status: int, payload: Any) -> str | None:
        if quota_exceeded(payload):
            return (f"the YouTube Data API daily quota is spent (HTTP {status} quotaExceeded); it refills at "
                    "midnight Pacific time")
        return None

    def revisit_requests(self, native_id: str) -> list[Request]:
        """An older video (its edits) and its comment threads."""
        return [self.object_request(native_id), self.threads_request(native_id)]

    # -- the deletion sweep --------------------------------------------------------------------

    def object_request(self, native_id: str) -> Request:
        if VIDEO_ID.fullmatch(native_id):
            url = self._url("videos", {"part": "snippet,status,contentDetails", "id": native_id})
        else:
            url = self._url("comments", {"part": "snippet", "id": native_id, "textFormat": "plainText"})
        return self.api_request(url, self.on_object, {"native_id": native_id, "object": True})

    def on_object(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        native_id = ctx["native_id"]
        if VIDEO_ID.fullmatch(native_id):
            records = parse_videos(payload, self.account)
        else:
            records = parse_comments(payload, self.account, None)
        found = [r for r in records if r.native_id == native_id]
        if not records:
            return Outcome(tombstones=[Tombstone(PLATFORM, native_id)])
        if not found:
            raise PayloadError(f"items[0].id: expected {native_id!r}, got {records[0].native_id!r}")
        return Outcome(records=found)

    def http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        outcome = self._http_error(status, payload, ctx)
        if "captions_for" in ctx and not quota_exceeded(payload):
            outcome.requests.append(self.video_again(ctx["captions_for"], []))  # the record, without tracks
        return outcome

    def _http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        code, message, reasons = api_errors(payload)
        if "commentsDisabled" in reasons and "thread_page" in ctx:
            # The platform's own statement that the video has no comments to read: nothing to record.
            return Outcome(completes_thread=self._answered(ctx["native_id"]))
        text = f"HTTP {status} YouTube Data API error {code} ({', '.join(reasons) or 'no reason'}): {message}" \
            if code is not None else f"HTTP {status}"
        if quota_exceeded(payload):
            text += f"; the daily quota ({DAILY_QUOTA} units by default) of the API project behind " \
                    f"source {self.source.name!r} is spent until midnight Pacific time"
        elif status == 401 or TOKEN_REASONS & set(reasons):
            if not self.source.token_env:
                text += f"; source {self.source.name!r} has no token_env: name the environment variable " \
                        "that holds the API key or OAuth access token"
            elif not self.source.token():
                text += f"; source {self.source.name!r}: environment variable {self.source.token_env} is not set"
            else:
                text += f"; source {self.source.name!r}: the token in environment variable " \
                        f"{self.source.token_env} was rejected (renew it)"
        return Outcome(error=text)


SPEC = Platform(
    name=PLATFORM, spider=YouTubeSpider, native=NATIVE,
    account_pattern=CHANNEL_ID, account_description="a YouTube channel id (UC followed by 22 characters), "
                                                    "not the @handle",
    token_required=True, token_description="a YouTube Data API key (AIza…) or an OAuth 2.0 access token",
)
