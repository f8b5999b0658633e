"""The platform simulator: deterministic worlds of every profiled platform; the Bluesky and Facebook
shapes in detail (each other platform's shapes have their own `test_simulator_<platform>.py`).

Most tests drive `SimulatorApp.handle` in-process (the same code the HTTP server calls); the ones
about the wire (headers, keep-alive, rate limits, lone surrogates) go through the real server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.simulator import (
    BLUESKY,
    BLUESKY_HANDLE,
    FACEBOOK,
    FACEBOOK_PAGE_ID,
    HOSTILE_KINDS,
    PROFILES,
    Fault,
    World,
    start_simulator,
)
from infra.simulator.app import SimulatorApp
from infra.simulator.world import MAX_DEPTH, POST_SHARE

BASE = "http://127.0.0.1:1"
TOKEN = "sim-token"
FEED = "/bluesky/xrpc/app.bsky.feed.getAuthorFeed"
THREAD = "/bluesky/xrpc/app.bsky.feed.getPostThread"
GRAPH = "/facebook/v21.0"


def make_app(seed: int = 7, scale: int = 3000, **kwargs: Any) -> SimulatorApp:
    """A world of every profile; at the default scale Bluesky's feed is longer than its default page."""
    return SimulatorApp(World(seed, scale), base_url=BASE, **kwargs)


def call(app: SimulatorApp, path: str, **params: Any) -> tuple[int, Any, bytes]:
    target = f"{path}?{urlencode(params)}" if params else path
    reply = app.handle("GET", target)
    return reply.status, json.loads(reply.body), reply.body


def graph(app: SimulatorApp, path: str, **params: Any) -> tuple[int, Any, bytes]:
    return call(app, f"{GRAPH}/{path}", access_token=TOKEN, **params)


def walk_bluesky_feed(app: SimulatorApp, limit: int) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        params: dict[str, Any] = {"actor": BLUESKY_HANDLE, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        status, body, _ = call(app, FEED, **params)
        assert status == 200
        assert len(body["feed"]) <= limit
        items.extend(body["feed"])
        cursor = body.get("cursor")
        if cursor is None:
            return items


def walk_graph(app: SimulatorApp, path: str, **params: Any) -> list[dict[str, Any]]:
    """Follow `paging.next` as a client does (the URL's path and query against the app)."""
    status, body, _ = graph(app, path, **params)
    items = []
    while True:
        assert status == 200, body
        items.extend(body["data"])
        next_url = body.get("paging", {}).get("next")
        if next_url is None:
            return items
        assert body["paging"]["cursors"]["after"] in next_url
        split = urlsplit(next_url)
        reply = app.handle("GET", f"{split.path}?{split.query}")
        status, body = reply.status, json.loads(reply.body)


@pytest.fixture(scope="module")
def app() -> SimulatorApp:
    return make_app()


# ----- the world ------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [50, 1000, 20000])
def test_scale_gives_about_that_many_records(scale: int) -> None:
    world = World(3, scale)
    records = world.records()
    assert abs(len(records) - scale) <= scale * 0.10  # the hostile records count towards the scale
    assert {r.platform for r in records if r.kind == "post"} == set(PROFILES)  # each has a thread, however small
    hostile = {(h.platform, h.native_id) for h in world.hostile_records()}
    dealt = [r for r in records if (r.platform, r.native_id) not in hostile]
    if scale * POST_SHARE >= len(PROFILES):  # else the one post each platform gets sets the share
        assert 0.10 <= sum(r.kind == "post" for r in dealt) / len(dealt) <= 0.17
    for platform, profile in PROFILES.items():
        depths = [r.depth for r in records if r.platform == platform]
        assert max(depths) <= min(MAX_DEPTH, profile.max_depth)
        assert profile.has_replies or max(depths) == 0


def test_large_world_generates_quickly() -> None:
    started = time.perf_counter()
    world = World(11, 100_000)
    assert time.perf_counter() - started < 6
    assert abs(len(world.nodes) - 100_000) <= 10_000
    assert {r.kind for r in world.hostile_records()} == set(HOSTILE_KINDS)


def test_world_has_the_needed_variety(app: SimulatorApp) -> None:
    records = app.world.records()
    assert any(r.kind == "reply" and r.author_is_department for r in records)
    assert any(r.depth >= 4 for r in records)
    assert any(r.media for r in records)
    texts = " ".join(r.text for r in records)
    assert "arrested" in texts and "arrest" in texts
    now = app.world.state()["now"]
    assert all(r.created_at[:19] < now[:19] for r in records)


def test_same_seed_same_bytes_and_different_seed_differs() -> None:
    first, second, other = make_app(seed=5), make_app(seed=5), make_app(seed=6)

    def snapshot(sim: SimulatorApp) -> list[bytes]:
        feed = call(sim, FEED, actor=BLUESKY_HANDLE, limit=100)
        uri = feed[1]["feed"][0]["post"]["uri"]
        page = graph(sim, f"{FACEBOOK_PAGE_ID}/feed", limit=100)
        post_id = page[1]["data"][0]["id"]
        return [feed[2], call(sim, THREAD, uri=uri)[2], page[2],
                graph(sim, f"{post_id}/comments", filter="stream")[2]]

    assert snapshot(first) == snapshot(second)
    assert snapshot(first) != snapshot(other)
    for sim in (first, second):
        sim.advance()
        sim.advance()
    assert snapshot(first) == snapshot(second)
    assert first.world.changes == second.world.changes


# ----- Bluesky --------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(min_value=1, max_value=100))
def test_bluesky_feed_walks_every_item_once_newest_first(app: SimulatorApp, limit: int) -> None:
    items = walk_bluesky_feed(app, limit)
    uris = [item["post"]["uri"] for item in items]
    expected = [n.native_id for n in app.world.feed(BLUESKY)[0]]
    assert uris == expected
    assert len(set(uris)) == len(uris)
    times = [item["post"]["record"]["createdAt"] for item in items]
    assert times == sorted(times, reverse=True)
    for item in items:
        assert item["post"]["author"]["handle"] == BLUESKY_HANDLE
        assert ("reply" in item) == ("reply" in item["post"]["record"])
        if "reply" in item:
            assert item["reply"]["parent"]["uri"] == item["post"]["record"]["reply"]["parent"]["uri"]


def test_bluesky_feed_limits_and_cursor_errors(app: SimulatorApp) -> None:
    assert len(app.world.feed(BLUESKY)[0]) > 50  # so the default page (50) is a cut
    assert len(call(app, FEED, actor=BLUESKY_HANDLE)[1]["feed"]) == 50
    assert len(call(app, FEED, actor=app.world.state()["accounts"][BLUESKY]["did"], limit=3)[1]["feed"]) == 3
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"cursor": "garbage"}):
        status, body, _ = call(app, FEED, actor=BLUESKY_HANDLE, **bad)
        assert (status, body["error"]) == (400, "InvalidRequest")
    assert call(app, FEED)[0] == 400
    assert call(app, FEED, actor="nobody.bsky.social")[1]["error"] == "InvalidRequest"
    no_replies = call(app, FEED, actor=BLUESKY_HANDLE, limit=100, filter="posts_no_replies")[1]["feed"]
    assert no_replies and all("reply" not in item["post"]["record"] for item in no_replies)


def _check_thread(node: dict[str, Any], parent: dict[str, Any] | None, root_uri: str, level: int,
                  seen: list[str]) -> None:
    assert node["$type"] == "app.bsky.feed.defs#threadViewPost"
    post = node["post"]
    seen.append(post["uri"])
    assert level <= 5
    if parent is None:
        assert "reply" not in post["record"]
    else:
        assert post["record"]["reply"]["parent"]["uri"] == parent["uri"]
        assert post["record"]["reply"]["root"]["uri"] == root_uri
    assert post["replyCount"] == len(node.get("replies", []))
    for child in node.get("replies", []):
        _check_thread(child, post, root_uri, level + 1, seen)


def test_bluesky_threads_nest_with_consistent_parent_links(app: SimulatorApp) -> None:
    world = app.world
    posts = [n for n in world.feed(BLUESKY)[0] if n.parent is None][:40]
    for node in posts:
        status, body, _ = call(app, THREAD, uri=node.native_id, depth=10)
        assert status == 200
        seen: list[str] = []
        _check_thread(body["thread"], None, node.native_id, 0, seen)
        expected = {r.native_id for r in world.records() if r.platform == BLUESKY and r.thread_id == node.native_id}
        assert sorted(seen) == sorted(expected)


def test_bluesky_thread_of_a_reply_has_parents_and_depth_cuts(app: SimulatorApp) -> None:
    deep = next(n for n in app.world.nodes if n.platform == BLUESKY and n.depth >= 3 and not n.deleted)
    body = call(app, THREAD, uri=deep.native_id, depth=0)[1]["thread"]
    chain = []
    current = body.get("parent")
    while current is not None:
        chain.append(current["post"]["uri"])
        current = current.get("parent")
    expected, walker = [], deep.parent
    while walker is not None:
        expected.append(walker.native_id)
        walker = walker.parent
    assert chain == expected
    root = call(app, THREAD, uri=deep.root.native_id, depth=1)[1]["thread"]
    for reply in root["replies"]:
        assert "replies" in reply or reply["post"]["replyCount"] > 0
        assert all("replies" not in grandchild for grandchild in reply.get("replies", []))
    handle_uri = deep.root.native_id.replace(app.world.state()["accounts"][BLUESKY]["did"], BLUESKY_HANDLE)
    assert call(app, THREAD, uri=handle_uri, depth=0)[0] == 200


# ----- Facebook -------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(min_value=1, max_value=100))
def test_facebook_feed_follows_next_over_every_post_once(app: SimulatorApp, limit: int) -> None:
    fields = "id,message,created_time,updated_time,from,permalink_url,attachments{media_type,media,url}"
    posts = walk_graph(app, f"{FACEBOOK_PAGE_ID}/feed", fields=fields, limit=limit)
    ids = [post["id"] for post in posts]
    assert ids == [n.native_id for n in app.world.feed(FACEBOOK)[0]]
    assert all(post_id.startswith(f"{FACEBOOK_PAGE_ID}_") for post_id in ids)
    assert [p["created_time"] for p in posts] == sorted((p["created_time"] for p in posts), reverse=True)
    assert any("attachments" in post for post in posts)


def test_facebook_comments_stream_and_toplevel(app: SimulatorApp) -> None:
    world = app.world
    posts = sorted(world.feed(FACEBOOK)[0], key=lambda n: -len(world.live_descendants(n)))[:10]
    fields = "id,message,created_time,from,parent{id},is_hidden,comment_count,permalink_url,attachment"
    for post in posts:
        truth = {r.native_id: r for r in world.records() if r.platform == FACEBOOK and r.thread_id == post.native_id
                 and r.kind == "reply"}
        stream = walk_graph(app, f"{post.native_id}/comments", filter="stream", fields=fields, limit=7)
        assert sorted(c["id"] for c in stream) == sorted(truth)
        assert [c["created_time"] for c in stream] == sorted(c["created_time"] for c in stream)
        for comment in stream:
            record = truth[comment["id"]]
            assert comment["id"].startswith(post.key + "_")
            if record.depth == 1:
                assert "parent" not in comment
            else:
                assert comment["parent"] == {"id": record.parent_id}
        toplevel = walk_graph(app, f"{post.native_id}/comments", fields=fields)
        assert sorted(c["id"] for c in toplevel) == sorted(i for i, r in truth.items() if r.depth == 1)
        with_replies = next((c for c in toplevel if c["comment_count"]), None)
        if with_replies is not None:
            replies = walk_graph(app, f"{with_replies['id']}/comments")
            assert len(replies) == with_replies["comment_count"]
            assert all(reply["parent"]["id"] == with_replies["id"] for reply in replies)


def test_facebook_fields_select_and_objects_resolve(app: SimulatorApp) -> None:
    post = app.world.feed(FACEBOOK)[0][0]
    status, body, _ = graph(app, post.native_id, fields="message")
    assert status == 200 and set(body) == {"id", "message"}
    assert graph(app, FACEBOOK_PAGE_ID)[1]["name"] == "Springfield Police Department"
    status, body, _ = graph(app, f"{post.native_id}/comments", filter="everything")
    assert status == 400 and body["error"]["code"] == 100


def test_facebook_token_is_checked(app: SimulatorApp) -> None:
    path = f"{GRAPH}/{FACEBOOK_PAGE_ID}/feed"
    for target in (path, f"{path}?access_token=wrong"):
        reply = app.handle("GET", target)
        error = json.loads(reply.body)["error"]
        assert reply.status == 400
        assert (error["code"], error["type"]) == (190, "OAuthException")
        assert error["message"] == "Invalid OAuth access token - Cannot parse access token"
        assert error["fbtrace_id"]
    assert app.handle("GET", path, {"Authorization": f"Bearer {TOKEN}"}).status == 200


def test_unknown_routes_use_platform_error_shapes(app: SimulatorApp) -> None:
    status, body, _ = call(app, "/bluesky/xrpc/app.bsky.feed.nope")
    assert status == 404 and body["error"] == "MethodNotImplemented"
    status, body, _ = graph(app, "999999")
    assert status == 400 and (body["error"]["code"], body["error"]["error_subcode"]) == (100, 33)
    status, body, _ = call(app, THREAD, uri="at://did:plc:nobody/app.bsky.feed.post/xyz")
    assert (status, body["error"]) == (400, "NotFound")
    assert call(app, "/elsewhere")[0] == 404


# ----- time steps -----------------------------------------------------------------------------


def test_advance_grows_edits_deletes_and_hides() -> None:
    sim = make_app(seed=9, scale=1500)
    world = sim.world
    before = {(r.platform, r.native_id): r for r in world.records()}
    bsky_cids = {n.native_id: world.cid(n) for n in world.nodes if n.platform == BLUESKY}
    fb_updated = {p.native_id: graph(sim, p.native_id)[1]["updated_time"] for p in world.feed(FACEBOOK)[0]}
    call(sim, FEED, actor=BLUESKY_HANDLE)  # fill the cache: advance must not serve stale bytes
    change = sim.advance()
    assert change.step == 1 and world.changes[1] == change
    live_before = len(before)
    assert 0.05 * live_before <= len(change.new) <= 0.11 * live_before
    assert change.edited and change.deleted and change.hidden

    # the world's side for every platform; the gone answer, edits and hides on the wire for Bluesky
    # and Facebook here, for each other platform in its own simulator tests
    for platform, native_id in change.deleted:
        deleted = world.record(platform, native_id)
        assert deleted is None or deleted.status == "deleted"
        assert native_id not in {n.native_id for n in world.feed(platform)[0]}
        if platform == BLUESKY:
            status, body, _ = call(sim, THREAD, uri=native_id)
            assert (status, body["error"], body["message"]) == (400, "NotFound", f"Post not found: {native_id}")
        elif platform == FACEBOOK:
            status, body, _ = graph(sim, native_id)
            assert status == 400 and (body["error"]["code"], body["error"]["error_subcode"]) == (100, 33)
    feed_uris = {item["post"]["uri"] for item in walk_bluesky_feed(sim, 100)}
    assert not feed_uris & {i for p, i in change.deleted if p == BLUESKY}

    for platform, native_id in change.edited:
        old, new = before[(platform, native_id)], world.record(platform, native_id)
        assert new is not None and new.text != old.text and new.status == "edited"
        if platform == BLUESKY:
            post = call(sim, THREAD, uri=native_id, depth=0)[1]["thread"]["post"]
            assert post["record"]["text"] == new.text
            assert post["cid"] != bsky_cids[native_id]
        elif platform == FACEBOOK:
            obj = graph(sim, native_id)[1]
            assert obj["message"] == new.text
            if native_id in fb_updated:
                assert obj["updated_time"] > fb_updated[native_id]

    assert {platform for platform, _ in change.hidden} <= {p for p, profile in PROFILES.items() if profile.hides_comments}
    for platform, native_id in change.hidden:
        record = world.record(platform, native_id)
        assert record is not None and record.status == "hidden"
        if platform != FACEBOOK:
            continue
        assert graph(sim, native_id)[1]["is_hidden"] is True
        thread = next(n for n in world.nodes if n.native_id == record.thread_id)
        stream = walk_graph(sim, f"{thread.native_id}/comments", filter="stream")
        assert {c["id"]: c["is_hidden"] for c in stream}[native_id] is True

    new_feed = {n.native_id for n in world.feed(BLUESKY)[0]}
    assert {i for p, i in change.new if p == BLUESKY and world.node(p, i).is_department} <= new_feed


# ----- hostile records ------------------------------------------------------------------------


@pytest.mark.parametrize("seed,scale", [(1, 50), (2, 120), (3, 3000)])
def test_hostile_records_exist_for_small_and_large_worlds(seed: int, scale: int) -> None:
    world = World(seed, scale)
    hostile = world.hostile_records()
    for platform, profile in PROFILES.items():  # a lone surrogate only where the wire can carry one
        expected = set(HOSTILE_KINDS) if profile.lone_surrogates else set(HOSTILE_KINDS) - {"lone_surrogate"}
        assert set(world.hostile_kinds(platform)) == expected
    assert sorted((h.platform, h.kind) for h in hostile) == sorted(
        (p, k) for p in PROFILES for k in world.hostile_kinds(p))
    by_kind = {(h.platform, h.kind): h for h in hostile}
    assert "<script>alert('xss')</script>" in by_kind[(FACEBOOK, "xss")].text
    assert len(by_kind[(BLUESKY, "huge")].text) >= 1_000_000
    assert "\ud800" in by_kind[(BLUESKY, "lone_surrogate")].text
    assert "\u202e" in by_kind[(FACEBOOK, "bidi")].text
    for _ in range(3):
        world.advance()
    for record in hostile:  # never edited or deleted
        current = world.record(record.platform, record.native_id)
        assert current is not None and current.status == "active" and current.text == record.text


def test_hostile_records_survive_the_wire_byte_exact() -> None:
    """Bluesky's and Facebook's object routes (every platform's hostile records cross the wire to its
    spider in tests/spiders/test_spider_crawls.py)."""
    with start_simulator(seed=4, scale=300, platforms=(BLUESKY, FACEBOOK)) as sim:
        session = requests.Session()
        for record in sim.world.hostile_records():
            if record.platform == BLUESKY:
                response = session.get(f"{sim.api_base_url(BLUESKY)}/xrpc/app.bsky.feed.getPostThread",
                                       params={"uri": record.native_id, "depth": 0})
                parsed = json.loads(response.content)["thread"]["post"]["record"]["text"]
            else:
                response = session.get(f"{sim.api_base_url(FACEBOOK)}/{record.native_id}",
                                       params={"access_token": sim.token})
                parsed = json.loads(response.content)["message"]
            assert response.status_code == 200
            assert parsed == record.text
            response.content.decode("utf-8")  # valid UTF-8 on the wire
            if record.kind == "lone_surrogate":
                assert b"\\ud800" in response.content
            if record.kind == "xss":
                assert b"<script>alert('xss')</script>" in response.content


# ----- the server -----------------------------------------------------------------------------


def test_server_rate_limits_every_nth_request_with_documented_headers() -> None:
    with start_simulator(seed=2, scale=200, rate_limit_every=3, retry_after=2) as sim:
        session = requests.Session()
        feed_url = f"{sim.api_base_url(BLUESKY)}/xrpc/app.bsky.feed.getAuthorFeed"
        statuses = [session.get(feed_url, params={"actor": BLUESKY_HANDLE}).status_code for _ in range(6)]
        assert statuses == [200, 200, 429, 200, 200, 429]
        session.get(feed_url, params={"actor": BLUESKY_HANDLE})
        session.get(feed_url, params={"actor": BLUESKY_HANDLE})
        limited = session.get(feed_url, params={"actor": BLUESKY_HANDLE})
        assert limited.status_code == 429
        assert limited.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
        assert limited.headers["Retry-After"] == "2"
        assert limited.headers["RateLimit-Remaining"] == "0"
        for name in ("RateLimit-Limit", "RateLimit-Reset", "RateLimit-Policy"):
            assert limited.headers[name]
        assert int(limited.headers["RateLimit-Reset"]) >= int(time.time())

        page_url = f"{sim.api_base_url(FACEBOOK)}/{FACEBOOK_PAGE_ID}/feed"
        answers = [session.get(page_url, params={"access_token": sim.token}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 400]
        error = answers[2].json()["error"]
        assert (error["code"], error["is_transient"], error["type"]) == (4, True, "OAuthException")
        assert json.loads(answers[2].headers["X-App-Usage"])["call_count"] == 100


def test_faults_break_chosen_answers_then_stop() -> None:
    faults = [Fault("truncated_json", path_contains="getAuthorFeed", count=1)]
    with start_simulator(seed=2, scale=300, faults=faults) as sim:
        session = requests.Session()
        feed_url = f"{sim.api_base_url(BLUESKY)}/xrpc/app.bsky.feed.getAuthorFeed"
        broken = session.get(feed_url, params={"actor": BLUESKY_HANDLE})
        with pytest.raises(ValueError):
            json.loads(broken.content)
        healthy = session.get(feed_url, params={"actor": BLUESKY_HANDLE})
        assert healthy.json()["feed"]

        sim.add_fault(Fault("missing_id", path_contains="/feed", platform=FACEBOOK))
        page_url = f"{sim.api_base_url(FACEBOOK)}/{FACEBOOK_PAGE_ID}/feed"
        data = session.get(page_url, params={"access_token": sim.token}).json()["data"]
        assert "id" not in data[0] and "id" in data[1]

        response = session.post(f"{sim.base_url}/_sim/faults",
                                data=json.dumps({"kind": "wrong_types", "path_contains": "getAuthorFeed"}))
        assert response.status_code == 200
        post = session.get(feed_url, params={"actor": BLUESKY_HANDLE}).json()["feed"][0]["post"]
        assert post["record"]["text"] == 12345 and post["record"]["createdAt"] is None

        sim.add_fault(Fault("server_error", count=None))
        assert session.get(page_url, params={"access_token": sim.token}).status_code == 500
        assert session.delete(f"{sim.base_url}/_sim/faults").status_code == 200
        assert session.get(page_url, params={"access_token": sim.token}).status_code == 200
        assert session.post(f"{sim.base_url}/_sim/faults", data='{"kind": "nope"}').status_code == 400


def test_server_serves_media_state_and_advance() -> None:
    with start_simulator(seed=8, scale=800) as sim:
        session = requests.Session()
        state = session.get(f"{sim.base_url}/_sim/state").json()
        assert state["step"] == 0
        assert state["accounts"][BLUESKY]["base_url"] == sim.api_base_url(BLUESKY)
        assert state["accounts"][FACEBOOK]["page_id"] == FACEBOOK_PAGE_ID

        items = walk_feed_http(session, sim.api_base_url(BLUESKY))
        embedded = next(item["post"] for item in items if "embed" in item["post"])
        url = embedded["embed"]["images"][0]["fullsize"]
        assert url.startswith(f"{sim.base_url}/media/") and url.endswith(".png")
        image = session.get(url)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
        assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert embedded["record"]["embed"]["images"][0]["image"]["size"] == len(image.content)
        assert session.get(f"{sim.base_url}/media/nothing.png").status_code == 404

        advanced = session.post(f"{sim.base_url}/_sim/advance").json()
        assert advanced["step"] == 1 and advanced["changes"]["new"] > 0
        assert session.get(f"{sim.base_url}/_sim/state").json()["step"] == 1
        assert sim.world.step == 1


def walk_feed_http(session: requests.Session, base_url: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        params = {"actor": BLUESKY_HANDLE, "limit": 100, **({"cursor": cursor} if cursor else {})}
        body = session.get(f"{base_url}/xrpc/app.bsky.feed.getAuthorFeed", params=params).json()
        items.extend(body["feed"])
        cursor = body.get("cursor")
        if not cursor:
            return items


def test_server_stop_frees_the_port_with_open_keepalive_connections() -> None:
    sim = start_simulator(seed=1, scale=100)
    session = requests.Session()
    assert session.get(f"{sim.base_url}/_sim/state").status_code == 200
    sim.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sim.base_url}/_sim/state", timeout=2)


def test_cursors_stay_valid_across_a_step() -> None:
    """A crawl that straddles advance() neither repeats nor skips what was already behind its cursor."""
    sim = make_app(seed=12, scale=1500)
    first = call(sim, FEED, actor=BLUESKY_HANDLE, limit=20)[1]
    page = graph(sim, f"{FACEBOOK_PAGE_ID}/feed", limit=20)[1]
    sim.advance()
    rest = call(sim, FEED, actor=BLUESKY_HANDLE, limit=100, cursor=first["cursor"])[1]["feed"]
    seen = {item["post"]["uri"] for item in first["feed"]}
    assert not seen & {item["post"]["uri"] for item in rest}
    oldest = first["feed"][-1]["post"]["record"]["createdAt"]
    assert all(item["post"]["record"]["createdAt"] <= oldest for item in rest)
    after = graph(sim, f"{FACEBOOK_PAGE_ID}/feed", limit=100, after=page["paging"]["cursors"]["after"])[1]
    assert not {p["id"] for p in page["data"]} & {p["id"] for p in after["data"]}


def test_server_answers_concurrent_keepalive_clients_identically() -> None:
    with start_simulator(seed=6, scale=600) as sim:
        uris = [n.native_id for n in sim.world.feed(BLUESKY)[0][:30]]
        results: list[list[bytes]] = []

        def crawl() -> None:
            session = requests.Session()
            url = f"{sim.api_base_url(BLUESKY)}/xrpc/app.bsky.feed.getPostThread"
            results.append([session.get(url, params={"uri": uri}).content for uri in uris])

        threads = [threading.Thread(target=crawl) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 4 and all(result == results[0] for result in results)
        head = requests.head(f"{sim.base_url}/_sim/state")
        assert head.status_code == 200 and int(head.headers["Content-Length"]) > 0 and head.content == b""


def test_cli_serves_until_interrupted() -> None:
    process = subprocess.Popen([sys.executable, "-m", "infra.simulator", "--port", "0", "--scale", "100"],
                               stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        base_url = first.split()[1]
        assert base_url.startswith("http://127.0.0.1:")
        assert requests.get(f"{base_url}/_sim/state", timeout=5).json()["scale"] == 100
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_same_seed_same_bytes_across_interpreters() -> None:
    """Nothing depends on hash randomisation or the process: two fresh interpreters agree."""
    script = (
        "import hashlib\n"
        "from infra.simulator.app import SimulatorApp\n"
        "from infra.simulator.world import World\n"
        "app = SimulatorApp(World(5, 400), base_url='http://x')\n"
        "app.advance()\n"
        "h = hashlib.sha256(repr(app.world.records(include_deleted=True)).encode())\n"
        "for node in app.world.nodes[:150]:\n"
        "    if node.deleted or node.platform not in ('bluesky', 'facebook'): continue\n"
        "    if node.platform == 'bluesky':\n"
        "        h.update(app.handle('GET', '/bluesky/xrpc/app.bsky.feed.getPostThread?uri=' + node.native_id).body)\n"
        "    else:\n"
        "        h.update(app.handle('GET', f'/facebook/v21.0/{node.native_id}?access_token=sim-token').body)\n"
        "print(h.hexdigest())\n"
    )
    root = Path(__file__).resolve().parents[2]
    digests = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root,
                       env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}).stdout
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1
