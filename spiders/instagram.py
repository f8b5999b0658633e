"""Instagram: a professional account's media (`/{ig-user-id}/media`) and every comment and reply.

Instagram API with Facebook Login (Graph API, `graph.facebook.com`): the account is the numeric IG
User id. Per media, `/{ig-media-id}/comments` pages the top-level comments, each carrying its first
page of replies inline (field expansion `replies{…}`); a longer reply list is paged on with
`/{ig-comment-id}/replies`. Instagram keeps replies one level deep under the top-level comment and
names the comment a reply answers in `parent_id`, which this spider takes as the record's parent
(the top-level comment when absent); the thread is the media. `hidden: true` makes a comment's
record "hidden". The token travels in an `Authorization: OAuth` header (see `spiders.graph`).

Which records the department wrote: every media of the account's own `/media` edge; a comment when
its `user.id` (returned only for comments the app user made) or `from.id` is the account's id.

Native-object rule (part of the archive format, docs/archive-format.md): the record object is the
IG Media (`data[]` of `/{ig-user-id}/media`, or the body of `GET /{ig-media-id}`) or IG Comment
(`data[]` of `/{ig-media-id}/comments` or `/{ig-comment-id}/replies`, an item of a comment's inline
`replies.data[]`, or the body of `GET /{ig-comment-id}`); its native id is its `id`; these top-level
keys are dropped:
    comments_count, like_count  (counters)
    media_url, thumbnail_url, children  (signed CDN URLs, re-signed with a new expiry `oe=` on every
                                         read; the images themselves are kept as media blobs)
    replies, comments  (nested edges: their items are records of their own)
    paging  (never part of an object, dropped defensively)
`caption`/`text`, `hidden`, `media_type`, `permalink`, `timestamp`, `username`, `from`, `user`,
`parent_id`, `media` stay.

Budget: every call costs one against Instagram's business-use-case limit; throttling is Graph error
code 4/17/32/613 or 80002 (retried by `spiders.middlewares`), with the `X-Business-Use-Case-Usage`
header (`call_count`, `total_cputime`, `total_time` in percent, `estimated_time_to_regain_access` in
minutes). "Gone" is Graph error 100 with subcode 33; an expired or revoked token is error 190.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from scrapy.http import Request

from archiver.model import MediaRef, ParsedRecord
from spiders.base import FEED_PRIORITY, Outcome, PayloadError
from spiders.graph import (
    THROTTLE_CODES,
    GraphSpider,
    edge_data,
    expect_bool,
    expect_dict,
    expect_str,
    graph_error,
    next_cursor,
    rfc3339,
)
from spiders.platform import NativeRule, Platform

PLATFORM = "instagram"
DEFAULT_BASE_URL = "https://graph.facebook.com/v21.0"
MEDIA_PAGE_SIZE = 25  # the /media edge's documented default page
COMMENT_PAGE_SIZE = 50
CALL_COST = 1  # every Graph call counts once against the business-use-case budget
BUC_THROTTLE_CODE = 80002  # "There have been too many calls to this Instagram account"
MEDIA_FIELDS = ("id,caption,media_type,media_url,permalink,thumbnail_url,timestamp,username,comments_count,"
                "like_count,children{id,media_type,media_url,thumbnail_url}")
COMMENT_FIELDS = "id,text,timestamp,username,from,user,media,hidden,like_count,parent_id"
COMMENT_PAGE_FIELDS = f"{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}"
VOLATILE = frozenset({
    "comments_count", "like_count",
    "media_url", "thumbnail_url", "children",
    "replies", "comments", "paging",
})
ACCOUNT = re.compile(r"[0-9]{1,20}")
# an IG Media body answers these; a comment body answers `text`
_MEDIA_KEYS = frozenset({"media_type", "caption", "permalink", "media_url", "children"})


def iter_raw_objects(payload: Any) -> Iterator[dict[str, Any]]:
    """Every Media/Comment in an edge page (`data[]` and each item's inline `replies.data[]`), or
    the body itself for `GET /{id}` (and its inline replies)."""
    if not isinstance(payload, dict):
        return
    data = payload.get("data")
    if isinstance(data, list):
        items = [item for item in data if isinstance(item, dict)]
    elif "id" in payload and "error" not in payload:
        items = [payload]
    else:
        return
    for item in items:
        yield item
        replies = item.get("replies")
        nested = replies.get("data") if isinstance(replies, dict) else None
        if isinstance(nested, list):
            yield from (reply for reply in nested if isinstance(reply, dict))


def native_id_of(obj: dict[str, Any]) -> str | None:
    """A Graph object is recorded under its `id`."""
    value = obj.get("id")
    return value if isinstance(value, str) else None


NATIVE = NativeRule(volatile=VOLATILE, iter_raw_objects=iter_raw_objects, native_id_of=native_id_of)


def media_refs(obj: dict[str, Any], where: str) -> tuple[MediaRef, ...]:
    """The image/video URLs of a Media: its own, its video thumbnail, and each carousel child's."""
    items = [obj]
    children = obj.get("children")
    if children is not None:
        items.extend(expect_dict(child, f"{where}.children.data[{i}]")
                     for i, child in enumerate(edge_data(children, f"{where}.children")))
    refs: dict[str, MediaRef] = {}
    for item in items:
        for key in ("media_url", "thumbnail_url"):
            url = item.get(key)
            if isinstance(url, str) and url and url not in refs:
                mime = "video/mp4" if key == "media_url" and item.get("media_type") == "VIDEO" else None
                refs[url] = MediaRef(url=url, mime=mime)
    return tuple(refs.values())


def parse_media(obj: Any, account: str, where: str) -> ParsedRecord:
    """One IG Media of the account's `/media` edge (or `GET /{ig-media-id}`) → a post record."""
    obj = expect_dict(obj, where)
    native_id = expect_str(obj, "id", where)
    created = expect_str(obj, "timestamp", where)
    permalink = expect_str(obj, "permalink", where, required=False)
    return ParsedRecord(
        platform=PLATFORM, account=account, kind="post", native_id=native_id,
        native=NATIVE.native_object(obj),
        url=permalink or f"https://www.instagram.com/{native_id}",
        author=expect_str(obj, "username", where, required=False) or account, author_is_department=True,
        created_at=rfc3339(created), text=expect_str(obj, "caption", where, required=False),
        parent_native_id=None, thread_native_id=native_id, status="active",
        media=media_refs(obj, where),
    )


def _ref_id(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    return expect_str(expect_dict(value, f"{where}.{key}"), "id", f"{where}.{key}", required=False)


def parse_comment(obj: Any, account: str, where: str, *, media_id: str | None, parent_id: str | None) -> ParsedRecord:
    """One IG Comment → a reply record under `media_id` (or the comment's own `media.id`).

    Its parent is its `parent_id`, else `parent_id` given (the comment whose inline replies or
    `/replies` edge held it), else the media.
    """
    obj = expect_dict(obj, where)
    native_id = expect_str(obj, "id", where)
    created = expect_str(obj, "timestamp", where)
    text = expect_str(obj, "text", where, required=False)
    hidden = expect_bool(obj, "hidden", where)
    username = expect_str(obj, "username", where, required=False)
    from_id = _ref_id(obj, "from", where)
    department = account in (_ref_id(obj, "user", where), from_id)
    own_media = _ref_id(obj, "media", where)
    thread = media_id or own_media
    if not thread:
        raise PayloadError(f"{where}.media: expected the comment's media, got nothing")
    parent = expect_str(obj, "parent_id", where, required=False) or parent_id or thread
    return ParsedRecord(
        platform=PLATFORM, account=account, kind="reply", native_id=native_id,
        native=NATIVE.native_object(obj), url=f"https://www.instagram.com/{thread}?comment_id={native_id}",
        author=username or from_id, author_is_department=department,
        created_at=rfc3339(created), text=text, parent_native_id=parent, thread_native_id=thread,
        status="hidden" if hidden else "active", media=(),
    )


def parse_comment_page(payload: Any, account: str, media_id: str,
                       parent_id: str | None = None) -> tuple[list[ParsedRecord], list[tuple[str, str]]]:
    """A `/comments` (or `/replies`, with `parent_id`) page → its records, and the
    (comment id, after cursor) of each inline reply list that has more pages."""
    records: list[ParsedRecord] = []
    more: list[tuple[str, str]] = []
    for index, item in enumerate(edge_data(payload)):
        where = f"data[{index}]"
        record = parse_comment(item, account, where, media_id=media_id, parent_id=parent_id)
        records.append(record)
        replies = item.get("replies")
        if replies is None:
            continue
        for sub, reply in enumerate(edge_data(replies, f"{where}.replies")):
            records.append(parse_comment(reply, account, f"{where}.replies.data[{sub}]", media_id=media_id,
                                         parent_id=record.native_id))
        after = next_cursor(replies)
        if after:
            more.append((record.native_id, after))
    return records, more


class InstagramSpider(GraphSpider):
    """Pulls one Instagram professional account: media pages, comments and replies, media, sweep."""

    name = "instagram"
    platform = PLATFORM
    default_base_url = DEFAULT_BASE_URL
    token_what = "Instagram user access token (instagram_basic, instagram_manage_comments)"
    throttle_codes = THROTTLE_CODES | {BUC_THROTTLE_CODE}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: dict[str, int] = {}  # media id → its comment/reply requests not yet answered

    def _thread_request(self, path: str, params: dict[str, Any], ctx: dict[str, Any]) -> Request:
        media_id = ctx["media_id"]
        self._open[media_id] = self._open.get(media_id, 0) + 1
        return self.api_request(self.graph_url(path, params), self.on_comments, {"native_id": media_id, **ctx})

    def media_request(self, after: str | None = None) -> Request:
        params: dict[str, Any] = {"fields": MEDIA_FIELDS, "limit": MEDIA_PAGE_SIZE}
        if after:
            params["after"] = after
        return self.api_request(self.graph_url(f"{self.account}/media", params), self.on_media,
                                {"feed": True, "after": after}, priority=FEED_PRIORITY)

    def comments_request(self, media_id: str, after: str | None = None) -> Request:
        params: dict[str, Any] = {"fields": COMMENT_PAGE_FIELDS, "limit": COMMENT_PAGE_SIZE}
        if after:
            params["after"] = after
        return self._thread_request(f"{media_id}/comments", params, {"media_id": media_id, "after": after})

    def replies_request(self, media_id: str, comment_id: str, after: str) -> Request:
        params = {"fields": COMMENT_FIELDS, "limit": COMMENT_PAGE_SIZE, "after": after}
        return self._thread_request(f"{comment_id}/replies", params,
                                    {"media_id": media_id, "comment_id": comment_id, "gone_id": comment_id,
                                     "after": after})

    def object_request(self, native_id: str, *, as_media: bool = False) -> Request:
        """One Media or Comment by id: asked as a comment first (most records are), then as a media
        when Graph says the node has no comment fields."""
        fields = MEDIA_FIELDS if as_media else COMMENT_FIELDS
        return self.api_request(self.graph_url(native_id, {"fields": fields}), self.on_object,
                                {"native_id": native_id, "object": "media" if as_media else "comment"})

    def first_requests(self) -> list[Request]:
        return [self.media_request()]

    def revisit_requests(self, native_id: str) -> list[Request]:
        """An older media (its caption edits) and its comments and replies."""
        return [self.object_request(native_id, as_media=True), self.comments_request(native_id)]

    def on_media(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        records = [parse_media(item, self.account, f"data[{index}]") for index, item in enumerate(edge_data(payload))]
        outcome = Outcome(records=records, requests=self.salvage(payload, ctx))
        outcome.requests.extend(self.comments_request(record.native_id) for record in records
                                if record.native_id not in self.skip_threads)
        return outcome

    def salvage(self, payload: Any, ctx: dict[str, Any]) -> list[Request]:
        after = next_cursor(payload)
        if ctx.get("feed"):
            if after and after != ctx.get("after"):
                return [self.media_request(after)]
            self.feed_done()
        elif "media_id" in ctx and after and after != ctx.get("after"):
            if "comment_id" in ctx:
                return [self.replies_request(ctx["media_id"], ctx["comment_id"], after)]
            return [self.comments_request(ctx["media_id"], after)]
        return []

    def on_comments(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        media_id = ctx["media_id"]
        records, more = parse_comment_page(payload, self.account, media_id, ctx.get("comment_id"))
        requests = self.salvage(payload, ctx)
        requests.extend(self.replies_request(media_id, comment_id, after) for comment_id, after in more)
        self._open[media_id] -= 1
        done = self._open[media_id] == 0 and media_id not in self.broken
        return Outcome(records=records, requests=requests, completes_thread=media_id if done else None)

    def on_object(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        native_id = ctx["native_id"]
        body = expect_dict(payload, "response")
        if ctx["object"] == "media" or _MEDIA_KEYS & body.keys():
            record = parse_media(body, self.account, "response")
        else:
            record = parse_comment(body, self.account, "response", media_id=None, parent_id=None)
        if record.native_id != native_id:
            raise PayloadError(f"response.id: expected {native_id!r}, got {record.native_id!r}")
        return Outcome(records=[record])

    def http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        error = graph_error(payload)
        if ctx.get("object") == "comment" and error.get("code") == 100 and "nonexisting field" in str(
                error.get("message") or ""):
            # Graph: "(#100) Tried accessing nonexisting field (text) on node type (IGMedia)"
            return Outcome(requests=[self.object_request(ctx["native_id"], as_media=True)])
        return super().http_error(status, payload, ctx)


SPEC = Platform(
    name=PLATFORM, spider=InstagramSpider, native=NATIVE,
    account_pattern=ACCOUNT, account_description="a numeric Instagram user id (17841400000000000), not the @username",
    token_required=True, token_description="an Instagram user access token (instagram_basic, instagram_manage_comments)",
)
