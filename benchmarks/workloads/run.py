"""Run one benchmark workload and print how long its own work took.

Usage: ``python run.py NAME SCALE``. Every configuration (untraced, our recorder, each
peer) runs this same script, so the tool's start-up, import and trace writing stay
outside the timed region: the harness reads the in-process figure from the one
``@bench`` line this prints, and measures end-to-end wall time separately.
"""

import importlib
import json
import os
import sys
import time
from collections.abc import Callable

WORKLOADS = ("recursion", "numeric_loop", "objects", "generators", "exceptions", "text_processing")
"""Every workload, one module each in this directory, each with ``run(scale) -> int``."""

WORKLOADS_DIR = os.path.dirname(os.path.abspath(__file__))

REPORT_PREFIX = "@bench "
"""Marks the line the harness parses; nothing a workload prints starts with it."""


def workload(name: str) -> Callable[[float], int]:
    """The ``run`` function of the workload called ``name``."""
    if name not in WORKLOADS:
        raise SystemExit(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    if (
        WORKLOADS_DIR not in sys.path
    ):  # codetracer 0.3.0 runs a script without its directory on the path
        sys.path.insert(0, WORKLOADS_DIR)
    return importlib.import_module(name).run


def main() -> None:
    name, scale = sys.argv[1], float(sys.argv[2])
    run = workload(name)
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    checksum = run(scale)
    work_s, cpu_s = time.perf_counter() - wall_start, time.process_time() - cpu_start
    print(REPORT_PREFIX + json.dumps({"work_s": work_s, "cpu_s": cpu_s, "checksum": checksum}))


if __name__ == "__main__":
    main()
