"""`sunshine export` and `sunshine verify-package`: response packages (DESIGN §6, `archiver.export`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archiver.catalog import Catalog
from archiver.cli.options import actor as _actor
from archiver.cli.options import config_option
from archiver.config import load_config
from archiver.errors import SunshineError
from archiver.ledger_events import append_event


@click.command()
@config_option
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The ZIP file to write.")
@click.option("--request", "number", default=None, help="Package the records of this request.")
@click.option("--record", "record_ids", multiple=True, help="A record id (repeatable).")
@click.option("--q", "text", default=None, help="Records whose text matches (same matching as the portal).")
@click.option("--platform", default=None, help="Records of this platform.")
@click.option("--account", default=None, help="Records of this account.")
@click.option("--from", "date_from", default=None, help="Created on or after YYYY-MM-DD.")
@click.option("--to", "date_to", default=None, help="Created on or before YYYY-MM-DD.")
@click.option("--no-threads", is_flag=True, help="Only the matching records, not their whole threads.")
@click.option("--by", default=None, help="Who exports (default: the current user).")
def export(config_path, out, number, record_ids, text, platform, account, date_from, date_to, no_threads, by) -> None:
    """Write a public-records response package: a BagIt ZIP the recipient checks offline.

    It holds the records (JSON lines and CSV), each version's canonical JSON, the original WARC
    exchanges, media, a report (HTML and PDF) and, for every version, an inclusion proof (C2SP
    tlog-proof) against one signed checkpoint, with the log's key. Redacted content is withheld and
    listed in the package's redaction log. Give --request N, or search options.
    """
    from archiver.cli.wiring import hold_text_matcher, open_search_index
    from archiver.export import export_package, package_redactions
    from archiver.export.package import record_export
    from archiver.holds import HoldCriteria
    from archiver.publish import LedgerPublisher
    from archiver.requests import get_request, request_record_ids, resolve_searches
    from archiver.run import open_archive_store

    searching = bool(record_ids or text or platform or account or date_from or date_to)
    if bool(number) == searching:
        raise SunshineError("give either --request N or search options (--q, --from, --to, --platform, --account, "
                            "--record), not both")
    config = load_config(config_path)
    catalog = Catalog(config.catalog_path)
    try:
        store = open_archive_store(config)
        if number:
            request, searches = get_request(catalog, number), []
            ids = request_record_ids(catalog, number)
        else:
            criteria = HoldCriteria(tuple(record_ids), text, platform, account, date_from, date_to, not no_threads)
            request, searches = None, [criteria.as_json()]
            index = open_search_index(config) if text else None
            try:
                ids = resolve_searches(catalog, [criteria], hold_text_matcher(index) if index else None)
            finally:
                if index is not None:
                    index.close()
        if catalog.unpublished_ledger()[1]:  # every version proven against one signed checkpoint
            LedgerPublisher(catalog, store, config).checkpoint()
        who = _actor(by)
        result = export_package(catalog, store, Path(out), ids, redactions=package_redactions(catalog, ids),
                                exported_by=who, request=request, searches=searches)
        record_export(catalog, result, request, who, log_event=append_event)
    finally:
        catalog.close()
    click.echo(f"wrote {result.path}: {result.records} records, {result.versions} versions, {result.proofs} proofs "
               f"against checkpoint {result.checkpoint_size}, {result.warc_files} WARC files, {result.media} media"
               + (f"; {result.withheld} items withheld (see data/redactions.json)" if result.withheld else ""))
    if result.unproven:
        click.secho(f"{result.unproven} versions are not yet in a signed checkpoint (listed in data/proofs.json)",
                    fg="yellow", err=True)


@click.command("verify-package")
@click.argument("package", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_package_command(package, as_json) -> None:
    """Check a response package offline: bag manifests, every record's canonical JSON against its
    content_sha256, every proof against the checkpoint, the checkpoint's signature.

    Prints the log key's fingerprint: compare it with the one the department's portal publishes.
    Exits 0 only if everything holds, 1 naming each file that does not.
    """
    from archiver.package_verify import verify_package

    report = verify_package(Path(package))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(f"checked {report.files_checked} files, {report.records} records, {report.versions_checked} "
                   f"versions' canonical JSON, {report.proofs_checked} proofs against checkpoint {report.size} "
                   f"of {report.origin}")
        if report.fingerprint:
            click.echo(f"log key {report.key}")
            click.echo(f"key fingerprint {report.fingerprint} (compare with the portal's /verify page)")
        for problem in report.problems:
            click.secho(f"FAIL {problem}", fg="red")
        click.secho("OK: the package is intact and every proof holds" if report.ok else
                    f"{len(report.problems)} problems" if report.problems else "nothing was proven",
                    fg="green" if report.ok else "red")
    if not report.ok:
        sys.exit(1)
