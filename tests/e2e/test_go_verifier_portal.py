"""A running portal audited by independent verifiers over real HTTP on 127.0.0.1.

Go's own `sumdb/note` and `sumdb/tlog` (tests/go, `-url` mode) fetch the checkpoint, key, kept
checkpoints, tiles and proofs from the portal and check them; a wrong key and a tampered tile are
refused. Then headless Chromium runs the verify page's `verify.js` (WebCrypto SHA-256 and Ed25519)
on a sound log and on one whose entry bundle was altered.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from archiver.config import load_config
from archiver.ledger import log
from archiver.store.local import LocalStore
from portal import create_app

ORIGIN = "e2e.example/log"



def build_log(root: Path) -> tuple[LocalStore, str, list[bytes]]:
    """600 capture entries in uneven batches, checkpoints signed at 300 and 600."""
    store = LocalStore(root / "store")
    for attempt in range(100):  # a key whose base64 holds a "+" (the separator of name+hash+key)
        signer = log.load_or_create_signer(root / f"ledger-{attempt}.key", ORIGIN)
        if "+" in log.verifier_key(signer).split("+", 2)[2]:
            break
    entries = [log.entry_for_capture(f"mastodon-{i}", 1, "2026-01-01T00:00:00Z", f"{i:064x}") for i in range(600)]
    log.append_entries(store, 0, entries[:300])
    log.sign_checkpoint(store, signer, ORIGIN)
    for start in range(300, 600, 90):
        log.append_entries(store, start, entries[start:start + 90])
    log.sign_checkpoint(store, signer, ORIGIN)
    return store, log.verifier_key(signer), entries


def serve(root: Path, store: LocalStore) -> tuple[str, callable]:
    from indexer.sqlite_fts import SqliteIndex

    config = root / "sunshine.toml"
    config.write_text('[department]\nname = "E2E Police"\n[storage]\npath = "store"\n'
                      '[search]\npath = "search.sqlite"\n', encoding="utf-8")
    index = SqliteIndex(root / "search.sqlite")
    index.rebuild([])
    app = create_app(load_config(config), index=index, store=store, settings={"RATE_LIMIT_PER_MINUTE": 0})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture(scope="module")
def portal(tmp_path_factory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("go-portal")
    store, vkey, entries = build_log(root)
    url, stop = serve(root, store)
    try:
        yield {"url": url, "vkey": vkey, "store": store, "entries": entries}
    finally:
        stop()


@pytest.fixture(scope="module")
def tampered(tmp_path_factory) -> Iterator[dict]:
    """The same kind of log, then after signing: entry 300 altered in its bundle, and leaf hash 200
    flipped in the first hash tile (which every proof for an index below 128 passes through)."""
    root = tmp_path_factory.mktemp("go-portal-tampered")
    store, vkey, _ = build_log(root)
    bundle = store.root / "ledger" / "tile" / "entries" / "001"
    bundle.write_bytes(bundle.read_bytes().replace(b'mastodon-300"', b'mastodon-301"', 1))
    level0 = store.root / "ledger" / "tile" / "0" / "000"
    data = bytearray(level0.read_bytes())
    data[200 * 32] ^= 1
    level0.write_bytes(bytes(data))
    url, stop = serve(root, store)
    try:
        yield {"url": url, "vkey": vkey}
    finally:
        stop()


def run(binary: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120)


def test_go_verifies_checkpoint_tiles_and_proofs_from_the_portal(ledgerverify, portal):
    result = run(ledgerverify, "-url", portal["url"], "-key", portal["vkey"], "-tiles",
                 "-index", "0", "-index", "257", "-index", "599", "-old", "300", "-old", "600")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"ok checkpoint origin={ORIGIN} size=600" in out
    assert "ok tiles hash to the checkpoint root" in out
    for index in (0, 257, 599):
        assert f"ok inclusion index={index} size=600" in out
    assert "ok consistency old=300 new=600" in out and "ok consistency old=600 new=600" in out


def test_go_takes_the_key_from_the_portal_when_none_is_given(ledgerverify, portal):
    result = run(ledgerverify, "-url", portal["url"], "-index", "42")
    assert result.returncode == 0, result.stderr
    assert "ok inclusion index=42 size=600" in result.stdout


def test_go_refuses_a_wrong_key(ledgerverify, portal, tmp_path):
    other = log.verifier_key(log.load_or_create_signer(tmp_path / "other.key", ORIGIN))
    result = run(ledgerverify, "-url", portal["url"], "-key", other, "-index", "0")
    assert result.returncode != 0
    assert "checkpoint signature" in result.stderr


def test_go_refuses_tampered_tiles_and_entries(ledgerverify, tampered):
    args = ["-url", tampered["url"], "-key", tampered["vkey"]]
    result = run(ledgerverify, *args, "-index", "100")  # its proof passes through the flipped hash
    assert result.returncode != 0 and "inclusion of 100 in 600" in result.stderr
    result = run(ledgerverify, *args, "-index", "300")  # the proof alone holds: the tree is intact there
    assert result.returncode == 0, result.stderr
    result = run(ledgerverify, *args, "-index", "300", "-tiles")  # but the entry does not hash to its leaf
    assert result.returncode != 0 and "entry 300 does not hash to its leaf hash" in result.stderr


def test_go_refuses_an_unknown_old_checkpoint(ledgerverify, portal):
    result = run(ledgerverify, "-url", portal["url"], "-key", portal["vkey"], "-old", "299")
    assert result.returncode != 0 and "no signed checkpoint of size 299" in result.stderr


# ------------------------------------------------------------------------------------ verify.js


def open_verify(browser, url: str):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script("document.addEventListener('securitypolicyviolation', "
                         "(event) => console.error('CSP ' + event.violatedDirective));")
    page.goto(url)
    page.wait_for_function("document.getElementById('proof-result').className.includes('proof-')", timeout=15000)
    result = page.locator("#proof-result")
    return context, result.get_attribute("class"), result.inner_text(), errors


@pytest.mark.browser
def test_the_browser_checks_the_proof_and_the_signature(browser, portal):
    for index in (0, 257, 599):
        context, classes, text, errors = open_verify(browser, f"{portal['url']}/verify?index={index}")
        context.close()
        assert "proof-ok" in classes, text
        assert "Ed25519 signature verifies" in text and f"entry #{index} is in the log" in text
        assert errors == []  # no script errors, no Content-Security-Policy violations


@pytest.mark.browser
def test_the_browser_flags_an_altered_entry(browser, tampered):
    context, classes, text, errors = open_verify(browser, f"{tampered['url']}/verify?index=300")
    context.close()
    assert "proof-bad" in classes and "does not hash to the leaf hash" in text, text
    context, classes, text, _ = open_verify(browser, f"{tampered['url']}/verify?index=100")
    context.close()
    assert "proof-bad" in classes and "does not lead to the signed checkpoint" in text, text
