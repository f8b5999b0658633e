"""Public-records response packages (`sunshine export`, DESIGN §6): a BagIt bag in a ZIP that the
recipient checks offline with `sunshine verify-package` (`archiver.package_verify`).

`package` builds it; `tables` writes records.jsonl and records.csv; `report` the HTML and PDF
report; `redact` is the one door to the redaction state (what must be withheld).
"""

from archiver.export.package import PackageResult, export_package
from archiver.export.redact import NO_REDACTIONS, RedactionView, package_redactions

__all__ = ["NO_REDACTIONS", "PackageResult", "RedactionView", "export_package", "package_redactions"]
