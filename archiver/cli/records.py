"""Records-management commands: legal holds, retention disposal, spool sync (DESIGN §3)."""

from __future__ import annotations

import json
import sys

import click

from archiver.catalog import Catalog
from archiver.cli.options import actor as _actor
from archiver.cli.options import config_option
from archiver.config import load_config
from archiver.ledger_events import append_event
from archiver.publish import LedgerPublisher


def _publish_events(config, catalog: Catalog, store) -> None:
    """Publish the clerk events just logged and sign a checkpoint over them, so the log (and
    `sunshine verify`) shows them at once rather than after the next archive run."""
    LedgerPublisher(catalog, store, config).checkpoint()


@click.group()
def hold() -> None:
    """Legal holds: records that must be kept whatever their retention says.

    A hold covers the records matching its criteria when it is placed (with their whole threads unless
    --no-threads), sets an S3 legal hold on every object behind them, and is logged in the audit
    trail and the ledger. Retention disposal never touches a held record.
    """


@hold.command("add")
@config_option
@click.option("--reason", required=True, help="Why: the request, case or litigation number.")
@click.option("--record", "record_ids", multiple=True, help="A record id (repeatable).")
@click.option("--q", "text", default=None, help="Records whose text matches (same matching as the portal).")
@click.option("--platform", default=None, help="Records of this platform (bluesky, facebook, ...).")
@click.option("--account", default=None, help="Records of this account.")
@click.option("--from", "date_from", default=None, help="Created on or after YYYY-MM-DD.")
@click.option("--to", "date_to", default=None, help="Created on or before YYYY-MM-DD.")
@click.option("--no-threads", is_flag=True, help="Hold only the matching records, not their threads.")
@click.option("--by", default=None, help="Who places the hold (default: the current user).")
def hold_add(config_path, reason, record_ids, text, platform, account, date_from, date_to, no_threads, by) -> None:
    """Place a legal hold."""
    from archiver.cli.wiring import hold_text_matcher, open_search_index
    from archiver.holds import HoldCriteria, place_hold
    from archiver.run import open_archive_store

    config = load_config(config_path)
    criteria = HoldCriteria(tuple(record_ids), text, platform, account, date_from, date_to, not no_threads)
    catalog = Catalog(config.catalog_path)
    try:
        store = open_archive_store(config)
        index = open_search_index(config) if text else None
        matcher = hold_text_matcher(index) if index is not None else None
        placed = place_hold(catalog, store, reason, _actor(by), criteria, text_matches=matcher,
                            log_event=append_event)
        _publish_events(config, catalog, store)
    finally:
        catalog.close()
    click.echo(f"{placed.hold_id}: holding {placed.record_count} records ({placed.reason})")


@hold.command("release")
@config_option
@click.argument("hold_id")
@click.option("--by", default=None, help="Who releases the hold (default: the current user).")
def hold_release(config_path, hold_id, by) -> None:
    """Release a legal hold (objects another open hold needs stay held)."""
    from archiver.holds import release_hold
    from archiver.run import open_archive_store

    config = load_config(config_path)
    catalog = Catalog(config.catalog_path)
    try:
        store = open_archive_store(config)
        released = release_hold(catalog, store, hold_id, _actor(by), log_event=append_event)
        _publish_events(config, catalog, store)
    finally:
        catalog.close()
    click.echo(f"{released.hold_id}: released ({released.record_count} records)")


@hold.command("list")
@config_option
@click.option("--all", "include_released", is_flag=True, help="Include released holds.")
@click.option("--json", "as_json", is_flag=True, help="Print the holds as JSON.")
def hold_list(config_path, include_released, as_json) -> None:
    """List holds."""
    from archiver.holds import list_holds

    config = load_config(config_path)
    catalog = Catalog(config.catalog_path)
    try:
        holds = list_holds(catalog, include_released)
    finally:
        catalog.close()
    if as_json:
        click.echo(json.dumps([h.__dict__ for h in holds], indent=2))
        return
    if not holds:
        click.echo("no holds")
    for h in holds:
        state = f"released {h.released_at}" if h.released_at else "open"
        click.echo(f"{h.hold_id}  {state}  {h.record_count} records  placed {h.placed_at} by {h.placed_by}: "
                   f"{h.reason}  {json.dumps(h.criteria)}")


@click.group()
def retention() -> None:
    """Retention: dispose of records whose retention period has ended (never those on hold)."""


@retention.command("run")
@config_option
@click.option("--dry-run", is_flag=True, help="List what is due; change nothing.")
@click.option("--by", default=None, help="Who runs the disposal (default: the current user).")
def retention_run(config_path, dry_run, by) -> None:
    """Dispose of due records and write a disposition certificate into the archive.

    A disposal an earlier run left unfinished (a crash, the store away) is finished first, and
    records disposed of earlier that the search index still holds are removed from it. Objects that
    S3 Object Lock still protects are refused by the store; those records are reported and kept
    whole. Exits non-zero if anything was refused, left pending or left in the search index.
    """
    from archiver.disposition import run_retention
    from archiver.run import open_archive_store

    config = load_config(config_path)
    catalog = Catalog(config.catalog_path)
    try:
        store = open_archive_store(config)
        report = run_retention(catalog, store, config.storage, dry_run=dry_run, actor=_actor(by),
                               log_event=append_event)
        if not dry_run and catalog.unpublished_ledger()[1]:
            _publish_events(config, catalog, store)
        index_problem = None if dry_run else _remove_from_index(config, catalog)
    finally:
        catalog.close()
    click.echo(f"{len(report.due)} records past retention, {report.held} more kept by legal holds")
    if dry_run:
        for item in report.due[:50]:
            click.echo(f"due: {item['record_id']} ({item['platform']} {item['kind']}, "
                       f"{item['retention_days']} days, retained until {item['retained_until']})")
        return
    if report.resumed:
        click.echo(f"finished {len(report.resumed)} disposal(s) an earlier run left pending")
    click.echo(f"disposed of {len(report.disposed)} records"
               + (f"; certificate {', '.join(report.certificates)}" if report.certificates else ""))
    for refusal in report.refused:
        click.secho(f"refused: {refusal}", fg="red", err=True)
    for pending in report.interrupted:
        click.secho(f"not finished: {pending}", fg="red", err=True)
    if index_problem:
        click.secho(index_problem, fg="red", err=True)
    if report.refused or report.interrupted or index_problem:
        sys.exit(1)


def _remove_from_index(config, catalog: Catalog) -> str | None:
    """Remove disposed records from the search index (this run's and any an index outage left);
    what went wrong, if anything: the catalog keeps them listed until the index lets them go."""
    from archiver.cli.wiring import open_search_index
    from archiver.disposition import awaiting_index_removal, index_removed
    from archiver.errors import SunshineError

    awaiting = awaiting_index_removal(catalog)
    if not awaiting:
        return None
    record_ids = [record_id for ids in awaiting.values() for record_id in ids]
    try:
        index = open_search_index(config)
        try:
            if record_ids:
                index.delete(record_ids)
        finally:
            index.close()
    except SunshineError as exc:
        return (f"search index not updated: {exc}; {len(record_ids)} disposed records can still be found "
                "there until the next `sunshine retention run` removes them")
    index_removed(catalog, list(awaiting))
    return None


@click.command()
@config_option
def sync(config_path) -> None:
    """Finish what a run deferred while S3 was unreachable: upload the local spool, publish the
    ledger entries not yet published and sign the checkpoint. Exits non-zero if anything is still
    waiting (each spooled object that cannot be read or uploaded is named)."""
    from archiver.run import finish_deferred, open_archive_store

    config = load_config(config_path)
    result = finish_deferred(config, open_archive_store(config))
    drained = result.drained
    click.echo(f"uploaded {drained.uploaded} spooled objects; {len(drained.pending)} still waiting")
    if result.checkpoint:
        click.echo(f"published {result.published} ledger entries; checkpoint signed: "
                   f"{result.checkpoint.splitlines()[1]} entries")
    for pending in drained.pending[:_SHOWN]:
        click.secho(f"still spooled: {pending}", fg="yellow", err=True)
    if len(drained.pending) > _SHOWN:
        click.secho(f"... and {len(drained.pending) - _SHOWN} more still spooled", fg="yellow", err=True)
    for problem in result.problems:
        click.secho(f"error: {problem}", fg="red", err=True)
    if not result.ok:
        sys.exit(1)


_SHOWN = 20  # an outage can leave thousands; the count says how many
