"""Facebook: a Page's feed (`/{page}/feed`) and every comment and reply under each post.

Comments come from `/{post}/comments?filter=stream`, which returns the whole tree flat: a reply
carries `parent.id`, a top-level comment none (its parent is the post). Every Post/Comment becomes
one record whose `native` is `NATIVE.native_object(obj)`; `is_hidden: true` makes the record's
status "hidden".

The access token travels in an `Authorization: OAuth <token>` header (Graph accepts it there as
well as in the `access_token` query parameter) and is redacted in the recorded exchange. Not the
query parameter: Graph copies the request's query into `paging.next`, so a query token would end up
inside the response body, which the archive keeps byte-exact and publishes.

Native-object rule (part of the archive format, docs/archive-format.md): the record object is the
Graph `Post` (`data[]` of `/{page}/feed`, or the body of `GET /{post}`) or `Comment` (`data[]` of
`/{post}/comments`, or the body of `GET /{comment}`), its native id is its `id`, and these top-level
keys are dropped:
    comments, reactions, likes, sharedposts, insights  (nested edges: their items are records or
                                                          counters of their own)
    comment_count, like_count, reaction_count, shares  (counters)
    updated_time  (Graph bumps a Post's updated_time whenever someone comments on it)
    paging        (never part of an object, dropped defensively)
`message`, `attachments`/`attachment`, `is_hidden`, `parent`, `from`, `permalink_url`,
`created_time` stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from scrapy.http import Request

from archiver.model import MediaRef, ParsedRecord, Tombstone
from spiders.base import FEED_PRIORITY, ApiSpider, Outcome, PayloadError
from spiders.graph import (  # the Graph pieces Facebook shares with Instagram
    NOT_FOUND_CODE,
    NOT_FOUND_SUBCODE,
    THROTTLE_CODES,  # noqa: F401 - re-exported
    TOKEN_CODE,
    edge_data,
    graph_error,
    next_cursor,
    rfc3339,
    token_refused,
)
from spiders.graph import expect_dict as _dict
from spiders.graph import expect_str as _str
from spiders.platform import NativeRule, Platform

PLATFORM = "facebook"
DEFAULT_BASE_URL = "https://graph.facebook.com/v21.0"
PAGE_SIZE = 100
POST_FIELDS = "id,message,created_time,updated_time,from,permalink_url,attachments{media_type,media,url}"
COMMENT_FIELDS = "id,message,created_time,from,parent{id},is_hidden,comment_count,permalink_url,attachment"
VOLATILE = frozenset({
    "comments", "reactions", "likes", "sharedposts", "insights",
    "comment_count", "like_count", "reaction_count", "shares",
    "updated_time", "paging",
})
# Post ids are `<page-id>_<n>` and "from.id == page id" marks the department, so the numeric id is
# required (a Page's username would not match either).
ACCOUNT = re.compile(r"[0-9]{1,20}")


def iter_raw_objects(payload: Any) -> Iterator[dict[str, Any]]:
    """Every Post/Comment in a Graph edge page (`data[]`), or the body itself for `GET /{id}`."""
    if not isinstance(payload, dict):
        return
    data = payload.get("data")
    if isinstance(data, list):
        yield from (item for item in data if isinstance(item, dict))
    elif "id" in payload and "error" not in payload:
        yield payload


def native_id_of(obj: dict[str, Any]) -> str | None:
    """A Graph object is recorded under its `id`."""
    value = obj.get("id")
    return value if isinstance(value, str) else None


NATIVE = NativeRule(volatile=VOLATILE, iter_raw_objects=iter_raw_objects, native_id_of=native_id_of)


def _image_src(media: Any) -> str | None:
    image = media.get("image") if isinstance(media, dict) else None
    src = image.get("src") if isinstance(image, dict) else None
    return src if isinstance(src, str) else None


def _media(obj: dict[str, Any]) -> tuple[MediaRef, ...]:
    """Photo refs from a Post's `attachments.data[]` or a Comment's `attachment`."""
    items: list[Any] = []
    attachments = obj.get("attachments")
    if isinstance(attachments, dict) and isinstance(attachments.get("data"), list):
        items.extend(attachments["data"])
    if isinstance(obj.get("attachment"), dict):
        items.append(obj["attachment"])
    refs = []
    for item in items:
        if not isinstance(item, dict):
            continue
        src = _image_src(item.get("media"))
        if src:
            refs.append(MediaRef(url=src, mime=None))
        sub = item.get("subattachments")
        if isinstance(sub, dict) and isinstance(sub.get("data"), list):
            refs.extend(MediaRef(url=s, mime=None) for s in map(_image_src, (x.get("media") for x in sub["data"]
                                                                          if isinstance(x, dict))) if s)
    return tuple(refs)


def parse_object(obj: Any, page_id: str, where: str, *, kind: str, post_id: str | None) -> ParsedRecord:
    """One Graph Post (kind "post") or Comment (kind "reply", under `post_id`) → a ParsedRecord."""
    obj = _dict(obj, where)
    native_id = _str(obj, "id", where)
    created = _str(obj, "created_time", where)
    text = _str(obj, "message", where, required=False)
    author_obj = obj.get("from")
    author_obj = _dict(author_obj, f"{where}.from") if author_obj is not None else {}
    author_id = _str(author_obj, "id", f"{where}.from", required=False)
    author = _str(author_obj, "name", f"{where}.from", required=False) or author_id
    hidden = obj.get("is_hidden", False)
    if not isinstance(hidden, bool):
        raise PayloadError(f"{where}.is_hidden: expected true or false, got {type(hidden).__name__}")
    parent = thread = None
    if kind == "post":
        thread = native_id
    else:
        parent_obj = obj.get("parent")
        parent = _str(_dict(parent_obj, f"{where}.parent"), "id", f"{where}.parent") if parent_obj is not None \
            else post_id
        thread = post_id
    url = obj.get("permalink_url")
    return ParsedRecord(
        platform=PLATFORM, account=page_id, kind=kind, native_id=native_id,
        native=NATIVE.native_object(obj),
        url=url if isinstance(url, str) else f"https://www.facebook.com/{native_id}",
        author=author, author_is_department=bool(author_id) and author_id == page_id,
        created_at=rfc3339(created), text=text, parent_native_id=parent, thread_native_id=thread,
        status="hidden" if hidden else "active", media=_media(obj),
    )


class FacebookSpider(ApiSpider):
    """Pulls one Facebook Page: feed pages, comment stream per post, media, deletion sweep."""

    name = "facebook"
    platform = PLATFORM
    default_base_url = DEFAULT_BASE_URL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.page_id = self.account

    def _url(self, path: str, params: dict[str, Any]) -> str:
        return f"{self.base_url}/{quote(path, safe='_/')}?{urlencode(params, safe='{},')}"

    def api_request(self, *args: Any, **kwargs: Any) -> Request:
        token = self.source.token()
        if token:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": f"OAuth {token}"}
        return super().api_request(*args, **kwargs)

    def feed_request(self, after: str | None = None) -> Request:
        params: dict[str, Any] = {"fields": POST_FIELDS, "limit": PAGE_SIZE}
        if after:
            params["after"] = after
        return self.api_request(self._url(f"{self.account}/feed", params), self.on_feed,
                                {"feed": True, "after": after}, priority=FEED_PRIORITY)

    def comments_request(self, post_id: str, after: str | None = None) -> Request:
        params: dict[str, Any] = {"fields": COMMENT_FIELDS, "filter": "stream", "order": "chronological",
                                  "limit": PAGE_SIZE}
        if after:
            params["after"] = after
        return self.api_request(self._url(f"{post_id}/comments", params), self.on_comments,
                                {"native_id": post_id, "post_id": post_id, "after": after})

    def _is_post_id(self, native_id: str) -> bool:
        return native_id.startswith(f"{self.page_id}_")

    def _post_of_comment(self, comment_id: str) -> str:
        """A comment id is `<post-id>_<comment-id>`; the post's own id is `<page-id>_<post-id>`."""
        return f"{self.page_id}_{comment_id.split('_', 1)[0]}"

    def object_request(self, native_id: str) -> Request:
        fields = POST_FIELDS if self._is_post_id(native_id) else COMMENT_FIELDS
        return self.api_request(self._url(native_id, {"fields": fields}), self.on_object,
                                {"native_id": native_id})

    def first_requests(self) -> list[Request]:
        return [self.feed_request()]

    def revisit_requests(self, native_id: str) -> list[Request]:
        """An older post (its edits) and its comment stream (late comments, deletions)."""
        return [self.object_request(native_id), self.comments_request(native_id)]

    def on_feed(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        data = edge_data(payload)
        records = [parse_object(item, self.page_id, f"data[{index}]", kind="post", post_id=None)
                   for index, item in enumerate(data)]
        outcome = Outcome(records=records, requests=self.salvage(payload, ctx))
        outcome.requests.extend(self.comments_request(record.native_id) for record in records
                                if record.native_id not in self.skip_threads)
        return outcome

    def salvage(self, payload: Any, ctx: dict[str, Any]) -> list[Request]:
        after = next_cursor(payload)
        if ctx.get("feed") and after and after != ctx.get("after"):
            return [self.feed_request(after)]
        if ctx.get("feed"):
            self.feed_done()
        elif "post_id" in ctx and after and after != ctx.get("after"):
            return [self.comments_request(ctx["post_id"], after)]
        return []

    def on_comments(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        post_id = ctx["post_id"]
        records = [parse_object(item, self.page_id, f"data[{index}]", kind="reply", post_id=post_id)
                   for index, item in enumerate(edge_data(payload))]
        requests = self.salvage(payload, ctx)
        return Outcome(records=records, requests=requests, completes_thread=None if requests or post_id in self.broken else post_id)

    def on_object(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        native_id = ctx["native_id"]
        if self._is_post_id(native_id):
            record = parse_object(payload, self.page_id, "response", kind="post", post_id=None)
        else:
            record = parse_object(payload, self.page_id, "response", kind="reply",
                                  post_id=self._post_of_comment(native_id))
        if record.native_id != native_id:
            raise PayloadError(f"response.id: expected {native_id!r}, got {record.native_id!r}")
        return Outcome(records=[record])

    def token_rejected(self, status: int, payload: Any) -> bool:
        return token_refused(status, payload)

    def http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        error = graph_error(payload)
        code = error.get("code")
        message = error.get("message") or ""
        if code == NOT_FOUND_CODE and "native_id" in ctx and (
                error.get("error_subcode") == NOT_FOUND_SUBCODE or "does not exist" in message):
            return Outcome(tombstones=[Tombstone(PLATFORM, ctx["native_id"])])
        text = f"HTTP {status} Graph API error {code} ({error.get('type', 'unknown type')}): {message}" \
            if error else f"HTTP {status}"
        if code == TOKEN_CODE or status in (401, 403):
            if not self.source.token_env:
                text += f"; source {self.source.name!r} has no token_env: name the environment variable " \
                        "that holds the Page access token"
            elif not self.source.token():
                text += f"; no access token: environment variable {self.source.token_env} is not set"
            else:
                text += f"; the token in environment variable {self.source.token_env} was rejected"
        return Outcome(error=text)


SPEC = Platform(
    name=PLATFORM, spider=FacebookSpider, native=NATIVE,
    account_pattern=ACCOUNT, account_description="a numeric Facebook Page ID (104712345678901), not the Page's username",
    token_required=True, token_description="a Page access token",
)
