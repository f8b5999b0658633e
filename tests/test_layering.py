"""The layering contracts in `.importlinter` hold, and they really catch a forbidden import.

`lint-imports` also runs in the test command; this test proves the contracts are not vacuous: a
copy of the tree with one forbidden import added on purpose (per contract) must fail the check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("archiver", "spiders", "indexer", "portal", "infra", "clerk")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
                           " sys.exit(lint_imports_command())"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".importlinter", root / ".importlinter")
    return root


def test_the_repository_keeps_every_contract() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "forbidden", "contract"), [
    ("archiver/run.py", "import indexer", "core stands alone"),
    ("archiver/ledger/merkle.py", "from spiders import SPIDERS", "core stands alone"),
    ("archiver/verify.py", "import scrapy", "core stands alone"),
    ("portal/public.py", "from archiver.catalog import Catalog", "portal reads only"),
    ("portal/api.py", "import infra.simulator", "portal reads only"),
    ("spiders/base.py", "from archiver.store.local import LocalStore", "spiders only capture"),
    ("spiders/bluesky.py", "import indexer.query", "spiders only capture"),
    ("portal/public.py", "import clerk.pages", "portal reads only"),
    ("clerk/pages.py", "import infra.simulator", "clerk app apart"),
    ("clerk/holds.py", "from archiver.cli.wiring import hold_text_matcher", "clerk app apart"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, forbidden: str,
                                                contract: str) -> None:
    root = _copy_tree(tmp_path)
    path = root / module
    text = path.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + forbidden + "  # added on purpose\n" + rest)
    result = _lint(root)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), result.stdout
