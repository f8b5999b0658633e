"""`sunshine recover`: rebuild the catalog from the object store alone (DESIGN §3)."""

from __future__ import annotations

import sys

import click

from archiver.cli.options import config_option
from archiver.config import load_config


@click.command()
@config_option
@click.option("--force", is_flag=True, help="Replace an existing catalog (it is moved aside, not deleted).")
@click.option("--quiet", is_flag=True, help="No progress display.")
def recover(config_path: str | None, force: bool, quiet: bool) -> None:
    """Rebuild the catalog from the object store alone (after losing the archiver's disk).

    Records, versions, objects, the ledger, holds, disposals and the audit trail are read back from
    the store; only versions the ledger holds count. Refuses to replace an existing catalog unless
    --force. Exits 1 if anything could not be recovered exactly (each is named).
    """
    from archiver.progress import counting_progress
    from archiver.recover import recover_catalog
    from archiver.run import open_archive_store

    config = load_config(config_path)
    store = open_archive_store(config)
    with counting_progress("recovering", "objects", disable=quiet) as advance:
        report = recover_catalog(config, store, force=force, progress=advance)
    if report.moved_aside:
        click.echo(f"the previous catalog was moved to {report.moved_aside}")
    click.echo(f"recovered {config.catalog_path}: {report.records} records, {report.versions} versions, "
               f"{report.objects} objects, {report.ledger_entries} ledger entries, {report.checkpoints} "
               f"checkpoints, {report.holds} holds ({report.holds_released} released), {report.dispositions} "
               f"disposals ({report.disposed_records} records), {report.runs} runs")
    if report.versions_not_in_ledger:
        click.echo(f"{report.versions_not_in_ledger} manifest versions are not in the ledger (batches that "
                   "never committed); the next archive captures those records again")
    click.echo("not in the store, so not recovered: failed captures, run statistics, and the reasons of holds "
               "placed before hold documents existed; if the search index was lost too, run `sunshine reindex`")
    for warning in report.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    if any(not warning.startswith("disposition ") for warning in report.warnings):
        sys.exit(1)
