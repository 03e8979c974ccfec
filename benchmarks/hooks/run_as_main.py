"""Run a script the way ``python script.py args`` would, from inside a hook runner."""

import os
import runpy
import sys


def run_as_main(argv: list[str]) -> None:
    """Run ``argv[0]`` as ``__main__`` with ``sys.argv`` and ``sys.path[0]`` set as python sets them."""
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
    runpy.run_path(argv[0], run_name="__main__")
