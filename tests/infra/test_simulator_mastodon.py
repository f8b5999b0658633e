"""The simulator's Mastodon profile serves the documented shapes: Link paging, context, 404, 401."""

from __future__ import annotations

import json
import re

from infra.simulator.app import SimulatorApp
from infra.simulator.mastodon import MASTODON_ACCOUNT_ID, PUBLIC_DESCENDANTS
from infra.simulator.world import World

STATUSES = f"/mastodon/api/v1/accounts/{MASTODON_ACCOUNT_ID}/statuses"


def test_statuses_walk_by_link_next_over_every_department_status_once() -> None:
    app = SimulatorApp(World(seed=3, scale=1500), base_url="http://sim")
    target, seen, pages = f"{STATUSES}?limit=7", [], 0
    while target:
        reply = app.handle("GET", target)
        assert reply.status == 200
        page = json.loads(reply.body)
        seen += [status["id"] for status in page]
        pages += 1
        link = dict(reply.headers).get("Link", "")
        match = re.search(r'<http://sim([^>]*)>; rel="next"', link)
        assert (match is not None) == (len(page) == 7)
        target = match.group(1) if match else None
    truth = [r.native_id for r in app.world.records() if r.platform == "mastodon" and r.author_is_department]
    assert pages >= 3 and sorted(seen) == sorted(truth) and seen == sorted(seen, key=int, reverse=True)


def test_context_limits_gone_and_token_answers() -> None:
    app = SimulatorApp(World(seed=21, scale=3000), base_url="http://sim", token="t")
    records = [r for r in app.world.records() if r.platform == "mastodon"]
    root = max((r for r in records if r.kind == "post"),
               key=lambda p: sum(r.thread_id == p.native_id for r in records)).native_id
    public = json.loads(app.handle("GET", f"/mastodon/api/v1/statuses/{root}/context").body)
    full = json.loads(app.handle("GET", f"/mastodon/api/v1/statuses/{root}/context",
                                 {"Authorization": "Bearer t"}).body)
    assert public["ancestors"] == [] and len(public["descendants"]) == PUBLIC_DESCENDANTS
    assert len(full["descendants"]) == sum(r.thread_id == root for r in records) - 1
    assert "favourited" in full["descendants"][0] and "favourited" not in public["descendants"][0]
    wrong = app.handle("GET", f"/mastodon/api/v1/statuses/{root}", {"Authorization": "Bearer nope"})
    assert wrong.status == 401 and json.loads(wrong.body) == {"error": "The access token is invalid"}
    gone = app.handle("GET", "/mastodon/api/v1/statuses/1")
    assert gone.status == 404 and json.loads(gone.body) == {"error": "Record not found"}
