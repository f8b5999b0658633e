"""`sunshine recover` on the previous release's archive: the catalog rebuilt from the store alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from archiver.catalog import Catalog
from tests.archiver.catalog_tables import OLD_RELEASE_SKIPPED, differences, tables
from tests.archiver.prev_release import HELD_RECORD, archive_again, extract
from tests.e2e.conftest import sunshine


def _lose_catalog(config: Path) -> Path:
    """Keep the catalog (upgraded to today's schema) aside for comparison, and delete it."""
    catalog = config.parent / "catalog.sqlite"
    Catalog(catalog).close()
    original = config.parent / "original.sqlite"
    shutil.copy(catalog, original)
    catalog.unlink()
    return original


def test_recover_rebuilds_the_catalog_table_by_table_and_archiving_goes_on(tmp_path: Path) -> None:
    config = extract(tmp_path / "archive")
    original = _lose_catalog(config)

    result = sunshine("recover", "-c", str(config), "--quiet")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "22 records, 24 versions" in result.stdout and "1 holds" in result.stdout
    recovered = config.parent / "catalog.sqlite"
    assert differences(original, recovered, OLD_RELEASE_SKIPPED) == {}
    assert tables(recovered)["hold_records"] and tables(recovered)["versions"]
    verified = sunshine("verify", "-c", str(config))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    holds = json.loads(sunshine("hold", "list", "-c", str(config), "--json").stdout)
    assert [hold["record_count"] for hold in holds] == [4] and holds[0]["placed_by"] == "records-clerk"

    again = archive_again(config.parent)

    assert again.returncode == 0, again.stdout + again.stderr
    assert "new 0, edited 0, hidden 0, deleted 0, restored 0" in again.stdout
    assert tables(recovered)["versions"] == tables(original)["versions"]
    assert sunshine("verify", "-c", str(config)).returncode == 0


def test_recover_refuses_an_existing_catalog_unless_forced_then_moves_it_aside(tmp_path: Path) -> None:
    config = extract(tmp_path / "archive")
    catalog = config.parent / "catalog.sqlite"
    before = catalog.read_bytes()

    refused = sunshine("recover", "-c", str(config))

    assert refused.returncode == 2 and "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert catalog.read_bytes() == before
    forced = sunshine("recover", "-c", str(config), "--force", "--quiet")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    aside = list(config.parent.glob("catalog.sqlite.replaced-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == before and aside[0].name in forced.stdout
    Catalog(aside[0]).close()  # upgrade the copy so both have today's tables
    assert differences(aside[0], catalog, OLD_RELEASE_SKIPPED) == {}


def test_only_versions_the_ledger_holds_are_recovered(tmp_path: Path) -> None:
    """A batch that crashed before its commit, and a manifest written twice, leave no version."""
    config = extract(tmp_path / "archive")
    original = _lose_catalog(config)
    store = config.parent / "store"
    manifest = sorted(store.glob("manifests/*/spd-facebook-*.jsonl"))[-1]
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    held = next(line for line in lines if "record" in line)
    crashed = json.loads(json.dumps(held))
    crashed["version"]["version"] += 1  # a capture whose commit never happened: not in the ledger
    crashed["version"]["ledger_index"] = 999
    run = manifest.parent.name
    (store / "manifests" / run / "spd-facebook-00090.jsonl").write_text(json.dumps(crashed) + "\n")
    (store / "manifests" / run / "spd-facebook-00091.jsonl").write_bytes(manifest.read_bytes())  # twice

    result = sunshine("recover", "-c", str(config), "--quiet")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 manifest versions are not in the ledger" in result.stdout
    diff = differences(original, config.parent / "catalog.sqlite", OLD_RELEASE_SKIPPED)
    assert set(diff) == {"objects", "counters"}  # only the two extra manifests, listed as objects
    assert {row[0] for row in diff["objects"][1]} == {f"manifests/{run}/spd-facebook-00090.jsonl",
                                                      f"manifests/{run}/spd-facebook-00091.jsonl"}
    assert not diff["objects"][0]
    assert sunshine("verify", "-c", str(config)).returncode == 0


def test_a_hold_placed_today_comes_back_with_its_reason_and_criteria(tmp_path: Path) -> None:
    config = extract(tmp_path / "archive")
    placed = sunshine("hold", "add", "-c", str(config), "--reason", "PRR-2026-77 (litigation)", "--record",
                      HELD_RECORD, "--no-threads", "--by", "clerk-b")
    assert placed.returncode == 0, placed.stdout + placed.stderr
    documents = sorted((config.parent / "store" / "holds").glob("*.place.json"))
    assert len(documents) == 1
    original = _lose_catalog(config)

    result = sunshine("recover", "-c", str(config), "--quiet")

    assert result.returncode == 0, result.stdout + result.stderr
    assert differences(original, config.parent / "catalog.sqlite", OLD_RELEASE_SKIPPED) == {}
    holds = {hold["placed_by"]: hold for hold in json.loads(
        sunshine("hold", "list", "-c", str(config), "--json").stdout)}
    assert holds["clerk-b"]["reason"] == "PRR-2026-77 (litigation)"
    assert holds["clerk-b"]["criteria"]["record_ids"] == [HELD_RECORD]
    assert holds["clerk-b"]["record_count"] == 1

    # A hold document altered in the store is not believed: the ledger's hash decides.
    document = documents[0]
    document.chmod(0o644)
    document.write_bytes(document.read_bytes().replace(b"PRR-2026-77", b"PRR-0000-00"))
    again = sunshine("recover", "-c", str(config), "--force", "--quiet")
    assert again.returncode == 1, again.stdout + again.stderr  # recovered, with a problem to look at
    assert "does not match the ledger's hash" in again.stdout + again.stderr
    holds = {hold["placed_by"]: hold for hold in json.loads(
        sunshine("hold", "list", "-c", str(config), "--json").stdout)}
    assert "PRR-0000-00" not in holds["clerk-b"]["reason"] and holds["clerk-b"]["record_count"] == 1
