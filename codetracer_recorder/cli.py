"""The ``codetracer-recorder`` command: run a Python program as ``python`` would, recorded."""

import argparse
import sys
import traceback
from collections.abc import Sequence

from codetracer_recorder import __version__, exit_status
from codetracer_recorder.errors import RecorderError, one_line
from codetracer_recorder.session import CAPTURES, FORMATS, TraceSession, start
from codetracer_recorder.target import Target, find_module, load_script

PROG = "codetracer-recorder"

EPILOG = f"""\
examples:
  {PROG} app.py --verbose            record app.py; --verbose is app.py's option
  {PROG} --trace-dir out -m mypkg.tool input.txt
  {PROG} --format binary --exclude 'mypkg.vendor.*' --exclude '*/generated/*' app.py

The program runs as __main__ with its own sys.argv and sys.path[0]; its stdin, stdout and
stderr are untouched. Everything after the script (or -m module) belongs to the program.
Not recorded by default: the standard library, the recorder itself and OpenTelemetry.
Globs match module names (mypkg.*) and file paths (*/vendor/*); * crosses dots and slashes.

exit status:
  the program's own, as python would give it: sys.exit(n) gives n, an uncaught exception
  gives 1 after its usual traceback, Ctrl-C gives 130. The trace is written in every case.
  2 when the program was not started: a bad command line or input (unreadable script,
  unknown module or format, trace dir that is a file) or a recorder that cannot start.
  When the recorder fails while writing the trace of a program that succeeded:
  10 (the machine: I/O, disk), 20 (the program did something the recorder cannot
  follow), 70 (a recorder bug).
  Recorder errors are one line on stderr: {PROG}: error: [ERR_CODE] message
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command and return its exit status.

    Ends the program as the interpreter does (waits for its non-daemon threads), so it
    belongs at the end of a process: tests run it in a child process.
    """
    parser = _parser()
    options = parser.parse_args(argv)
    try:
        target = _target(parser, options)
        with target.as_main():
            session = start(
                options.trace_dir,
                format=options.format,
                include=options.include,
                exclude=options.exclude,
                capture=options.capture,
                program=target.program,
                args=target.args,
            )
            return _record(target, session)
    except RecorderError as error:
        # Whatever its kind, an error before the program started means it did not run.
        _report(error)
        return exit_status.USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [options] script.py [args ...]\n       {PROG} [options] -m module [args ...]",
        description=(
            "Run a Python program as python would and record it into a CodeTracer trace\n"
            "directory: every call and return, every line step and the values of locals."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--trace-dir",
        metavar="DIR",
        default="trace-out",
        help="the trace directory to write (default: ./trace-out); it appears, complete, "
        "when the program ends, replacing an earlier trace there",
    )
    # Formats and captures are checked by start(), so a bad one gets the recorder's
    # one-line ERR_* error like every other bad input, not argparse's usage message.
    parser.add_argument(
        "--format",
        default="json",
        metavar="{" + ",".join(FORMATS) + "}",
        help="trace.json (the default) or the smaller trace.bin",
    )
    parser.add_argument(
        "--include",
        metavar="GLOB",
        action="append",
        default=[],
        help="record only code matching GLOB, even code skipped by default (repeatable)",
    )
    parser.add_argument(
        "--exclude",
        metavar="GLOB",
        action="append",
        default=[],
        help="do not record code matching GLOB (repeatable; wins over --include)",
    )
    parser.add_argument(
        "--capture",
        default="locals",
        metavar="{" + ",".join(CAPTURES) + "}",
        help="values to record: locals at every step (the default), only arguments and "
        "return values, or none",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-m",
        dest="module",
        nargs=argparse.REMAINDER,
        metavar="module",
        help="-m module [args ...]: run a library module as a script, like python -m "
        "(ends the options)",
    )
    parser.add_argument(
        "target",
        nargs=argparse.REMAINDER,
        metavar="script.py [args ...]",
        help="the program to run and its arguments (the first positional ends the options)",
    )
    return parser


def _target(parser: argparse.ArgumentParser, options: argparse.Namespace) -> Target:
    """The script or module the command line names, found and read."""
    # argparse keeps a "--" that precedes the script in the REMAINDER list.
    rest: list[str] = options.target[1:] if options.target[:1] == ["--"] else options.target
    if options.module is not None:
        if not options.module:
            parser.error("argument -m: expected a module name")
        # "-mpkg args" leaves the args in `rest`; "-m pkg args" keeps them in `module`.
        name, *args = options.module
        return find_module(name, [*args, *rest])
    if not rest:
        parser.error("nothing to run: give a script or -m module")
    script, *args = rest
    return load_script(script, args)


def _record(target: Target, session: TraceSession) -> int:
    """Run the program and end it as Python would; the trace is written whatever it did."""
    status = _run(target)
    _join_threads()
    try:
        session.stop(exit_code=status)
    except RecorderError as error:
        _report(error)
        return status or exit_status.of_recorder_error(error)
    return status


def _run(target: Target) -> int:
    """The program's exit status, its traceback printed as Python would print it."""
    try:
        target.run()
    except SystemExit as system_exit:
        return exit_status.of_system_exit(system_exit)
    except BaseException as error:  # noqa: BLE001 - whatever the program raises ends it
        return exit_status.of_uncaught(error)
    return 0


def _join_threads() -> None:
    """Wait for the program's non-daemon threads as the interpreter does before exiting
    (``threading._shutdown``, on every supported Python), so their events are in the trace.

    Ctrl-C ends the wait; as the interpreter does then, it is reported and ignored.
    """
    # Imported only now: a program that monkey-patches threading (gevent) must do it first.
    import threading

    try:
        threading._shutdown()  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        print(f"Exception ignored in: {threading!r}", file=sys.stderr)
        traceback.print_exc()


def _report(error: RecorderError) -> None:
    """A recorder error as one line on stderr; the code says what happened."""
    print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
