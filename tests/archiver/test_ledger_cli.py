"""`sunshine ledger checkpoint|key|prove`: the store's answers, byte-identical to the portal's API."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from archiver.cli.ledger import ledger_group
from archiver.config import load_config
from archiver.ledger import log
from archiver.store.local import LocalStore

ORIGIN = "cli-test.example/log"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("ledger-cli")
    config = root / "sunshine.toml"
    config.write_text('[department]\nname = "CLI PD"\n[storage]\npath = "store"\n[search]\npath = "search.sqlite"\n'
                      f'[ledger]\nname = "{ORIGIN}"\n', encoding="utf-8")
    store = LocalStore(root / "store")
    signer = log.load_or_create_signer(root / "ledger.key", ORIGIN)
    entries = [log.entry_for_capture(f"rss-{i}", 1, "2026-01-01T00:00:00Z", f"{i:064x}") for i in range(40)]
    log.append_entries(store, 0, entries[:25])
    log.sign_checkpoint(store, signer, ORIGIN)
    log.append_entries(store, 25, entries[25:])
    log.sign_checkpoint(store, signer, ORIGIN)
    return config, store, log.verifier_key(signer)


@pytest.fixture(scope="module")
def api(archive):
    from indexer.sqlite_fts import SqliteIndex
    from portal import create_app

    config, store, _ = archive
    index = SqliteIndex(config.parent / "search.sqlite")
    index.rebuild([])
    app = create_app(load_config(config), index=index, store=store, settings={"RATE_LIMIT_PER_MINUTE": 0})
    return app.test_client()


def invoke(*args: str):
    return CliRunner().invoke(ledger_group, list(args), catch_exceptions=False)


def test_checkpoint_and_key_are_the_published_ones(archive):
    config, store, vkey = archive
    result = invoke("checkpoint", "-c", str(config))
    assert result.exit_code == 0 and result.output == store.get("ledger/checkpoint").decode()
    result = invoke("key", "-c", str(config))
    assert result.exit_code == 0 and result.output == vkey + "\n"


@pytest.mark.parametrize(("cli", "url"), [
    (["--index", "5"], "/api/v1/proof/inclusion?index=5"),
    (["--index", "0", "--size", "25"], "/api/v1/proof/inclusion?index=0&size=25"),
    (["--index", "39", "--size", "40"], "/api/v1/proof/inclusion?index=39&size=40"),
    (["--old", "25"], "/api/v1/proof/consistency?old=25"),
    (["--old", "3", "--new", "25"], "/api/v1/proof/consistency?old=3&new=25"),
])
def test_proofs_are_byte_identical_to_the_api(archive, api, cli, url):
    config = archive[0]
    result = invoke("prove", "-c", str(config), *cli)
    assert result.exit_code == 0, result.output
    response = api.get(url)
    assert response.status_code == 200
    assert result.output.encode() == response.data


@pytest.mark.parametrize("cli", [[], ["--index", "1", "--old", "2"], ["--size", "3"], ["--new", "4"],
                                 ["--index", "-1"], ["--old", "0"]])
def test_prove_needs_exactly_one_kind_of_proof(archive, cli):
    result = CliRunner().invoke(ledger_group, ["prove", "-c", str(archive[0]), *cli])
    assert result.exit_code == 2 and "Usage" in result.output


@pytest.mark.parametrize("cli", [["--index", "40"], ["--index", "3", "--size", "41"], ["--old", "30", "--new", "20"]])
def test_out_of_range_is_a_user_error(archive, cli):
    from archiver.errors import SunshineError

    with pytest.raises(SunshineError, match="latest checkpoint has 40 entries"):
        invoke("prove", "-c", str(archive[0]), *cli)


def test_an_empty_archive_says_what_to_do(tmp_path):
    from archiver.errors import SunshineError

    config = tmp_path / "sunshine.toml"
    config.write_text('[storage]\npath = "store"\n', encoding="utf-8")
    for args in (["checkpoint"], ["key"], ["prove", "--index", "0"]):
        with pytest.raises(SunshineError, match="archive"):
            invoke(*args, "-c", str(config))
