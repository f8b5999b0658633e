"""The Elasticsearch launcher: start is idempotent, status reports health, the node answers on loopback.

These use the session's node (the `es_url` fixture starts it through this same launcher when the
test command has not), so the suite pays for one JVM start, not one per test.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from urllib.parse import urlparse

import pytest

from archiver.errors import SunshineError
from infra import es_server, service_state


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_start_is_idempotent_and_status_reports_health(es_url: str) -> None:
    state = es_server.status()
    if state is None:  # the test command started its own node elsewhere: nothing of ours to check
        assert _get(f"{es_url}/_cluster/health")["status"] in ("green", "yellow")
        return
    again = es_server.start()  # already running: same node, same URL, no second JVM
    assert again == {"SUNSHINE_ES_URL": es_url}
    assert es_server.status()["pid"] == state["pid"]
    assert state["health"] in ("green", "yellow")
    assert state["version"] == es_server.VERSION


def test_node_is_single_node_on_loopback_without_security(es_url: str) -> None:
    assert urlparse(es_url).hostname == "127.0.0.1"
    nodes = _get(f"{es_url}/_nodes/http")["nodes"]  # no credentials: x-pack security is off here
    assert len(nodes) == 1
    (node,) = nodes.values()
    assert node["version"] == es_server.VERSION
    assert all(address.startswith("127.0.0.1:") for address in node["http"]["bound_address"])


def test_node_has_the_hunspell_dictionary_for_stemming(es_url: str) -> None:
    request = urllib.request.Request(
        f"{es_url}/_analyze", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"tokenizer": "standard", "filter": ["lowercase", {"type": "hunspell", "locale": "en_US"}],
                         "text": "Arrested"}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        tokens = [token["token"] for token in json.loads(response.read())["tokens"]]
    assert "arrest" in tokens


def test_status_is_none_and_stop_is_harmless_when_not_running(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(service_state, "RUN_DIR", tmp_path)  # an empty run folder: nothing started
    assert es_server.status() is None
    es_server.stop()


def test_a_node_that_dies_while_starting_is_reported_with_its_log_tail(tmp_path) -> None:
    log = tmp_path / "server.log"
    log.write_text("booting\nERROR: bootstrap checks failed: max virtual memory areas too low\n")
    process = subprocess.Popen(["true"])
    process.wait()
    started = time.monotonic()
    with pytest.raises(SunshineError, match="max virtual memory areas too low"):
        es_server._wait_healthy(f"http://127.0.0.1:{service_state.free_port()}", process.pid, log, timeout=30)
    assert time.monotonic() - started < 5


def test_stale_state_naming_another_program_is_ignored_not_signalled(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(service_state, "RUN_DIR", tmp_path)
    bystander = subprocess.Popen(["sleep", "30"], start_new_session=True)  # took over a dead node's pid
    try:
        service_state.write_state(es_server.NAME, {"pid": bystander.pid, "url": "http://127.0.0.1:9", "run_dir": ""})
        assert not es_server._is_our_node(bystander.pid)
        es_server.stop()
        assert bystander.poll() is None  # still running: we only stop what we started
        assert es_server.status() is None
    finally:
        bystander.kill()
        bystander.wait()
