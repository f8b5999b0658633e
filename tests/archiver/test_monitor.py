"""The monitor's pieces: its right-edge tree (`extend`) against RFC 6962 roots, its polite HTTP
client against a real server on 127.0.0.1 that rate-limits, and its state folder's guards."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from archiver.errors import SunshineError
from archiver.ledger import merkle
from archiver.ledger.note import format_checkpoint, generate_signer, parse_checkpoint
from archiver.monitor import edge_root, extend, load_state, save_state
from archiver.monitor_http import Limits, PortalClient, PortalFetchError


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(str(i).encode()) for i in range(n)]


@settings(max_examples=80, deadline=None)
@given(cuts=st.lists(st.integers(0, 70), max_size=6))
def test_the_right_edge_grown_in_any_steps_gives_the_rfc_root(cuts: list[int]) -> None:
    all_leaves = leaves(sum(cuts))
    edge, size = [], 0
    for step in cuts:
        edge = extend(edge, size, all_leaves[size:size + step])
        size += step
        assert edge_root(edge) == merkle.root_from_leaf_hashes(all_leaves[:size])
        assert len(edge) == bin(size).count("1")  # one complete subtree per set bit


@pytest.fixture()
def server() -> Iterator[dict]:
    """/limited answers 429 (Retry-After: 0) twice, then 200; /big is 2 KiB; /gone is 404."""
    calls = {"limited": 0}

    @Request.application
    def app(request: Request) -> Response:
        if request.path == "/limited":
            calls["limited"] += 1
            if calls["limited"] <= 2:
                return Response("slow down", status=429, headers={"Retry-After": "0"})
            return Response("ok")
        if request.path == "/big":
            return Response(b"x" * 2048)
        return Response("no", status=404)

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{httpd.server_port}", "calls": calls}
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


def test_the_client_waits_as_asked_on_429_then_gives_up(server) -> None:
    waits: list[float] = []
    client = PortalClient(server["url"], Limits(retries=4), sleep=waits.append)
    assert client.get("/limited") == b"ok"
    assert server["calls"]["limited"] == 3 and waits == [0.0, 0.0] and client.requests == 3
    server["calls"]["limited"] = 0
    stubborn = PortalClient(server["url"], Limits(retries=1), sleep=waits.append)
    with pytest.raises(PortalFetchError, match="HTTP 429") as caught:
        stubborn.get("/limited")
    assert caught.value.status == 429


def test_the_client_caps_answers_and_names_missing_ones(server) -> None:
    client = PortalClient(server["url"], Limits(max_response_bytes=1024))
    with pytest.raises(PortalFetchError, match="larger than the 1,024-byte limit"):
        client.get("/big")
    assert client.get("/gone", missing_ok=True) is None
    with pytest.raises(PortalFetchError, match="HTTP 404"):
        client.get("/gone")
    with pytest.raises(PortalFetchError, match="cannot reach the portal"):
        PortalClient("http://127.0.0.1:9", Limits(timeout=2)).get("/")
    for bad in ("file:///etc/passwd", "ftp://example.org", "127.0.0.1:8000"):
        with pytest.raises(SunshineError, match="http:// or https://"):
            PortalClient(bad, Limits())


def test_a_state_folder_follows_one_log_and_refuses_damage(tmp_path) -> None:
    signer = generate_signer("state-test.example/log")
    key = signer.verifier().key()
    state = load_state(tmp_path, signer.name, key)
    new = leaves(5)
    state.edge = extend([], 0, new)
    checkpoint = parse_checkpoint(format_checkpoint(signer.name, 5, edge_root(state.edge)))
    save_state(tmp_path, state, new, checkpoint, "note\n")
    assert load_state(tmp_path, signer.name, key).size == 5
    other = generate_signer("state-test.example/log").verifier().key()
    with pytest.raises(SunshineError, match="use another --state folder"):
        load_state(tmp_path, signer.name, other)
    data = bytearray((tmp_path / "leaves").read_bytes())
    data[40] ^= 1
    (tmp_path / "leaves").write_bytes(bytes(data))
    with pytest.raises(SunshineError, match="disagree; the state is damaged"):
        load_state(tmp_path, signer.name, key)
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(SunshineError, match="not a monitor state file"):
        load_state(tmp_path, signer.name, key)
