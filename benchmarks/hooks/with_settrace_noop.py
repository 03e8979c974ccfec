"""Run a script under a ``sys.settrace`` function that does nothing.

Usage: ``python with_settrace_noop.py script.py [args ...]``. The function returns itself,
so it also becomes each frame's local trace function and sees every line: the cost of the
legacy tracing hook that pure-Python debuggers and recorders are built on.
"""

import sys
from types import FrameType
from typing import Any

from run_as_main import run_as_main


def noop(frame: FrameType, event: str, arg: Any) -> Any:
    return noop


sys.settrace(noop)
run_as_main(sys.argv[1:])
