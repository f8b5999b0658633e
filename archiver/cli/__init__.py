"""`sunshine`: the one command-line entry point (DESIGN §3).

Thin by design (STYLE.md): parse, call one core function, print. A `SunshineError` is a problem the
user can fix and is printed as one line without a traceback; anything else is a bug and keeps one.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from archiver.cli.options import config_option
from archiver.config import Config, load_config
from archiver.errors import SunshineError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SunshineError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log more detail (to stderr).")
def main(verbose: bool) -> None:
    """Sunshine: archive a department's social media, verifiably, and publish it for the public.

    Everything posted, and every reply under it, is captured as the exact HTTP exchange, hashed,
    versioned (edits and deletions never overwrite), logged in a public Merkle ledger, indexed and
    served read-only by the portal. Start with `sunshine demo --serve`.
    """
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.root.handlers:  # libraries that raise their own loggers' levels stay quiet too
        handler.setLevel(level)
    # The Elasticsearch client logs each retry with a full traceback; the outcome is reported once.
    logging.getLogger("elastic_transport").setLevel(logging.INFO if verbose else logging.ERROR)


def _config(path: str | None) -> Config:
    return load_config(path)


@main.command()
@config_option
@click.option("--source", default=None, help="Archive only this configured source (by name).")
@click.option("--quiet", is_flag=True, help="No progress display.")
def archive(config_path: str | None, source: str | None, quiet: bool) -> None:
    """One archiving run of all (or one) configured sources.

    Resumable: a run that was interrupted is continued, and nothing is stored twice. Exits 0 only if
    every capture was stored and verified; failed captures and captures still spooled for S3 are
    listed and make the exit code 1. A source that paused because a platform budget (rate limit,
    daily quota) ran out is named with what was deferred; if nothing failed the exit code is 3, and
    the next run resumes it.
    """
    from archiver.cli.wiring import archive as run_archive
    from archiver.progress import counting_progress

    config = _config(config_path)
    with counting_progress("archiving", "records", disable=quiet) as advance:
        result = run_archive(config, source, progress=advance)
    _print_run(result)
    if result.exit_status:
        sys.exit(result.exit_status)


def _print_run(result) -> None:
    stats = result.stats
    click.echo(
        f"run {result.run_id}{' (resumed)' if result.resumed else ''}: {stats.captures} captures, "
        f"{stats.records_seen} records seen; new {stats.new}, edited {stats.edited}, hidden {stats.hidden}, "
        f"deleted {stats.deleted}, restored {stats.restored}, unchanged {stats.unchanged}; "
        f"{stats.objects_written} objects written ({stats.bytes_written:,} bytes)"
    )
    if result.checkpoint:
        click.echo("checkpoint: " + result.checkpoint.splitlines()[1] + " entries")
    if stats.index_lagging:
        click.secho(f"search index behind by {stats.index_lagging} records; it catches up on the next run "
                    f"(or `sunshine reindex`)", fg="yellow", err=True)
    if result.spooled:
        click.secho(f"{result.spooled} objects are safely spooled locally but not yet in S3; "
                    f"run `sunshine sync` or archive again when S3 is back", fg="yellow", err=True)
    # a source stopped on refused credentials gets one line (naming the variable to renew), not
    # one more per capture the refusal failed
    stopped = {outcome.source for outcome in result.sources if outcome.status == "stopped"}
    for outcome in result.sources:
        if outcome.status in ("paused", "stopped"):
            failed = sum(1 for source, _text in stats.failures if source == outcome.source and source in stopped)
            extra = f" ({failed} failed capture{'s' if failed != 1 else ''})" if failed else ""
            click.secho(outcome.detail + extra, fg="yellow" if outcome.status == "paused" else "red", err=True)
    for url, reason in stats.media_problems[:20]:
        click.secho(f"media {reason}: {url}", fg="yellow", err=True)
    listed = [text for source, text in stats.failures if source not in stopped]
    for failure in listed[:20]:
        click.secho(f"failed capture: {failure}", fg="red", err=True)
    if len(listed) > 20:
        click.secho(f"... and {len(listed) - 20} more failed captures", fg="red", err=True)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--workers", default=16, show_default=True, help="Objects read and re-hashed at once.")
@click.option("--deep", is_flag=True,
              help="Also re-extract every version's native object from its WARC response and check its hash.")
def verify(config_path: str | None, as_json: bool, workers: int, deep: bool) -> None:
    """Re-hash every stored object against the catalog and check the ledger.

    With --deep, also re-derive every version's content from the original HTTP response in its WARC
    with the platform's rule (a tombstone: the platform's stored "gone" answer) and check it hashes
    to the version's content_sha256. Exits 0 only if everything holds, 1 naming each damaged,
    missing, unlogged or non-matching object or record, 2 for a problem that stopped it (a bad
    config, a bucket that does not exist or refuses the credentials). A verify that could check
    nothing is never OK: without a catalog only the store's ledger is checked (run `sunshine
    recover`), and an empty archive is "nothing to verify".
    """
    from archiver.progress import byte_progress, counting_progress
    from archiver.run import open_archive_store
    from archiver.verify import verify_archive, verify_natives

    config = _config(config_path)
    store = open_archive_store(config)
    with byte_progress("verifying", disable=as_json) as advance:
        report = verify_archive(config, store, workers=workers, progress=advance)
    if deep:
        from archiver.cli.wiring import native_extractor

        with counting_progress("re-extracting from WARC responses", "versions", disable=as_json) as advance:
            verify_natives(config, store, native_extractor(), report, progress=advance)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(f"checked {report.objects_checked} objects ({report.bytes_checked:,} bytes), "
                   f"{report.versions_checked} versions, {report.ledger_entries_checked} ledger entries"
                   + (f"; re-derived {report.natives_checked} versions from their WARC responses" if deep else ""))
        for key in report.spooled:
            click.secho(f"spooled, not yet uploaded: {key}", fg="yellow")
        for problem in report.problems:
            click.secho(f"FAIL {problem}", fg="red")
        ok = "OK: every object matches its hash" + (
            " and every version's content re-derives from its WARC response" if deep else "")
        click.secho(ok if report.ok else f"{len(report.problems)} problems", fg="green" if report.ok else "red")
    if not report.ok:
        sys.exit(1)


@main.command()
@config_option
def reindex(config_path: str | None) -> None:
    """Rebuild the search index from the object store alone, then swap it in."""
    from archiver.cli.wiring import open_search_index
    from archiver.readmodel import docs_from_store
    from archiver.run import open_archive_store

    config = _config(config_path)
    store = open_archive_store(config)
    index = open_search_index(config)
    count = index.rebuild(docs_from_store(store))
    index.close()
    click.echo(f"reindexed {count} records from the store")


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
def serve(config_path: str | None, host: str, port: int) -> None:
    """Serve the public portal (production: gunicorn "portal:create_app()")."""
    from archiver.cli.serve import serve_portal

    serve_portal(_config(config_path), host, port)


@main.command()
@click.option("--data", "data_dir", default="./sunshine-data", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the demo archive; DIR/sunshine.toml is written there.")
@click.option("--scale", default=5000, show_default=True, type=click.IntRange(10, 2_000_000),
              help="About how many records the simulated department has.")
@click.option("--steps", default=2, show_default=True, type=click.IntRange(1, 50),
              help="Archive rounds; simulated time advances between them.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the simulated department.")
@click.option("--serve", "then_serve", is_flag=True, help="Serve the portal afterwards.")
@click.option("--port", default=8000, show_default=True, type=int, help="Portal port with --serve.")
@config_option
def demo(data_dir: str, scale: int, steps: int, seed: int, then_serve: bool, port: int,
         config_path: str | None) -> None:
    """Archive a simulated department end to end, then (with --serve) serve the portal.

    Starts the platform simulator, archives it into DATA in STEPS rounds (new posts and replies arrive,
    some are edited or deleted between rounds) and prints a summary. With -c CONFIG, storage and
    search come from CONFIG (S3, Elasticsearch); sources are always the simulator's.
    """
    from archiver.cli.demo import run_demo

    config = run_demo(Path(data_dir), scale=scale, steps=steps, seed=seed,
                      base_config=Path(config_path) if config_path else None, echo=click.echo)
    if then_serve:
        from archiver.cli.serve import serve_portal

        serve_portal(config, "127.0.0.1", port)


def _register() -> None:
    from archiver.cli.clerk import serve_clerk
    from archiver.cli.export import export, verify_package_command
    from archiver.cli.ledger import ledger_group
    from archiver.cli.monitor import monitor
    from archiver.cli.records import hold, retention, sync
    from archiver.cli.recover import recover
    from archiver.cli.redact import redact
    from archiver.cli.requests import request_group
    from archiver.cli.users import users

    for command in (hold, retention, sync, ledger_group, recover, monitor, users, redact, request_group, export,
                    verify_package_command):
        main.add_command(command)
    main.add_command(serve_clerk)


_register()
