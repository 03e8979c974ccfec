"""The exit status Python gives a program, reproduced by the CLI for the program it records.

A recorded program must end like the unrecorded one: same status, same traceback on
stderr. The recorder's own failures get statuses of their own (``STATUS_BY_KIND``).
"""

import os
import sys
import traceback
from types import TracebackType

from codetracer_recorder.errors import RecorderError

USAGE = 2
"""The program was not started: a bad command line or input, or the recorder could not
start (``argparse`` uses 2 for a bad command line too)."""

INTERRUPTED = 130
"""128 + SIGINT: what a shell reports for a program stopped by Ctrl-C."""

STATUS_BY_KIND = {"usage": USAGE, "environment": 10, "target": 20, "internal": 70}
"""The status for a recorder error of each ``kind`` (70 is ``EX_SOFTWARE``: a bug)."""

_RECORDER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def of_recorder_error(error: RecorderError) -> int:
    """The status for a recorder error; one of an unknown kind counts as a bug."""
    return STATUS_BY_KIND.get(error.kind, STATUS_BY_KIND["internal"])


def of_system_exit(system_exit: SystemExit) -> int:
    """Python's rule: ``None`` is success, an int is the status, anything else is printed to
    stderr and gives status 1."""
    if system_exit.code is None:
        return 0
    if isinstance(system_exit.code, int):
        return system_exit.code
    print(system_exit.code, file=sys.stderr)
    return 1


def of_uncaught(error: BaseException) -> int:
    """Print the traceback through ``sys.excepthook`` as Python would, without the
    recorder's own frames at its top, and return Python's status for it."""
    tb = _without_recorder_frames(error.__traceback__)
    error = error.with_traceback(tb)
    try:
        sys.excepthook(type(error), error, tb)
    except Exception as hook_error:  # noqa: BLE001 - a broken hook must not lose the report
        # What the interpreter prints when the program's own excepthook fails.
        print("Error in sys.excepthook:", file=sys.stderr)
        hook_tb = _without_recorder_frames(hook_error.__traceback__)
        traceback.print_exception(type(hook_error), hook_error, hook_tb, chain=False)
        print("\nOriginal exception was:", file=sys.stderr)
        sys.__excepthook__(type(error), error, tb)
    return INTERRUPTED if isinstance(error, KeyboardInterrupt) else 1


def _without_recorder_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from its first frame that is not the recorder's (the CLI's frames
    sit above the program's)."""
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_RECORDER_DIR):
        tb = tb.tb_next
    return tb
