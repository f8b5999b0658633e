"""The portal's ledger area on a real log in a `LocalStore`: raw objects byte for byte, proofs that
verify with our RFC 9162 checks, 400s (never 500s) for junk parameters, and the verify page.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.config import load_config
from archiver.ledger import log, merkle
from archiver.ledger.note import open_note, parse_checkpoint, parse_verifier_key
from archiver.store.local import LocalStore
from portal import create_app

ORIGIN = "portal-test.example/log"
SIZES = (300, 600)


def make_app(root: Path, store: LocalStore):
    from indexer.sqlite_fts import SqliteIndex

    config = root / "sunshine.toml"
    config.write_text('[department]\nname = "Springfield Police Department"\n[storage]\npath = "store"\n'
                      '[search]\npath = "search.sqlite"\n', encoding="utf-8")
    index = SqliteIndex(root / "search.sqlite")
    index.rebuild([])
    return create_app(load_config(config), index=index, store=store, settings={"RATE_LIMIT_PER_MINUTE": 0})


def entries(count: int) -> list[bytes]:
    return [log.entry_for_capture(f"bluesky-post{i}", 1 + i % 3, "2026-01-01T00:00:00Z", f"{i:064x}")
            for i in range(count)]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("ledger-portal")
    store = LocalStore(root / "store")
    signer = log.load_or_create_signer(root / "keys" / "ledger.key", ORIGIN)
    all_entries = entries(SIZES[-1])
    log.append_entries(store, 0, all_entries[:SIZES[0]])
    log.sign_checkpoint(store, signer, ORIGIN)
    for start in range(SIZES[0], SIZES[1], 70):  # uneven batches: many partial tiles
        log.append_entries(store, start, all_entries[start:min(start + 70, SIZES[1])])
    log.sign_checkpoint(store, signer, ORIGIN)
    app = make_app(root, store)
    return {"store": store, "app": app, "vkey": log.verifier_key(signer), "entries": all_entries,
            "roots": {size: merkle.root_from_leaf_hashes([merkle.leaf_hash(e) for e in all_entries[:size]])
                      for size in SIZES}}


@pytest.fixture()
def client(ledger):
    return ledger["app"].test_client()


# ------------------------------------------------------------------------------------ raw objects

def test_checkpoint_is_the_stored_signed_note(client, ledger):
    response = client.get("/ledger/checkpoint")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "max-age=" in response.headers["Cache-Control"] and "immutable" not in response.headers["Cache-Control"]
    assert response.data == ledger["store"].get("ledger/checkpoint")
    note = open_note(response.get_data(as_text=True), [parse_verifier_key(ledger["vkey"])])
    checkpoint = parse_checkpoint(note.text)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (ORIGIN, 600, ledger["roots"][600])


def test_kept_checkpoints_and_key(client, ledger):
    kept = client.get("/ledger/checkpoints/300")
    assert kept.status_code == 200 and kept.data == ledger["store"].get("ledger/checkpoints/300")
    assert "immutable" in kept.headers["Cache-Control"]
    for bad in ("0300", "301", "-1", "abc", "1" * 40):
        assert client.get(f"/ledger/checkpoints/{bad}").status_code == 404
    key = client.get("/ledger/key")
    assert key.status_code == 200 and key.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert key.get_data(as_text=True).strip() == ledger["vkey"]
    assert key.data == ledger["store"].get("ledger/key")


def test_every_stored_tile_is_served_byte_identical(client, ledger):
    store = ledger["store"]
    keys = [obj.key for obj in store.list("ledger/tile/")]
    assert any(".p/" in key for key in keys) and any("entries" in key for key in keys)
    for key in keys:
        response = client.get("/" + key)
        assert response.status_code == 200, key
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.data == store.get(key), key
        immutable = "immutable" in response.headers["Cache-Control"]
        assert immutable == (".p/" not in key), key
    head = client.head("/ledger/tile/0/000")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(256 * 32)


def test_a_partial_tile_replaced_by_its_full_tile_is_its_prefix(client, ledger):
    store = ledger["store"]
    assert not store.exists("ledger/tile/0/000.p/5")
    response = client.get("/ledger/tile/0/000.p/5")
    assert response.status_code == 200 and response.data == store.get("ledger/tile/0/000")[:5 * 32]
    bundle = client.get("/ledger/tile/entries/000.p/3")
    assert bundle.status_code == 200
    from archiver.ledger.tiles import decode_entry_bundle

    assert decode_entry_bundle(bundle.data) == ledger["entries"][:3]
    # no full tile yet: the next wider partial one (tile 0/002 was published at widths 68 and 88)
    assert not store.exists("ledger/tile/0/002.p/60")
    narrow = client.get("/ledger/tile/0/002.p/60")
    assert narrow.status_code == 200 and narrow.data == store.get("ledger/tile/0/002.p/68")[:60 * 32]
    assert decode_entry_bundle(client.get("/ledger/tile/entries/002.p/70").data) == ledger["entries"][512:582]
    assert client.get("/ledger/tile/0/002.p/89").status_code == 404


class UnlistableStore(LocalStore):
    """A public request must cost bounded work: listing the store (every tile ever published) is not."""

    def list(self, prefix: str = ""):
        raise AssertionError(f"the portal listed the store under {prefix!r}")


def test_partial_tiles_are_served_without_listing_the_store(ledger):
    """Every right-edge tile of every tree size up to the latest checkpoint, stored or not, is
    served byte-identical to the tile computed from the entries alone, with no `store.list`."""
    store = UnlistableStore(ledger["store"].root)
    client = make_app(ledger["store"].root.parent, store).test_client()
    entries_all = ledger["entries"]
    rows = [b"".join(merkle.leaf_hash(entry) for entry in entries_all)]
    while len(rows) < 2:  # level 1 of the tiles: the roots of complete 256-leaf subtrees
        rows.append(b"".join(merkle.root_from_leaf_hashes([rows[0][i:i + 32] for i in range(at, at + 256 * 32, 32)])
                             for at in range(0, len(rows[0]) - 256 * 32 + 1, 256 * 32)))
    from archiver.ledger.tiles import encode_entry_bundle, right_edge_tiles

    served = 0
    for size in range(1, SIZES[-1] + 1):
        for ref in right_edge_tiles(size):
            start = ref.index * 256
            expected = rows[ref.level][start * 32:(start + ref.width) * 32]
            response = client.get("/ledger/" + ref.path)
            assert response.status_code == 200 and response.data == expected, ref.path
            served += 1
        if size % 256:
            bundle = client.get(f"/ledger/tile/entries/{size // 256:03d}.p/{size % 256}")
            expected_bundle = encode_entry_bundle(entries_all[size // 256 * 256:size])
            assert bundle.status_code == 200 and bundle.data == expected_bundle, size
    assert served > SIZES[-1]
    assert client.get("/ledger/tile/0/002.p/89").status_code == 404  # wider than anything signed


@pytest.mark.parametrize("path", [
    "0/003", "0/003.p/5", "0/000.p/256", "0/000.p/0", "0/000.p/05", "0/x000/001", "0/1", "0/0000",
    "entries/009", "a/000", "0/000/", "../key", "0/../../key", "1000/000", "01/000", "0", "entries",
])
def test_invalid_or_unpublished_tiles_are_404(client, path):
    response = client.get(f"/ledger/tile/{path}")
    assert response.status_code == 404, path


# ------------------------------------------------------------------------------------ proofs

@pytest.mark.parametrize(("index", "size"), [(0, 600), (255, 600), (256, 600), (599, 600), (17, 300),
                                             (299, 300), (0, 1), (300, 301), (511, 512)])
def test_inclusion_proofs_verify(client, ledger, index, size):
    response = client.get(f"/api/v1/proof/inclusion?index={index}&size={size}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert list(body) == ["index", "size", "leaf_hash", "proof", "root"]
    assert (body["index"], body["size"]) == (index, size)
    leaf = bytes.fromhex(body["leaf_hash"])
    assert leaf == merkle.leaf_hash(ledger["entries"][index])
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(e) for e in ledger["entries"][:size]])
    assert bytes.fromhex(body["root"]) == root
    merkle.verify_inclusion(index, size, leaf, [bytes.fromhex(h) for h in body["proof"]], root)
    assert "immutable" in response.headers["Cache-Control"]


def test_inclusion_size_defaults_to_the_latest_checkpoint(client, ledger):
    body = client.get("/api/v1/proof/inclusion?index=42").get_json()
    assert body["size"] == 600 and bytes.fromhex(body["root"]) == ledger["roots"][600]


@pytest.mark.parametrize(("old", "new"), [(300, 600), (1, 600), (256, 600), (599, 600), (600, 600), (7, 300)])
def test_consistency_proofs_verify(client, ledger, old, new):
    response = client.get(f"/api/v1/proof/consistency?old={old}&new={new}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert list(body) == ["old", "new", "proof"] and (body["old"], body["new"]) == (old, new)
    leaves = [merkle.leaf_hash(e) for e in ledger["entries"]]
    merkle.verify_consistency(old, new, merkle.root_from_leaf_hashes(leaves[:old]),
                              merkle.root_from_leaf_hashes(leaves[:new]),
                              [bytes.fromhex(h) for h in body["proof"]])
    default = client.get(f"/api/v1/proof/consistency?old={old}").get_json()
    if new == 600:
        assert default == body


@pytest.mark.parametrize("query", [
    "", "index=", "index=-1", "index=abc", "index=1.5", "index=0x10", "index=01", "index=600",
    "index=5&size=601", "index=5&size=5", "index=5&size=0", "index=99999999999999999999999999",
    "index=%00", "index=%E2%80%AE1",
])
def test_bad_inclusion_parameters_are_400_json(client, query):
    response = client.get(f"/api/v1/proof/inclusion?{query}")
    assert response.status_code == 400, query
    assert isinstance(response.get_json()["error"], str) and response.get_json()["error"]


@pytest.mark.parametrize("query", ["", "old=0&new=600", "old=601&new=600", "old=5&new=601", "old=x",
                                   "old=5&new=-3", "new=5"])
def test_bad_consistency_parameters_are_400_json(client, query):
    response = client.get(f"/api/v1/proof/consistency?{query}")
    assert response.status_code == 400, query
    assert response.get_json()["error"]


_junk = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.integers(min_value=-5, max_value=2000).map(str),
    st.integers(min_value=0, max_value=10**30).map(str),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=_junk, second=st.one_of(st.none(), _junk), route=st.sampled_from(["inclusion", "consistency"]))
def test_junk_parameters_never_500(ledger, first, second, route):
    names = ("index", "size") if route == "inclusion" else ("old", "new")
    args = {names[0]: first} | ({} if second is None else {names[1]: second})
    response = ledger["app"].test_client().get(f"/api/v1/proof/{route}", query_string=args)
    assert response.status_code in (200, 400), (args, response.status_code)
    body = response.get_json()
    if response.status_code == 400:
        assert body["error"]
    elif route == "inclusion":
        leaves = [merkle.leaf_hash(e) for e in ledger["entries"][:body["size"]]]
        merkle.verify_inclusion(body["index"], body["size"], leaves[body["index"]],
                                [bytes.fromhex(h) for h in body["proof"]], merkle.root_from_leaf_hashes(leaves))


# ------------------------------------------------------------------------------------ the page

def test_verify_page_shows_key_checkpoint_and_commands(client, ledger):
    response = client.get("/verify")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert ledger["vkey"] in page
    assert ledger["store"].get("ledger/checkpoint").decode() in page
    assert ledger["roots"][600].hex() in page
    for command in ("curl -s \"$SITE/ledger/checkpoint\"", "go run . -url", "sunshine verify", "sha256sum",
                    "/api/v1/proof/inclusion?index=0&size=600", "/api/v1/proof/consistency?old=OLD&new=600"):
        assert command in page, command
    assert f"-key {ledger['vkey']}" in page  # a verifier key needs no shell quoting
    assert "proof-check" not in page  # no proof asked for


def test_verify_page_with_an_index_shows_the_proof_without_javascript(client, ledger):
    response = client.get("/verify?index=257")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    page = html.unescape(text)
    proof = client.get("/api/v1/proof/inclusion?index=257").get_json()
    for value in [proof["leaf_hash"], proof["root"], *proof["proof"]]:
        assert value in page
    assert ledger["entries"][257].decode() in page
    assert f'data-entry="{ledger["entries"][257].hex()}"' in text
    assert "curl -s 'https://THIS-SITE/records/bluesky-post257/raw?version=3' | sha256sum" in page
    assert f"# expected: {257:064x}" in page
    # the only script is our own file (CSP script-src 'self': no inline code)
    scripts = re.findall(r"<script[^>]*>", text)
    assert scripts == ['<script src="/static/verify.js" defer>']
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert client.get("/static/verify.js").status_code == 200


@pytest.mark.parametrize("query", ["index=abc", "index=-1", "index=600", "index=" + "9" * 30])
def test_verify_page_rejects_bad_indexes_with_a_400_page(client, query):
    response = client.get(f"/verify?{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")


def test_shell_commands_quote_a_hostile_host_header(client):
    from portal.ledger import shell_quote

    response = client.get("/verify", headers={"Host": "evil.example;rm -rf ~"})
    assert response.status_code in (200, 400)
    page = html.unescape(response.get_data(as_text=True))
    assert not re.search(r"SITE=[^'\n]*;rm", page)
    assert shell_quote("http://evil.example;rm -rf ~") == "'http://evil.example;rm -rf ~'"


def test_navigation_links_to_the_verify_page(client):
    assert 'href="/verify"' in client.get("/").get_data(as_text=True)


# ------------------------------------------------------------------------------------ empty / damaged

def test_an_empty_log_answers_404s_and_an_explaining_page(tmp_path):
    app = make_app(tmp_path, LocalStore(tmp_path / "store"))
    client = app.test_client()
    assert client.get("/ledger/checkpoint").status_code == 404
    assert client.get("/ledger/key").status_code == 404
    assert client.get("/ledger/tile/0/000").status_code == 404
    response = client.get("/api/v1/proof/inclusion?index=0")
    assert response.status_code == 404 and response.get_json()["error"]
    assert client.get("/api/v1/proof/inclusion?index=0&size=1").status_code == 400
    assert client.get("/api/v1/proof/consistency?old=1").status_code == 404
    page = client.get("/verify")
    assert page.status_code == 200 and "no signed checkpoint yet" in page.get_data(as_text=True)
    assert client.get("/verify?index=0").status_code == 404


def test_a_damaged_log_is_a_503_naming_no_internals(tmp_path):
    store = LocalStore(tmp_path / "store")
    signer = log.load_or_create_signer(tmp_path / "ledger.key", ORIGIN)
    log.append_entries(store, 0, entries(20))
    log.sign_checkpoint(store, signer, ORIGIN)
    store.delete("ledger/tile/0/000.p/20")
    client = make_app(tmp_path, store).test_client()
    response = client.get("/api/v1/proof/inclusion?index=3")
    assert response.status_code == 503 and response.get_json()["error"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert client.get("/verify?index=3").status_code == 503


def test_a_latest_checkpoint_that_does_not_parse_is_a_503_not_a_500(tmp_path):
    store = LocalStore(tmp_path / "store")
    signer = log.load_or_create_signer(tmp_path / "ledger.key", ORIGIN)
    log.append_entries(store, 0, entries(5))
    log.sign_checkpoint(store, signer, ORIGIN)
    store.put("ledger/checkpoint", b"not a checkpoint\n", replace=True)
    client = make_app(tmp_path, store).test_client()
    for route in ("/api/v1/proof/inclusion?index=1", "/api/v1/proof/consistency?old=1"):
        response = client.get(route)
        assert response.status_code == 503 and "Traceback" not in response.get_data(as_text=True), route


def test_a_checkpoint_that_does_not_verify_is_flagged_on_the_page(tmp_path):
    store = LocalStore(tmp_path / "store")
    signer = log.load_or_create_signer(tmp_path / "ledger.key", ORIGIN)
    log.append_entries(store, 0, entries(3))
    text = log.sign_checkpoint(store, signer, ORIGIN)
    store.put("ledger/checkpoint", text.replace("\n3\n", "\n2\n").encode(), replace=True)
    page = make_app(tmp_path, store).test_client().get("/verify").get_data(as_text=True)
    assert "does not verify with the published key" in page
