"""The verify page shows the witness policy and who cosigned the latest checkpoint (and says so
loudly when the policy is not met). Cosignatures here are made with keys generated in the test;
the real witness is exercised in tests/archiver/ledger/test_ledger_witness.py."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from archiver.config import load_config
from archiver.ledger import log
from archiver.ledger.cosignature import (
    CosignatureVerifier,
    add_cosignatures,
    cosign,
    cosigner_key_id,
    split_note,
)
from archiver.ledger.log import CHECKPOINT_KEY
from archiver.store.local import LocalStore
from portal import create_app

ORIGIN = "portal-witness-test.example/log"
WHEN = 1767225600  # 2026-01-01 00:00:00 UTC


def witness(name: str) -> tuple[Ed25519PrivateKey, CosignatureVerifier]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private, CosignatureVerifier(name, cosigner_key_id(name, public), public)


def page(tmp_path: Path, cosigners: tuple[str, ...]) -> tuple[str, dict]:
    from indexer.sqlite_fts import SqliteIndex

    keys = {name: witness(f"w.example/{name}") for name in ("w1", "w2", "w3")}
    policy = "".join(f"witness {n} {v.key()}\n" for n, (_, v) in keys.items()) + "group g 2 w1 w2 w3\nquorum g\n"
    (tmp_path / "witnesses.policy").write_text(policy)
    (tmp_path / "sunshine.toml").write_text(
        '[storage]\npath = "store"\n[search]\npath = "search.sqlite"\n'
        f'[ledger]\nname = "{ORIGIN}"\nwitness_policy = "witnesses.policy"\n')
    store = LocalStore(tmp_path / "store")
    signer = log.load_or_create_signer(tmp_path / "ledger.key", ORIGIN)
    log.append_entries(store, 0, [log.entry_for_event("hold", {"hold_id": f"h{i}"}) for i in range(5)])
    kept = log.sign_checkpoint(store, signer, ORIGIN, latest=False)
    text, _ = split_note(kept)
    lines = [cosign(keys[n][1].name, keys[n][0], text, WHEN) for n in cosigners]
    store.put(CHECKPOINT_KEY, add_cosignatures(kept, lines).encode(), replace=True)
    index = SqliteIndex(tmp_path / "search.sqlite")
    index.rebuild([])
    app = create_app(load_config(tmp_path / "sunshine.toml"), index=index, store=store,
                     settings={"RATE_LIMIT_PER_MINUTE": 0})
    response = app.test_client().get("/verify")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True)), keys


def test_the_page_names_each_witness_and_when_it_cosigned(tmp_path):
    body, keys = page(tmp_path, ("w1", "w3"))
    when = datetime.fromtimestamp(WHEN, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert "Policy: 2 of (w1, w2, w3) (met)" in body
    for name in ("w1", "w3"):
        assert keys[name][1].key() in body
        assert f"-witness {keys[name][1].key()}" in body  # the Go command checks who did cosign
    assert body.count(when) == 2 and "no valid cosignature" in body
    assert f"-witness {keys['w2'][1].key()}" not in body
    assert 'role="alert"' not in body


def test_a_checkpoint_short_of_the_policy_is_called_out(tmp_path):
    body, _ = page(tmp_path, ("w2",))
    assert "(<strong>not met</strong>)" in body
    assert "The latest checkpoint is not cosigned as the witness policy requires (2 of (w1, w2, w3))" in body
