"""The package's machine-readable tables: `records.jsonl` (one record a line) and `records.csv`
(one row per version, the columns a spreadsheet user filters on)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CSV_COLUMNS = ("record_id", "version", "platform", "account", "kind", "author", "author_is_department",
               "created_at", "captured_at", "status", "text", "url", "parent_id", "thread_id", "content_sha256",
               "ledger_index", "raw", "proof")


def write_jsonl(path: Path, lines: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for line in lines:
            out.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")


def csv_rows(lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per version: the record's fields with that version's capture, status and text."""
    rows = []
    for line in lines:
        for version in line["versions"]:
            row = {name: line.get(name) for name in CSV_COLUMNS}
            row.update({name: version.get(name) for name in ("version", "captured_at", "status", "text",
                                                            "content_sha256", "ledger_index", "raw", "proof")})
            rows.append(row)
    return rows


def write_csv(path: Path, lines: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in csv_rows(lines):
            writer.writerow({name: "" if value is None else value for name, value in row.items()})
