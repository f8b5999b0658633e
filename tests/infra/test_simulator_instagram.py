"""The Instagram profile: Graph shapes for media, comments and replies, errors, and its throttle answer."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.simulator import World
from infra.simulator.app import SimulatorApp
from infra.simulator.instagram import INSTAGRAM, INSTAGRAM_USER_ID, nested_fields

BASE = "http://127.0.0.1:1"
TOKEN = "sim-token"
GRAPH = "/instagram/v21.0"
COMMENT_FIELDS = "id,text,timestamp,username,from,user,media,hidden,like_count,parent_id"


def graph(app: SimulatorApp, path: str, **params: Any) -> tuple[int, Any]:
    target = f"{GRAPH}/{path}?{urlencode(params)}"
    reply = app.handle("GET", target, {"Authorization": f"OAuth {TOKEN}"})
    return reply.status, json.loads(reply.body)


def walk(app: SimulatorApp, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Follow `paging.next` as a client does; the items and the number of pages."""
    status, body = graph(app, path, **params)
    items, pages = [], 0
    while True:
        assert status == 200, body
        pages += 1
        items.extend(body["data"])
        next_url = body.get("paging", {}).get("next")
        if next_url is None:
            return items, pages
        assert body["paging"]["cursors"]["after"] in next_url and "access_token" not in next_url
        split = urlsplit(next_url)
        reply = app.handle("GET", f"{split.path}?{split.query}", {"Authorization": f"OAuth {TOKEN}"})
        status, body = reply.status, json.loads(reply.body)


@pytest.fixture(scope="module")
def app() -> SimulatorApp:
    world = World(7, 2500)
    for _ in range(2):
        world.advance()  # edits, hides and deletions
    return SimulatorApp(world, base_url=BASE)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(min_value=1, max_value=40))
def test_media_edge_pages_over_every_post_once_newest_first(app: SimulatorApp, limit: int) -> None:
    media, pages = walk(app, f"{INSTAGRAM_USER_ID}/media", limit=limit,
                        fields="id,caption,media_type,media_url,timestamp,children{id,media_url}")
    truth = [n.native_id for n in app.world.feed(INSTAGRAM)[0]]
    assert [m["id"] for m in media] == truth
    assert pages == -(-len(truth) // limit) and (limit > 20 or pages >= 3)
    assert [m["timestamp"] for m in media] == sorted((m["timestamp"] for m in media), reverse=True)
    for item in media:
        assert set(item) <= {"id", "caption", "media_type", "media_url", "timestamp", "children"}
        assert item["media_type"] in ("IMAGE", "CAROUSEL_ALBUM")
        assert (item["media_type"] == "CAROUSEL_ALBUM") == ("children" in item)
        assert item["media_url"].startswith(f"{BASE}/media/ig-")


def test_comments_inline_replies_and_replies_edge_hold_each_thread_once(app: SimulatorApp) -> None:
    world = app.world
    records = {r.native_id: r for r in world.records() if r.platform == INSTAGRAM}
    posts = sorted(world.feed(INSTAGRAM)[0], key=lambda n: -len(world.live_descendants(n)))[:8]
    paged_replies = False
    for post in posts:
        comments, _ = walk(app, f"{post.native_id}/comments", limit=5,
                           fields=f"{COMMENT_FIELDS},replies.limit(3){{{COMMENT_FIELDS}}}")
        assert [c["timestamp"] for c in comments] == sorted((c["timestamp"] for c in comments), reverse=True)
        seen = []
        for comment in comments:
            assert records[comment["id"]].depth == 1 and "parent_id" not in comment
            assert comment["media"] == {"id": post.native_id}
            seen.append(comment["id"])
            inline = comment.get("replies", {"data": []})
            everything, pages = walk(app, f"{comment['id']}/replies", fields=COMMENT_FIELDS, limit=3)
            assert [r["id"] for r in everything[:3]] == [r["id"] for r in inline["data"]]
            assert ("next" in inline.get("paging", {})) == (pages > 1)
            paged_replies |= pages > 1
            for reply in everything:
                assert reply["parent_id"] == records[reply["id"]].parent_id == comment["id"]  # one level deep
                seen.append(reply["id"])
        assert sorted(seen) == sorted(nid for nid, r in records.items() if r.thread_id == post.native_id
                                      and r.kind == "reply")
    assert paged_replies, "no thread long enough to page its replies: raise the scale"


def test_objects_fields_hidden_and_department_marks(app: SimulatorApp) -> None:
    records = [r for r in app.world.records() if r.platform == INSTAGRAM and r.kind == "reply"]
    hidden = next(r for r in records if r.status == "hidden")
    status, body = graph(app, hidden.native_id, fields=COMMENT_FIELDS)
    assert status == 200 and body["hidden"] is True and "user" not in body
    own = next(r for r in records if r.author_is_department)
    status, body = graph(app, own.native_id, fields=COMMENT_FIELDS)
    assert body["user"] == {"id": INSTAGRAM_USER_ID} and body["from"]["id"] == INSTAGRAM_USER_ID
    status, body = graph(app, own.native_id, fields="text")
    assert set(body) == {"id", "text"}
    post = app.world.feed(INSTAGRAM)[0][0]
    status, body = graph(app, post.native_id, fields=COMMENT_FIELDS)  # a media has no `text`
    assert status == 400 and body["error"]["code"] == 100 and "nonexisting field" in body["error"]["message"]
    assert "(IGMedia)" in body["error"]["message"]


def test_errors_are_graph_shapes(app: SimulatorApp) -> None:
    deleted = next(r for r in app.world.records(include_deleted=True) if r.platform == INSTAGRAM
                   and r.status == "deleted")
    status, body = graph(app, deleted.native_id, fields=COMMENT_FIELDS)
    assert status == 400 and (body["error"]["code"], body["error"]["error_subcode"]) == (100, 33)
    assert "does not exist" in body["error"]["message"] and body["error"]["fbtrace_id"]
    for headers in ({}, {"Authorization": "OAuth wrong"}):
        reply = app.handle("GET", f"{GRAPH}/{INSTAGRAM_USER_ID}/media", headers)
        error = json.loads(reply.body)["error"]
        assert (reply.status, error["code"], error["type"]) == (400, 190, "OAuthException")
    status, body = graph(app, f"{INSTAGRAM_USER_ID}/media", after="!!")
    assert status == 400 and body["error"]["code"] == 100
    status, body = graph(app, f"{INSTAGRAM_USER_ID}/stories")
    assert status == 400 and "nonexisting field (stories)" in body["error"]["message"]


def test_throttle_answer_is_the_business_use_case_limit() -> None:
    app = SimulatorApp(World(3, 200), base_url=BASE, rate_limit_every=2, retry_after=90)
    target = f"{GRAPH}/{INSTAGRAM_USER_ID}/media"
    assert app.handle("GET", target, {"Authorization": f"OAuth {TOKEN}"}).status == 200
    reply = app.handle("GET", target, {"Authorization": f"OAuth {TOKEN}"})
    error = json.loads(reply.body)["error"]
    assert reply.status == 400 and error["code"] == 80002 and error["is_transient"] is True
    usage = json.loads(dict(reply.headers)["X-Business-Use-Case-Usage"])
    [entry] = usage[INSTAGRAM_USER_ID]
    assert entry["type"] == "instagram" and entry["call_count"] == 100
    assert entry["estimated_time_to_regain_access"] == 2  # minutes, rounded up


def test_nested_fields_reads_one_expansion() -> None:
    assert nested_fields("id,replies{id,text},text", "replies") == ("id,text", 25)
    assert nested_fields("replies.limit(3){id,from{id}}", "replies") == ("id,from{id}", 3)
    assert nested_fields("id,children{id,media_url}", "replies") is None
    assert nested_fields("id,myreplies{id}", "replies") is None
    assert nested_fields(None, "replies") is None
