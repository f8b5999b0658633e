"""`infra/services start|stop|status minio|elasticsearch|witness`: one entry point, one module per server.

Each server module (`infra.minio_server`, `infra.es_server`, `infra.witness_server`) offers `start() -> dict[str, str]`
(the environment variables that point clients at it, printed as shell KEY=VALUE lines), `stop()`
and `status() -> dict | None`. Their state lives in `~/.cache/sunshine/run/<name>.json`.
"""

from __future__ import annotations

import importlib
import shlex
import sys

SERVERS = {"minio": "infra.minio_server", "elasticsearch": "infra.es_server", "witness": "infra.witness_server"}
USAGE = "usage: infra/services start|stop|status minio|elasticsearch|witness"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop", "status") or argv[1] not in SERVERS:
        print(USAGE, file=sys.stderr)
        return 2
    action, name = argv
    module = importlib.import_module(SERVERS[name])
    try:
        if action == "start":
            for key, value in module.start().items():
                print(f"{key}={shlex.quote(value)}")
        elif action == "stop":
            module.stop()
        else:
            state = module.status()
            print(state if state else f"{name}: not running")
            return 0 if state else 1
    except Exception as exc:  # noqa: BLE001 - a launcher failure is reported, never a traceback
        print(f"infra/services {action} {name}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
