"""Run a module as `__main__` and record its own peak RSS when it exits (Linux).

`wait4`'s `ru_maxrss` for a child is not the child's alone: Linux carries the forking process's
resident size over the fork and exec into it, so a small command forked from a bench that holds a
100,000-record simulator reports the bench's size (`sunshine verify --deep` showed 260 MB where it
used 128). `VmHWM` in /proc/self/status is this process's own high-water mark since its exec.

    python -m bench.peak_rss PEAK_FILE MODULE [ARGS...]   # writes the peak in KiB to PEAK_FILE
"""

from __future__ import annotations

import atexit
import runpy
import sys
from pathlib import Path


def own_peak_kib() -> int:
    """This process's peak resident set size in KiB (VmHWM), 0 where /proc has none."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    peak_file, module, *args = sys.argv[1:]
    atexit.register(lambda: Path(peak_file).write_text(str(own_peak_kib())))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
