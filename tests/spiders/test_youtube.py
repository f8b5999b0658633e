"""YouTube's pure parts: parsers against the reference's example payloads, the native-object rule,
malformed payloads named by JSON path, quota costs and the quota/token answers."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.canonical import canonical_json
from spiders.base import PayloadError, redact_url
from spiders.extract import find_native
from spiders.youtube import (
    NATIVE,
    QUOTA_COST,
    SNIPPET_VOLATILE,
    VOLATILE,
    api_errors,
    auth_headers,
    next_page,
    parse_comment,
    parse_comment_threads,
    parse_comments,
    parse_videos,
    playlist_video_ids,
    quota_cost,
    quota_exceeded,
    uploads_playlist,
)

FIXTURES = Path(__file__).with_name("fixtures") / "youtube"
CHANNEL = "UC_x5XG1OV2P6uZZ5FSM9Ttw"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_reference_channel_and_playlist_pages():
    assert uploads_playlist(fixture("channels_list.json"), CHANNEL) == "UU" + CHANNEL[2:]
    with pytest.raises(PayloadError, match="no channel UCother"):
        uploads_playlist(fixture("channels_list.json"), "UCother")
    page = fixture("playlist_items_list.json")
    assert playlist_video_ids(page) == ["DIDjfUGshBQ", "P_5h4XjXg44"]
    assert next_page(page) == "EAAaBlBUOkNESQ"
    for item in page["items"]:  # without part=contentDetails the snippet's resourceId says it
        del item["contentDetails"]
    assert playlist_video_ids(page) == ["DIDjfUGshBQ", "P_5h4XjXg44"]


def test_reference_videos_become_posts():
    body = (FIXTURES / "videos_list.json").read_bytes()
    first, second = parse_videos(json.loads(body), CHANNEL)
    assert (first.kind, first.native_id, first.thread_native_id, first.parent_native_id) == \
        ("post", "DIDjfUGshBQ", "DIDjfUGshBQ", None)
    assert first.text.startswith("It's time to I/O!") and first.author_is_department
    assert first.created_at == "2024-05-14T17:00:09Z" and first.url.endswith("watch?v=DIDjfUGshBQ")
    assert [m.url for m in first.media] == ["https://i.ytimg.com/vi/DIDjfUGshBQ/maxresdefault.jpg"]
    assert "statistics" not in first.native and "etag" not in first.native
    assert first.native["snippet"]["title"] == "Google I/O 2024 keynote"
    assert second.text == "Quick tip: structured logging"  # empty description: the title is the text
    for record in (first, second):
        assert find_native("youtube", body, record.native_id) == record.native


def test_reference_comment_threads_and_replies():
    body = (FIXTURES / "comment_threads_list.json").read_bytes()
    page = parse_comment_threads(json.loads(body), CHANNEL, "DIDjfUGshBQ")
    top, reply, other = page.records
    assert (top.kind, top.parent_native_id, top.thread_native_id) == ("reply", "DIDjfUGshBQ", "DIDjfUGshBQ")
    assert (reply.parent_native_id, reply.thread_native_id) == ("UgzDE2tasfmrYLyNkGt4AaABAg", "DIDjfUGshBQ")
    assert reply.author_is_department and not top.author_is_department
    assert top.author == "@jane.doe" and top.text == "Great keynote! When will the sessions be online?"
    assert other.text == "&lt;3 the demo at 12:04"  # no textOriginal: textDisplay as sent
    assert page.more_replies == ["UgzDE2tasfmrYLyNkGt4AaABAg"]  # 2 replies, 1 inline
    assert next_page(json.loads(body)) is not None
    for record in page.records:
        assert find_native("youtube", body, record.native_id) == record.native
        assert not set(record.native["snippet"]) & SNIPPET_VOLATILE

    replies_body = (FIXTURES / "comments_list_replies.json").read_bytes()
    replies = parse_comments(json.loads(replies_body), CHANNEL, "DIDjfUGshBQ")
    assert [r.parent_native_id for r in replies] == ["UgzDE2tasfmrYLyNkGt4AaABAg"] * 2
    # the same reply inline (likeCount 3) and listed (likeCount 4) is the same native object
    assert canonical_json(replies[0].native) == canonical_json(reply.native)
    assert next_page(json.loads(replies_body)) is None


def test_reference_errors():
    assert quota_exceeded(fixture("error_quota_exceeded.json"))
    assert not quota_exceeded(fixture("error_comments_disabled.json"))
    assert api_errors(fixture("error_comments_disabled.json"))[2] == ("commentsDisabled",)
    code, message, reasons = api_errors(fixture("error_api_key_invalid.json"))
    assert (code, reasons) == (400, ("badRequest", "API_KEY_INVALID")) and "API key not valid" in message
    assert api_errors({"items": []}) == (None, "", ())


def test_quota_costs_and_credentials():
    assert quota_cost("https://www.googleapis.com/youtube/v3/commentThreads?part=snippet") == 1
    assert quota_cost("https://www.googleapis.com/youtube/v3/search?q=x") == QUOTA_COST["search"] == 100
    assert auth_headers("AIzaSyExample") == {"X-goog-api-key": "AIzaSyExample"}
    assert auth_headers("ya29.a0Example") == {"Authorization": "Bearer ya29.a0Example"}
    assert auth_headers(None) is None
    assert redact_url("https://www.googleapis.com/youtube/v3/videos?id=a&key=AIzaSecret") == \
        "https://www.googleapis.com/youtube/v3/videos?id=a&key=REDACTED"


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=6)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
snippet_keys = st.sampled_from(sorted(SNIPPET_VOLATILE) + ["textOriginal", "title", "parentId"]) | st.text(max_size=6)
top_keys = st.sampled_from(sorted(VOLATILE) + ["id", "kind", "status"]) | st.text(max_size=6)


@given(st.dictionaries(top_keys, json_value, max_size=6), st.dictionaries(snippet_keys, json_value, max_size=8))
def test_native_object_drops_volatile_keys_at_top_and_in_snippet(top, snippet):
    raw = {**top, "snippet": snippet}
    native = NATIVE.native_object(raw)
    assert set(native) == set(raw) - VOLATILE
    assert native["snippet"] == {k: v for k, v in snippet.items() if k not in SNIPPET_VOLATILE}
    assert NATIVE.native_object(native) == native
    assert raw["snippet"] is snippet and set(snippet) >= set(native["snippet"])  # the raw object untouched


@given(st.integers(min_value=0), st.sampled_from(["none", "like", "dislike"]), st.text(), st.text())
def test_likes_never_make_a_new_version_but_an_edit_does(likes, rating, text, other):
    comment = fixture("comment_threads_list.json")["items"][0]["snippet"]["topLevelComment"]
    base = canonical_json(NATIVE.native_object(comment))
    counted = copy.deepcopy(comment)
    counted["snippet"].update(likeCount=likes, viewerRating=rating)
    counted["etag"] = "changed"
    assert canonical_json(NATIVE.native_object(counted)) == base
    edited = copy.deepcopy(comment)
    edited["snippet"]["textOriginal"] = text
    if text != comment["snippet"]["textOriginal"]:
        assert canonical_json(NATIVE.native_object(edited)) != base


def _paths(value, path=""):
    """Every (JSON path, container, key) in a payload, for breaking one at a time."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield f"{path}.{key}" if path else key, value, key
            yield from _paths(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield f"{path}[{index}]", value, index
            yield from _paths(inner, f"{path}[{index}]")


REQUIRED = {
    "videos_list.json": ("items[0].id", "items[0].snippet", "items[0].snippet.title",
                         "items[0].snippet.channelId", "items[0].snippet.publishedAt"),
    "comment_threads_list.json": ("items[0].snippet.topLevelComment", "items[0].snippet.topLevelComment.id",
                                  "items[0].snippet.topLevelComment.snippet.publishedAt",
                                  "items[0].replies.comments[0].id", "items[0].replies.comments"),
}


def _parse(name: str, payload):
    if name == "videos_list.json":
        return parse_videos(payload, CHANNEL)
    return parse_comment_threads(payload, CHANNEL, "DIDjfUGshBQ")


@pytest.mark.parametrize("name", sorted(REQUIRED))
@given(data=st.data())
def test_a_required_field_of_the_wrong_type_is_refused_naming_its_path(name, data):
    payload = fixture(name)
    path = data.draw(st.sampled_from(REQUIRED[name]))
    bad = data.draw(st.sampled_from([None, 7, True, 1.5]) | st.lists(st.integers(), min_size=1, max_size=2))
    container, key = {p: (container, key) for p, container, key in _paths(payload)}[path]
    container[key] = bad
    with pytest.raises(PayloadError) as caught:
        _parse(name, payload)
    assert str(caught.value).startswith(path + ":") or str(caught.value).startswith(path + "[0]:")


@given(st.dictionaries(st.text(max_size=8), json_value, max_size=5))
def test_any_json_object_either_parses_or_is_refused_with_a_path(payload):
    for parse in (lambda p: parse_videos(p, CHANNEL), lambda p: parse_comments(p, CHANNEL, None),
                  lambda p: parse_comment_threads(p, CHANNEL, "v"), lambda p: playlist_video_ids(p)):
        try:
            parse(payload)
        except PayloadError as exc:
            assert str(exc).split(":", 1)[0].startswith(("response", "items"))


def test_extra_fields_and_missing_optional_fields_are_accepted():
    comment = copy.deepcopy(fixture("comments_list_replies.json")["items"][1])
    comment["snippet"]["somethingNew"] = {"x": 1}
    for optional in ("channelId", "authorProfileImageUrl", "authorChannelUrl", "canRate", "viewerRating",
                     "likeCount", "updatedAt"):
        del comment["snippet"][optional]
    record = parse_comment(comment, CHANNEL, "items[0]", video_id="v")
    assert record.native["snippet"]["somethingNew"] == {"x": 1}
    del comment["snippet"]["videoId"]
    assert parse_comment(comment, CHANNEL, "items[0]", video_id="fallback").thread_native_id == "fallback"
    with pytest.raises(PayloadError, match=r"items\[0\]\.snippet\.videoId"):
        parse_comment(comment, CHANNEL, "items[0]")
    with pytest.raises(PayloadError, match=r"items\[0\]\.kind: expected 'youtube#comment'"):
        parse_comment({**comment, "kind": "youtube#video"}, CHANNEL, "items[0]", video_id="v")
