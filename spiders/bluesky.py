"""Bluesky: the account's feed (getAuthorFeed) and each post's whole reply tree (getPostThread).

Every `PostView` becomes one record whose `native` is `NATIVE.native_object(view)`. A
post whose record has a `reply` ref is a reply (kind "reply"); its parent and thread come from that
ref (the platform's own statement), falling back to its place in the fetched tree. Items in the feed
authored by someone else (reposts) are not the department's records and are skipped.

Native-object rule (part of the archive format, docs/archive-format.md): the record object is the
`PostView` (`feed[].post` of getAuthorFeed, `thread.post` and every nested `replies[].post` of
getPostThread), its native id is its `uri`, and these top-level keys are dropped:
    replyCount, repostCount, likeCount, quoteCount, bookmarkCount  (engagement counters)
    viewer     (the requesting account's own like/repost state: differs per caller)
    indexedAt  (when the AppView indexed it: bookkeeping, changes on re-index)
    labels     (moderation labels third-party labelers attach and remove; not the post's content)
    threadgate (reply-permission view that the AppView attaches to thread roots)
Everything else stays exactly as received: `uri`, `cid`, `author`, `record` (text, createdAt,
reply refs, embed blobs), the hydrated `embed` view. Nested objects are not rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Request

from archiver.model import MediaRef, ParsedRecord, Tombstone
from spiders.base import FEED_PRIORITY, ApiSpider, Outcome, PayloadError
from spiders.platform import NativeRule, Platform

PLATFORM = "bluesky"
DEFAULT_BASE_URL = "https://public.api.bsky.app"
PAGE_SIZE = 100
THREAD_DEPTH = 1000  # the API's maximum: the whole tree in one response
_NOT_FOUND_TYPES = ("app.bsky.feed.defs#notFoundPost", "app.bsky.feed.defs#blockedPost")
VOLATILE = frozenset({
    "replyCount", "repostCount", "likeCount", "quoteCount", "bookmarkCount",
    "viewer", "indexedAt", "labels", "threadgate",
})
# A handle is a domain name (atproto.com/specs/handle); a DID is did:<method>:<id> (w3.org/TR/did-core).
ACCOUNT = re.compile(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                     r"|did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")


def iter_raw_objects(payload: Any) -> Iterator[dict[str, Any]]:
    """Every PostView in a getAuthorFeed page (`feed[].post`) or getPostThread (`thread.post`, nested
    `replies[].post`)."""
    if not isinstance(payload, dict):
        return
    for item in payload.get("feed") or ():
        if isinstance(item, dict) and isinstance(item.get("post"), dict):
            yield item["post"]
    stack = [payload.get("thread")]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("post"), dict):
            yield node["post"]
        replies = node.get("replies")
        if isinstance(replies, list):
            stack.extend(reversed(replies))


def native_id_of(view: dict[str, Any]) -> str | None:
    """A PostView is recorded under its `uri`."""
    value = view.get("uri")
    return value if isinstance(value, str) else None


NATIVE = NativeRule(volatile=VOLATILE, iter_raw_objects=iter_raw_objects, native_id_of=native_id_of)


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def _dict(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise PayloadError(f"{where}: expected an object, got {type(obj).__name__}")
    return obj


def _ref_uri(reply: dict[str, Any], key: str, where: str) -> str:
    return _str(_dict(reply.get(key), f"{where}.{key}"), "uri", f"{where}.{key}")


def _media(view: dict[str, Any], record: dict[str, Any]) -> tuple[MediaRef, ...]:
    """Image refs: the hydrated `embed` view's fullsize URLs, mime from the record's blob refs."""
    embed = view.get("embed")
    if not isinstance(embed, dict):
        return ()
    if isinstance(embed.get("media"), dict):  # app.bsky.embed.recordWithMedia#view
        embed = embed["media"]
    images = embed.get("images")
    if not isinstance(images, list):
        return ()
    blobs = record.get("embed")
    blob_images = blobs.get("images") if isinstance(blobs, dict) else None
    if isinstance(blobs, dict) and isinstance(blobs.get("media"), dict):
        blob_images = blobs["media"].get("images")
    refs = []
    for index, image in enumerate(images):
        if not isinstance(image, dict) or not isinstance(image.get("fullsize"), str):
            continue
        mime = None
        if isinstance(blob_images, list) and index < len(blob_images) and isinstance(blob_images[index], dict):
            blob = blob_images[index].get("image")
            if isinstance(blob, dict) and isinstance(blob.get("mimeType"), str):
                mime = blob["mimeType"]
        refs.append(MediaRef(url=image["fullsize"], mime=mime))
    return tuple(refs)


def post_url(uri: str, handle: str) -> str:
    """The bsky.app page of an `at://did/app.bsky.feed.post/rkey` URI."""
    rkey = uri.rsplit("/", 1)[-1]
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


def parse_post_view(view: Any, source_account: str, where: str, *, tree_parent: str | None = None,
                    tree_root: str | None = None) -> ParsedRecord:
    """One PostView → a ParsedRecord (raises PayloadError naming the bad field)."""
    view = _dict(view, where)
    uri = _str(view, "uri", where)
    _str(view, "cid", where)
    author = _dict(view.get("author"), f"{where}.author")
    did = _str(author, "did", f"{where}.author")
    handle = author.get("handle") if isinstance(author.get("handle"), str) else did
    record = _dict(view.get("record"), f"{where}.record")
    text = _str(record, "text", f"{where}.record")
    created_at = _str(record, "createdAt", f"{where}.record")
    reply = record.get("reply")
    if reply is not None:
        reply = _dict(reply, f"{where}.record.reply")
        parent = _ref_uri(reply, "parent", f"{where}.record.reply")
        root = _ref_uri(reply, "root", f"{where}.record.reply")
        kind = "reply"
    elif tree_parent is not None:
        parent, root, kind = tree_parent, tree_root or tree_parent, "reply"
    else:
        parent, root, kind = None, uri, "post"
    account = source_account.lower()
    return ParsedRecord(
        platform=PLATFORM, account=source_account, kind=kind, native_id=uri,
        native=NATIVE.native_object(view), url=post_url(uri, handle), author=handle,
        author_is_department=did == source_account or handle.lower() == account,
        created_at=created_at, text=text, parent_native_id=parent, thread_native_id=root,
        media=_media(view, record),
    )


def parse_feed_page(payload: Any, account: str) -> tuple[list[ParsedRecord], str | None]:
    """getAuthorFeed page → (department records, next cursor or None)."""
    payload = _dict(payload, "response")
    feed = payload.get("feed")
    if not isinstance(feed, list):
        raise PayloadError(f"response.feed: expected a list, got {type(feed).__name__}")
    records = []
    for index, item in enumerate(feed):
        item = _dict(item, f"feed[{index}]")
        parsed = parse_post_view(item.get("post"), account, f"feed[{index}].post")
        if parsed.author_is_department:
            records.append(parsed)
    cursor = payload.get("cursor")
    return records, cursor if isinstance(cursor, str) and cursor else None


def parse_thread(payload: Any, account: str) -> list[ParsedRecord]:
    """getPostThread → every post in the tree (root first, then depth-first replies)."""
    thread = _dict(_dict(payload, "response").get("thread"), "response.thread")
    records = []
    stack: list[tuple[dict[str, Any], str, str | None, str | None]] = [(thread, "thread", None, None)]
    while stack:
        node, where, parent, root = stack.pop()
        if node.get("$type") in _NOT_FOUND_TYPES or "post" not in node:
            continue  # a deleted or blocked reply inside the tree: nothing to record here
        record = parse_post_view(node["post"], account, f"{where}.post", tree_parent=parent, tree_root=root)
        records.append(record)
        replies = node.get("replies") or []
        if not isinstance(replies, list):
            raise PayloadError(f"{where}.replies: expected a list, got {type(replies).__name__}")
        thread_root = root or record.thread_native_id or record.native_id
        for index in range(len(replies) - 1, -1, -1):
            child = _dict(replies[index], f"{where}.replies[{index}]")
            stack.append((child, f"{where}.replies[{index}]", record.native_id, thread_root))
    return records


def thread_not_found(payload: Any) -> bool:
    """A 200 getPostThread whose thread is a notFoundPost: the post is gone."""
    thread = payload.get("thread") if isinstance(payload, dict) else None
    return isinstance(thread, dict) and (thread.get("$type") == _NOT_FOUND_TYPES[0] or thread.get("notFound") is True)


class BlueskySpider(ApiSpider):
    """Pulls one Bluesky account: feed pages, thread per post, media, deletion sweep."""

    name = "bluesky"
    platform = PLATFORM
    default_base_url = DEFAULT_BASE_URL

    def _headers(self) -> dict[str, str] | None:
        token = self.source.token()
        return {"Authorization": f"Bearer {token}"} if token else None

    def _xrpc(self, method: str, params: dict[str, Any]) -> str:
        return f"{self.base_url}/xrpc/{method}?{urlencode(params)}"

    def feed_request(self, cursor: str | None = None) -> Request:
        params: dict[str, Any] = {"actor": self.account, "limit": PAGE_SIZE, "filter": "posts_with_replies"}
        if cursor:
            params["cursor"] = cursor
        return self.api_request(self._xrpc("app.bsky.feed.getAuthorFeed", params), self.on_feed,
                                {"feed": True, "cursor": cursor}, priority=FEED_PRIORITY,
                                headers=self._headers())

    def thread_request(self, uri: str) -> Request:
        url = self._xrpc("app.bsky.feed.getPostThread", {"uri": uri, "depth": THREAD_DEPTH, "parentHeight": 0})
        return self.api_request(url, self.on_thread, {"native_id": uri, "thread": True}, headers=self._headers())

    def object_request(self, native_id: str) -> Request:
        url = self._xrpc("app.bsky.feed.getPostThread", {"uri": native_id, "depth": 0})
        return self.api_request(url, self.on_thread, {"native_id": native_id}, headers=self._headers())

    def first_requests(self) -> list[Request]:
        return [self.feed_request()]

    def revisit_requests(self, native_id: str) -> list[Request]:
        """An older post's whole tree (the post itself included): edits, late replies, deletions."""
        return [self.thread_request(native_id)]

    def on_feed(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        records, cursor = parse_feed_page(payload, self.account)
        outcome = Outcome(records=records)
        outcome.requests.extend(self.salvage(payload, ctx))
        for record in records:
            if record.kind == "post" and record.native_id not in self.skip_threads:
                outcome.requests.append(self.thread_request(record.native_id))
        return outcome

    def salvage(self, payload: Any, ctx: dict[str, Any]) -> list[Request]:
        cursor = payload.get("cursor") if isinstance(payload, dict) else None
        if ctx.get("feed") and isinstance(cursor, str) and cursor and cursor != ctx.get("cursor"):
            return [self.feed_request(cursor)]
        if ctx.get("feed"):
            self.feed_done()
        return []

    def on_thread(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        native_id = ctx["native_id"]
        if thread_not_found(payload):
            return Outcome(tombstones=[Tombstone(PLATFORM, native_id)])
        records = parse_thread(payload, self.account)
        if not records or records[0].native_id != native_id:
            raise PayloadError(f"thread.post.uri: expected {native_id}")
        return Outcome(records=records, completes_thread=native_id if ctx.get("thread") else None)

    def http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        error = payload.get("error") if isinstance(payload, dict) else None
        message = payload.get("message") if isinstance(payload, dict) else None
        if status == 400 and error == "NotFound" and "native_id" in ctx:
            return Outcome(tombstones=[Tombstone(PLATFORM, ctx["native_id"])])
        detail = f" {error}: {message}" if error else ""
        hint = ""
        if status in (401, 403) or error in ("AuthMissing", "InvalidToken", "ExpiredToken"):
            hint = (f" (set the environment variable {self.source.token_env} to a valid token)"
                    if self.source.token_env else " (this API needs a token: set token_env for the source)")
        return Outcome(error=f"HTTP {status}{detail}{hint}")


SPEC = Platform(
    name=PLATFORM, spider=BlueskySpider, native=NATIVE,
    account_pattern=ACCOUNT, account_description="a Bluesky handle (springfieldpd.bsky.social) or DID (did:plc:…)",
    token_required=False,
)
