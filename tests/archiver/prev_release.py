"""The previous release's archive (tests/data/catalog-v0-d1d8c30.tar.gz) and a run on top of it.

See tests/data/README.md for how it was made. The simulated department is deterministic, so a
simulator of the same seed and scale, advanced as often as the demo advanced it, serves exactly what
the archive already holds.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

from archiver.cli.demo import write_simulator_config
from tests.e2e.conftest import SIM_TOKEN, TOKEN_ENV, sunshine

ARCHIVE = Path(__file__).resolve().parents[1] / "data" / "catalog-v0-d1d8c30.tar.gz"
SEED, SCALE, STEPS = 1, 20, 2
PLATFORMS = ("bluesky", "facebook")  # what the previous release archived; later profiles stay out
LEDGER_NAME = "springfield.example/sunshine-demo"
HELD_RECORD = "facebook-104712345678901_122000001000000003"


def extract(target: Path) -> Path:
    """The archive unpacked into `target` (a new folder); its config path."""
    target.mkdir(parents=True)
    with tarfile.open(ARCHIVE) as tar:
        tar.extractall(target, filter="data")
    return target / "sunshine.toml"


def archive_again(data_dir: Path, *, storage: dict | None = None, env: dict[str, str] | None = None
                  ) -> subprocess.CompletedProcess:
    """`sunshine archive` of the same simulated department, at the state the archive last saw."""
    from infra.simulator import start_simulator

    tables: dict = {"ledger": {"name": LEDGER_NAME}}
    if storage is not None:
        tables["storage"] = storage
    with start_simulator(seed=SEED, scale=SCALE, port=0, token=SIM_TOKEN, platforms=PLATFORMS) as sim:
        for _ in range(STEPS - 1):
            sim.advance()
        config = write_simulator_config(data_dir / "sunshine.toml", sim.base_url, token_env=TOKEN_ENV,
                                        tables=tables, platforms=PLATFORMS)
        return sunshine("archive", "-c", str(config), "--quiet", env=env)
