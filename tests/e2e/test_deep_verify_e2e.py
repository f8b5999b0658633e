"""`sunshine verify --deep` on the demo department (all eight platforms), through the real CLI.

The demo archive (two rounds: edits, hidden comments and deletions between them) must re-derive
every version from its WARC response, tombstones included. Then, on a copy, one record per platform
has a word of its response rewritten by a forger who also fixes every hash plain `verify` checks:
plain `verify` still passes, `--deep` exits 1 naming exactly those records.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from archiver.canonical import canonical_json
from archiver.catalog import Catalog, NativeVersion
from archiver.store.local import LocalStore
from archiver.warc import read_exchange
from spiders.extract import find_native
from spiders.registry import PLATFORMS
from tests.archiver.warc_tamper import replace_response_body
from tests.e2e.conftest import DemoArchive, sunshine


def verify_json(config: Path, *args: str) -> tuple[int, dict]:
    result = sunshine("verify", "-c", str(config), "--json", *args)
    return result.returncode, json.loads(result.stdout)


def test_the_demo_rederives_every_version_on_every_platform(demo_archive: DemoArchive) -> None:
    code, report = verify_json(demo_archive.config, "--deep")
    assert code == 0 and report["ok"], report["problems"][:5]
    assert report["deep"] is True and report["natives_checked"] == report["versions_checked"] > 0
    catalog = Catalog(demo_archive.data_dir / "catalog.sqlite")
    try:
        checked = list(catalog.undisposed_versions_by_warc())
    finally:
        catalog.close()
    assert {item.platform for item in checked} == set(PLATFORMS)
    assert any(item.version.status == "deleted" for item in checked)  # tombstones re-derived too
    human = sunshine("verify", "-c", str(demo_archive.config), "--deep")
    assert human.returncode == 0 and "every version's content re-derives from its WARC response" in human.stdout
    assert f"re-derived {report['natives_checked']} versions" in human.stdout


def _forge(store: LocalStore, item: NativeVersion) -> bytes | None:
    """The response of `item` with one word of its record changed so that the record's native
    object changes (None if no word does): what a forger rewriting history would do."""
    ref = item.version.warc_ref
    body = read_exchange(store.get_range(ref.key, ref.offset, ref.length)).body
    original = find_native(item.platform, body, item.native_id)
    for word in sorted(set(re.findall(rb"[A-Za-z]{5,}", canonical_json(original))), key=len, reverse=True):
        forged = body.replace(word, word.swapcase())
        if forged != body and find_native(item.platform, forged, item.native_id) not in (None, original):
            return forged
    return None


def test_a_rewritten_response_fails_deep_verify_only_naming_the_record(demo_copy: Path) -> None:
    config = demo_copy / "sunshine.toml"
    catalog, store = Catalog(demo_copy / "catalog.sqlite"), LocalStore(demo_copy / "store")
    try:
        versions = [item for item in catalog.undisposed_versions_by_warc() if item.version.status != "deleted"]
        forged: dict[str, str] = {}
        for platform in sorted(PLATFORMS):  # each source has its own WARCs: one rewrite per WARC object
            for item in (v for v in versions if v.platform == platform):
                body = _forge(store, item)
                if body is not None:
                    replace_response_body(store, catalog, item.version.warc_ref, body)
                    forged[platform] = item.version.record_id
                    break
    finally:
        catalog.close()
    assert set(forged) == set(PLATFORMS), f"no forgeable record on {set(PLATFORMS) - set(forged)}"

    code, plain = verify_json(config)
    assert code == 0 and plain["ok"], plain["problems"][:5]  # every hash plain verify checks holds
    code, deep = verify_json(config, "--deep")
    assert code == 1 and not deep["ok"]
    for platform, record_id in forged.items():
        assert any(f"record {record_id} v" in problem for problem in deep["problems"]), (platform, deep["problems"])
    named = {match for problem in deep["problems"] for match in re.findall(r"record (\S+) v\d+", problem)}
    assert set(forged.values()) <= named
    human = sunshine("verify", "-c", str(config), "--deep")
    assert human.returncode == 1 and f"FAIL record {forged['web']}" in human.stdout
