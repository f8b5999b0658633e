"""`sunshine monitor URL --key KEY`: an outsider follows a portal's log (see `archiver.monitor`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archiver.errors import SunshineError
from archiver.monitor_http import Limits


@click.command()
@click.argument("url")
@click.option("--key", required=True, help="The log's verifier key (name+hash+base64), obtained out of band.")
@click.option("--state", "state_dir", default="./sunshine-monitor", show_default=True,
              type=click.Path(file_okay=False), help="Folder keeping the checkpoints and leaf hashes seen.")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False, exists=True),
              help="A C2SP tlog-policy file: the checkpoint's witness cosignatures must meet its quorum.")
@click.option("--peer", "peers", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="Another monitor's --state folder to compare checkpoints with (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--timeout", default=Limits.timeout, show_default=True, type=click.FloatRange(0.1, 600),
              help="Seconds per request.")
@click.option("--delay", default=Limits.delay, show_default=True, type=click.FloatRange(0, 60),
              help="Seconds to wait between requests.")
@click.option("--max-entries", default=Limits.max_entries, show_default=True, type=click.IntRange(1),
              help="New log entries read in one run at most.")
@click.option("--max-raw", default=Limits.max_raw, show_default=True, type=click.IntRange(0),
              help="Raw record versions re-hashed in one run at most; the rest wait for the next run.")
def monitor(url: str, key: str, state_dir: str, policy_path: str | None, peers: tuple[str, ...], as_json: bool,
            timeout: float, delay: float, max_entries: int, max_raw: int) -> None:
    """Follow a portal's transparency log the way a CT monitor does, needing only URL and the log's key.

    Checks that the latest checkpoint is signed by KEY (and cosigned per --policy), agrees with every
    checkpoint kept in --state (and --peer folders) and extends the last one, that the new entries
    hash to its root, and that each new capture's raw bytes still hash to its entry. Reports a split
    view, a rewritten entry or a record whose bytes no longer match; exits 0 only if all holds
    (1: a problem was found, 2: a usage error).
    """
    from archiver.ledger.policy import parse_policy
    from archiver.monitor import follow

    policy = None
    if policy_path:
        try:
            text = Path(policy_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SunshineError(f"{policy_path}: cannot read the policy: {exc}") from None
        policy = parse_policy(text, source=policy_path)
    limits = Limits(timeout=timeout, delay=delay, max_entries=max_entries, max_raw=max_raw)
    report = follow(url, key, Path(state_dir), policy=policy, peers=[Path(p) for p in peers], limits=limits)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(f"{report.url}: log {report.origin}, size {report.previous_size} -> {report.size}; "
                   f"{report.entries_checked} entries and {report.raw_checked} raw versions checked "
                   f"({report.raw_pending} pending, {report.disposed_skipped} disposed) in {report.requests} requests")
        for note in report.notes:
            click.echo(f"note: {note}")
        for problem in report.problems:
            click.secho(f"FAIL {problem.kind}: {problem.message}", fg="red")
        click.secho("OK" if report.ok else f"{len(report.problems)} problems", fg="green" if report.ok else "red")
    if not report.ok:
        sys.exit(1)
