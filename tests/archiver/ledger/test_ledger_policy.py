"""C2SP tlog-cosignature lines and tlog-policy parsing/evaluation (pure; the real witness is in
test_ledger_witness.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import load_config
from archiver.errors import ConfigError
from archiver.ledger.cosignature import (
    CosignatureVerifier,
    add_cosignatures,
    cosign,
    cosigner_key_id,
    parse_cosigner_key,
    split_note,
    verify_line,
)
from archiver.ledger.note import NoteError, format_checkpoint, generate_signer, sign_note
from archiver.ledger.policy import PolicyError, check_log_listed, evaluate, parse_policy

ORIGIN = "policy-test.example/log"


def witness_key(name: str) -> tuple[Ed25519PrivateKey, CosignatureVerifier]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private, CosignatureVerifier(name, cosigner_key_id(name, public), public)


def signed_checkpoint(size: int = 5, root: bytes = b"\x07" * 32):
    signer = generate_signer(ORIGIN)
    return signer, sign_note(format_checkpoint(ORIGIN, size, root), [signer])


def test_cosigner_key_round_trips_and_refuses_a_log_key():
    _, verifier = witness_key("w.example/one")
    assert parse_cosigner_key(verifier.key()) == verifier
    log_key = generate_signer("w.example/one").verifier().key()  # type 0x01: a log key, not a witness's
    with pytest.raises(NoteError, match="cosignature/v1"):
        parse_cosigner_key(log_key)
    tampered = verifier.key()[:-6] + ("AAAAAA" if not verifier.key().endswith("AAAAAA") else "BBBBBB")
    with pytest.raises(NoteError):
        parse_cosigner_key(tampered)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 2**40), root=st.binary(min_size=32, max_size=32), timestamp=st.integers(0, 2**63 - 1))
def test_a_cosignature_verifies_only_on_its_own_checkpoint_and_key(size, root, timestamp):
    private, verifier = witness_key("w.example/h")
    text = format_checkpoint(ORIGIN, size, root)
    line = cosign(verifier.name, private, text, timestamp)
    assert verify_line(verifier, text, line) == timestamp
    other_text = format_checkpoint(ORIGIN, size + 1, root)
    assert verify_line(verifier, other_text, line) is None
    _, other = witness_key("w.example/h")
    assert verify_line(other, text, line) is None
    flipped = line[:-6] + ("A" if line[-6] != "A" else "B") + line[-5:]
    assert verify_line(verifier, text, flipped) is None


def test_the_signed_message_is_the_specs(tmp_path):
    """cosignature/v1, the time line, then the checkpoint body: checked by hand with the raw key."""
    private, verifier = witness_key("w.example/m")
    text = format_checkpoint(ORIGIN, 3, b"\x01" * 32)
    line = cosign(verifier.name, private, text, 1679315147)
    import base64
    blob = base64.b64decode(line.split(" ")[2])
    assert blob[:4] == verifier.key_id.to_bytes(4, "big") and int.from_bytes(blob[4:12], "big") == 1679315147
    private.public_key().verify(blob[12:], f"cosignature/v1\ntime 1679315147\n{text}".encode())


def test_add_cosignatures_keeps_the_log_signature_first_and_each_line_once():
    _, note = signed_checkpoint()
    private, verifier = witness_key("w.example/a")
    text, lines = split_note(note)
    line = cosign(verifier.name, private, text, 100)
    cosigned = add_cosignatures(note, [line, line])
    assert cosigned.startswith(note) and cosigned.count(line) == 1
    assert add_cosignatures(cosigned, [line]) == cosigned


def policy_text(witnesses: dict[str, CosignatureVerifier], extra: str) -> str:
    lines = [f"witness {name} {verifier.key()} http://127.0.0.1:1/{name}" for name, verifier in witnesses.items()]
    return "# comment\n\n" + "\n".join(lines) + "\n" + extra


def test_groups_thresholds_and_quorum_are_evaluated_on_real_cosignatures():
    keys = {name: witness_key(f"w.example/{name}") for name in ("x1", "x2", "x3", "y1")}
    policy = parse_policy(policy_text({n: v for n, (_, v) in keys.items()},
                                      "group X 2 x1 x2 x3\ngroup XY all X y1\nquorum XY\n"))
    _, note = signed_checkpoint()
    text, _ = split_note(note)

    def with_cosigners(*names: str) -> str:
        return add_cosignatures(note, [cosign(keys[n][1].name, keys[n][0], text, 1000 + i) for i, n in enumerate(names)])

    assert policy.needs_cosigning and policy.describe() == "2 of (2 of (x1, x2, x3), y1)"
    assert not evaluate(policy, note).met
    assert not evaluate(policy, with_cosigners("x1", "x2")).met
    assert not evaluate(policy, with_cosigners("x1", "y1")).met
    result = evaluate(policy, with_cosigners("x1", "x3", "y1"))
    assert result.met and set(result.cosigners) == {"x1", "x3", "y1"}
    # a line by a key the policy does not list, or a forged one, counts for nothing
    stranger_private, stranger = witness_key("w.example/x2")
    forged = add_cosignatures(with_cosigners("x1", "y1"), [cosign(stranger.name, stranger_private, text, 5)])
    assert not evaluate(policy, forged).met


@pytest.mark.parametrize("text, message", [
    ("witness w1 {k1}\n", "no `quorum` line"),
    ("witness w1 {k1}\nquorum w1\nquorum w1\n", "second quorum"),
    ("witness w1 {k1}\nquorum w2\n", "not a witness or group defined above"),
    ("quorum g\ngroup g any w1\nwitness w1 {k1}\n", "line 1: quorum 'g'"),
    ("witness w1 {k1}\nwitness w2 {k1}\nquorum w1\n", "same public key"),
    ("witness w1 {k1}\ngroup g 2 w1\nquorum g\n", "threshold '2'"),
    ("witness w1 {k1}\ngroup g any w1\ngroup h any w1\nquorum h\n", "already a group member"),
    ("witness none {k1}\nquorum none\n", "reserved"),
    ("witnes w1 {k1}\nquorum none\n", "line 1: expected"),
    ("witness w1 {log}\nquorum w1\n", "line 1: witness key"),
    ("witness w1 {k1}\x0b\nquorum w1\n", "control character"),
])
def test_malformed_policies_name_the_line(text, message):
    _, k1 = witness_key("w.example/1")
    log = generate_signer("w.example/1").verifier().key()
    with pytest.raises(PolicyError, match=message.replace("(", r"\(")) as info:
        parse_policy(text.format(k1=k1.key(), log=log), "policy.txt")
    assert str(info.value).startswith("policy.txt")


def test_quorum_none_needs_no_cosignature_and_listed_logs_must_include_ours():
    signer, note = signed_checkpoint()
    policy = parse_policy(f"log {signer.verifier().key()}\nquorum none\n")
    assert not policy.needs_cosigning and evaluate(policy, note).met
    check_log_listed(policy, signer.verifier())
    with pytest.raises(PolicyError, match="not this log's key"):
        check_log_listed(policy, generate_signer(ORIGIN).verifier())


def test_config_takes_the_policy_inline_or_from_a_file(tmp_path: Path):
    _, verifier = witness_key("w.example/c")
    text = f"witness w {verifier.key()} http://127.0.0.1:7380\nquorum w\n"
    (tmp_path / "witnesses.policy").write_text(text)
    config_path = tmp_path / "sunshine.toml"
    config_path.write_text('[ledger]\nwitness_policy = "witnesses.policy"\n')
    policy = load_config(config_path).witness_policy
    assert policy is not None and policy.witnesses[0].url == "http://127.0.0.1:7380"
    config_path.write_text(f'[ledger]\nwitness_policy = """\n{text}"""\n')
    assert load_config(config_path).witness_policy.witnesses[0].verifier == verifier
    config_path.write_text('[ledger]\nwitness_policy = """\nwitness w nope\nquorum w\n"""\n')
    with pytest.raises(ConfigError, match=r"sunshine.toml: ledger.witness_policy, line 1: malformed witness key"):
        load_config(config_path)
    config_path.write_text('[ledger]\nwitness_policy = "missing.policy"\n')
    with pytest.raises(ConfigError, match=r"ledger.witness_policy file .*missing.policy: cannot be read"):
        load_config(config_path)
