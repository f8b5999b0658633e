"""The YouTube profile's own shapes: page tokens, Google error bodies, the throttle answer, gone objects."""

from __future__ import annotations

import json

from infra.simulator.app import SimulatorApp
from infra.simulator.world import World
from infra.simulator.youtube import UPLOADS_PLAYLIST_ID, YOUTUBE_CHANNEL_ID

AUTH = {"Authorization": "Bearer sim-token"}


def _app(seed: int = 4, scale: int = 600) -> SimulatorApp:
    return SimulatorApp(World(seed, scale, platforms=("youtube",)), base_url="http://sim")


def call(app: SimulatorApp, target: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    reply = app.handle("GET", target, AUTH if headers is None else headers)
    return reply.status, json.loads(reply.body)


def test_page_tokens_walk_every_upload_once_and_stay_stable():
    app = _app()
    seen, token, pages = [], "", 0
    while True:
        status, body = call(app, f"/youtube/v3/playlistItems?part=contentDetails&playlistId={UPLOADS_PLAYLIST_ID}"
                                 f"&maxResults=7&pageToken={token}")
        assert status == 200 and body["kind"] == "youtube#playlistItemListResponse"
        seen += [item["contentDetails"]["videoId"] for item in body["items"]]
        pages += 1
        token = body.get("nextPageToken", "")
        if not token:
            break
    videos = [r.native_id for r in app.world.records() if r.kind == "post"]
    assert pages >= 3 and sorted(seen) == sorted(videos) and len(seen) == len(set(seen))
    status, body = call(app, f"/youtube/v3/playlistItems?part=snippet&playlistId={UPLOADS_PLAYLIST_ID}&pageToken=%%%")
    assert status == 400 and body["error"]["errors"][0]["reason"] == "invalidPageToken"
    status, body = call(app, f"/youtube/v3/playlistItems?part=snippet&playlistId={UPLOADS_PLAYLIST_ID}&maxResults=51")
    assert status == 400 and body["error"]["errors"][0]["location"] == "maxResults"


def test_threads_are_two_levels_and_gone_objects_are_absent_or_404():
    app = _app()
    records = app.world.records()
    assert max(r.depth for r in records) == 2
    assert all(r.parent_id == r.thread_id for r in records if r.depth == 1)
    for _ in range(6):
        app.advance()
    gone = [r for r in app.world.records(include_deleted=True) if r.status == "deleted"]
    assert gone
    for record in gone:
        if record.kind == "post":
            status, body = call(app, f"/youtube/v3/videos?part=snippet&id={record.native_id}")
            assert status == 200 and body["items"] == []
            status, body = call(app, f"/youtube/v3/commentThreads?part=snippet&videoId={record.native_id}")
            assert status == 404 and body["error"]["errors"][0]["reason"] == "videoNotFound"
        else:
            status, body = call(app, f"/youtube/v3/comments?part=snippet&id={record.native_id}")
            assert status == 200 and body["items"] == []


def test_credentials_part_and_throttle_answers():
    app = SimulatorApp(World(4, 200, platforms=("youtube",)), base_url="http://sim", rate_limit_every=3)
    target = f"/youtube/v3/channels?part=contentDetails&id={YOUTUBE_CHANNEL_ID}"
    status, body = call(app, target)
    assert status == 200 and body["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"] == UPLOADS_PLAYLIST_ID
    status, body = call(app, target, {})
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED"
    status, body = call(app, target)
    assert status == 429 and body["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    status, body = call(app, target + "&key=wrong", {})
    assert status == 400 and body["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    status, body = call(app, target + "&key=sim-token", {})
    assert status == 200
    assert call(app, target)[0] == 429  # every 3rd request
    status, body = call(app, "/youtube/v3/videos?id=abc", {"X-goog-api-key": "sim-token"})
    assert status == 400 and body["error"]["errors"][0]["reason"] == "required"
    status, body = call(app, target, {"Authorization": "Bearer nope"})
    assert status == 401 and body["error"]["errors"][0]["reason"] == "authError"


def test_comment_likes_change_every_step_but_text_does_not():
    app = _app(seed=5, scale=200)
    reply = next(r for r in app.world.records() if r.kind == "reply")
    before = call(app, f"/youtube/v3/comments?part=snippet&id={reply.native_id}&textFormat=plainText")[1]["items"]
    app.advance()
    after = call(app, f"/youtube/v3/comments?part=snippet&id={reply.native_id}&textFormat=plainText")[1]["items"]
    if after and app.world.record("youtube", reply.native_id).version == 0:
        assert after[0]["snippet"]["likeCount"] == before[0]["snippet"]["likeCount"] + 1
        assert after[0]["snippet"]["textOriginal"] == before[0]["snippet"]["textOriginal"] == reply.text
