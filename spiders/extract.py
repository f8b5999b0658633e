"""The one rule that turns a platform object into a record's `native` object, per platform.

`content_sha256` of a record version is the sha256 of `canonical_json(native_object(...))`, and an
auditor must get the same bytes by re-extracting the object from the WARC response. So the spiders
and `sunshine verify` both call exactly these functions; nothing else decides what `native` is.

The rule drops only fields that change without the record itself changing, so a new like never
makes a new version, while an edit (text, cid, embed, attachments, hidden flag) always does.

Bluesky: the `PostView` (`feed[].post` of getAuthorFeed, `thread.post` and every nested
`replies[].post` of getPostThread) with these top-level keys removed:
    replyCount, repostCount, likeCount, quoteCount, bookmarkCount  (engagement counters)
    viewer     (the requesting account's own like/repost state: differs per caller)
    indexedAt  (when the AppView indexed it: bookkeeping, changes on re-index)
    labels     (moderation labels third-party labelers attach and remove; not the post's content)
    threadgate (reply-permission view that the AppView attaches to thread roots)
Everything else stays exactly as received: `uri`, `cid`, `author`, `record` (text, createdAt,
reply refs, embed blobs), the hydrated `embed` view. Nested objects are not rewritten.

Facebook: the Graph `Post` (`data[]` of `/{page}/feed`, or `GET /{post}`) or `Comment` (`data[]` of
`/{post}/comments`, or `GET /{comment}`) with these top-level keys removed:
    comments, reactions, likes, sharedposts, insights  (nested edges: their items are records or
                                                          counters of their own)
    comment_count, like_count, reaction_count, shares  (counters)
    updated_time  (Graph bumps a Post's updated_time whenever someone comments on it)
    paging        (never part of an object, dropped defensively)
`message`, `attachments`/`attachment`, `is_hidden`, `parent`, `from`, `permalink_url`,
`created_time` stay.

This module imports nothing from Scrapy so the verifier can use it alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

BLUESKY_VOLATILE = frozenset({
    "replyCount", "repostCount", "likeCount", "quoteCount", "bookmarkCount",
    "viewer", "indexedAt", "labels", "threadgate",
})
FACEBOOK_VOLATILE = frozenset({
    "comments", "reactions", "likes", "sharedposts", "insights",
    "comment_count", "like_count", "reaction_count", "shares",
    "updated_time", "paging",
})
VOLATILE_FIELDS: dict[str, frozenset[str]] = {"bluesky": BLUESKY_VOLATILE, "facebook": FACEBOOK_VOLATILE}


def native_object(platform: str, raw_obj: dict[str, Any]) -> dict[str, Any]:
    """The record's `native` object: `raw_obj` minus the platform's volatile top-level keys.

    A shallow copy: nested values are shared with `raw_obj`, which callers never mutate.
    """
    try:
        volatile = VOLATILE_FIELDS[platform]
    except KeyError:
        raise ValueError(f"no native-object rule for platform {platform!r}") from None
    return {key: value for key, value in raw_obj.items() if key not in volatile}


def iter_raw_objects(platform: str, payload: Any) -> Iterator[dict[str, Any]]:
    """Every record object an API payload carries, in the places the spiders read them from.

    Bluesky: `feed[].post`, `thread.post` and its nested `replies[].post`. Facebook: `data[]`, or
    the payload itself when it is a single object (has an `id`). Malformed parts are skipped here;
    the spiders are the ones that report them.
    """
    if not isinstance(payload, dict):
        return
    if platform == "bluesky":
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
    elif platform == "facebook":
        data = payload.get("data")
        if isinstance(data, list):
            yield from (item for item in data if isinstance(item, dict))
        elif "id" in payload and "error" not in payload:
            yield payload
    else:
        raise ValueError(f"no native-object rule for platform {platform!r}")


def native_id_of(platform: str, raw_obj: dict[str, Any]) -> str | None:
    """The native id a raw object is recorded under (Bluesky `uri`, Facebook `id`)."""
    value = raw_obj.get("uri" if platform == "bluesky" else "id")
    return value if isinstance(value, str) else None


def find_native(platform: str, body: bytes, native_id: str) -> dict[str, Any] | None:
    """Re-extract a record's `native` object from an archived response body (for `sunshine verify`).

    Returns None when the body holds no object with that native id.
    """
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    for raw in iter_raw_objects(platform, payload):
        if native_id_of(platform, raw) == native_id:
            return native_object(platform, raw)
    return None
