"""`sunshine demo` and the CLI as a user meets it (issue 2, "Must show").

One `sunshine demo --data DIR --scale 400 --steps 2 --seed 3` run (the session's `demo_archive`)
is compared with the simulator's ground truth for the same seed and number of steps: every record
the platforms still show is archived, the ones edited, hidden or deleted between the rounds carry
that status, and `sunshine verify` passes. Every command's `--help` must work and explain itself.
"""

from __future__ import annotations

import re
import subprocess

import click
import pytest

from archiver.cli import main
from archiver.model import make_record_id
from tests.e2e.conftest import DemoArchive, catalog_query, sunshine


def _catalog_status(demo: DemoArchive) -> dict[str, str]:
    return dict(catalog_query(demo.data_dir, "SELECT record_id, status FROM records"))


def test_demo_exits_0_writes_config_and_prints_a_summary(demo_archive: DemoArchive) -> None:
    out = demo_archive.result.stdout
    assert demo_archive.config.is_file()
    assert "[[sources]]" in demo_archive.config.read_text(encoding="utf-8")
    summary = re.search(r"archived ([\d,]+) records \(.*\) with ([\d,]+) versions", out)
    assert summary, out
    records, versions = (int(group.replace(",", "")) for group in summary.groups())
    assert records == len(_catalog_status(demo_archive))
    assert versions == catalog_query(demo_archive.data_dir, "SELECT COUNT(*) FROM versions")[0][0]
    assert re.search(r"status: .*deleted [\d,]+.*edited [\d,]+", out), out
    assert f"sunshine verify -c {demo_archive.config}" in out
    assert out.count("round ") >= 2


def test_demo_archive_matches_the_simulators_ground_truth(demo_archive: DemoArchive) -> None:
    world = demo_archive.world
    status = _catalog_status(demo_archive)
    live = world.records()
    # Every record the platforms still show is archived; the archive also keeps the deleted ones.
    missing = [r.native_id for r in live if make_record_id(r.platform, r.native_id) not in status]
    assert not missing, f"{len(missing)} live simulator records not archived, e.g. {missing[:3]}"
    every = {make_record_id(r.platform, r.native_id) for r in world.records(include_deleted=True)}
    assert set(status) <= every, f"records the simulator never had: {sorted(set(status) - every)[:3]}"
    assert len(live) <= len(status) <= len(live) + len(world.changes[1].deleted)

    step = world.changes[1]
    archived_before = {make_record_id(*ref) for ref in world.changes[0].new}
    for refs, expected in ((step.edited, "edited"), (step.deleted, "deleted"), (step.hidden, "hidden")):
        ids = [make_record_id(*ref) for ref in refs if make_record_id(*ref) in archived_before]
        assert ids, f"the demo world changed no {expected} records; pick another seed"
        wrong = {rid: status.get(rid) for rid in ids if status.get(rid) != expected}
        assert not wrong, f"expected status {expected}: {wrong}"
    counts = {value: list(status.values()).count(value) for value in set(status.values())}
    assert counts.get("edited", 0) > 0 and counts.get("deleted", 0) > 0, counts


def test_every_version_is_in_the_ledger_exactly_once(demo_archive: DemoArchive) -> None:
    rows = catalog_query(demo_archive.data_dir, "SELECT ledger_index FROM versions ORDER BY ledger_index")
    indexes = [row[0] for row in rows]
    assert indexes == list(range(len(indexes)))
    assert catalog_query(demo_archive.data_dir, "SELECT COUNT(*) FROM ledger WHERE published = 1")[0][0] == len(rows)


def test_verify_passes_on_the_demo_archive(demo_archive: DemoArchive) -> None:
    result = sunshine("verify", "-c", str(demo_archive.config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
    versions = catalog_query(demo_archive.data_dir, "SELECT COUNT(*) FROM versions")[0][0]
    assert f"{versions} versions" in result.stdout


def test_no_token_is_written_into_the_archive(demo_archive: DemoArchive) -> None:
    """A source's token travels in a header; the WARCs keep the exchange but never the secret.

    A WARC is named for its source (`<source>-NNNNN.warc.gz`): one whose source names a `token_env`
    holds the (redacted) Authorization header, one whose source has no token holds none.
    """
    import gzip

    from archiver.config import load_config

    token_envs = {source.name: source.token_env for source in load_config(demo_archive.config).sources}
    seen = set()
    for path in (demo_archive.data_dir / "store" / "warc").rglob("*.warc.gz"):
        source = path.name.rsplit("-", 1)[0]
        assert source in token_envs, path
        seen.add(source)
        data = gzip.decompress(path.read_bytes())
        assert (b"Authorization" in data) == bool(token_envs[source]), path
        assert b"sim-token" not in data, path
    assert seen == set(token_envs)  # every source's exchanges were looked at
    assert any(token_envs.values()) and not all(token_envs.values()), token_envs  # both kinds were checked


def test_serve_answers_over_http(demo_archive: DemoArchive) -> None:
    """`sunshine serve` is a real HTTP server on 127.0.0.1 over the demo archive."""
    import json
    import socket
    import sys
    import time
    import urllib.request

    from tests.e2e.conftest import REPO

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "archiver.cli", "serve", "-c", str(demo_archive.config),
                               "--port", str(port)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as answer:
                    assert answer.read() == b"ok\n"
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode(errors="replace")
                assert time.monotonic() < deadline, "sunshine serve did not answer within 60 s"
                time.sleep(0.2)
        with urllib.request.urlopen(base + "/api/v1/search?status=deleted", timeout=10) as answer:
            data = json.loads(answer.read())
        deleted = catalog_query(demo_archive.data_dir, "SELECT COUNT(*) FROM records WHERE status = 'deleted'")
        assert data["total"] == deleted[0][0]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


def test_the_installed_entry_point_lists_every_command() -> None:
    result = subprocess.run(["sunshine", "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Usage: sunshine" in result.stdout
    for name in main.commands:
        assert re.search(rf"^\s+{name}\s+\S", result.stdout, re.M), f"`{name}` not listed:\n{result.stdout}"


@pytest.mark.parametrize("path", [path for path, _command in _commands(main)], ids=" ".join)
def test_help_of_every_command_works_and_explains(path: tuple[str, ...]) -> None:
    result = sunshine(*path, "--help", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: python -m archiver.cli {' '.join(path)}")
    command = dict(_commands(main))[path]
    summary = (command.help or "").strip().splitlines()[0]
    assert len(summary.split()) >= 2, f"`sunshine {' '.join(path)}` has no real description"
    assert summary.split()[0] in result.stdout
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.opts[-1] in result.stdout


def test_every_option_has_help_text() -> None:
    bare = [f"sunshine {' '.join(path)} {param.opts[-1]}"
            for path, command in _commands(main) for param in command.params
            if isinstance(param, click.Option) and not param.help]
    assert not bare, f"options without help text: {bare}"


def test_a_missing_config_is_one_actionable_line_not_a_traceback(tmp_path) -> None:
    result = sunshine("verify", "-c", str(tmp_path / "nowhere.toml"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "nowhere.toml" in result.stderr and "config file not found" in result.stderr
