"""The ``codetracer-recorder`` command: run a Python program as ``python`` would, recorded."""

import argparse
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from codetracer_recorder import __version__, _native, exit_status
from codetracer_recorder.errors import RecorderError, one_line
from codetracer_recorder.otel import bridge as telemetry
from codetracer_recorder.policy import (
    FIELDS,
    configure_policy,
    configure_policy_from_env,
    parse_policy_value,
)
from codetracer_recorder.session import CAPTURES, FORMATS, TraceSession, start
from codetracer_recorder.target import Target, find_module, load_script

PROG = "codetracer-recorder"

EPILOG = f"""\
examples:
  {PROG} app.py --verbose            record app.py; --verbose is app.py's option
  {PROG} --trace-dir out -m mypkg.tool input.txt
  {PROG} --format binary --exclude 'mypkg.vendor.*' --exclude '*/generated/*' app.py

Policy flags beat the CODETRACER_* environment variables, which beat the defaults; each
flag also has the upstream recorder's spelling (--require-trace for
--codetracer-require-trace). A switch alone means true; --switch=VALUE takes 1/0,
true/false, yes/no or on/off.

The program runs as __main__ with its own sys.argv and sys.path[0]; its stdin, stdout and
stderr are untouched. Everything after the script (or -m module) belongs to the program.
Not recorded by default: the standard library, the recorder itself and OpenTelemetry.
Globs match module names (mypkg.*) and file paths (*/vendor/*); * crosses dots and slashes.

exit status:
  the program's own, as python would give it: sys.exit(n) gives n, an uncaught exception
  gives 1 after its usual traceback, Ctrl-C ends it by SIGINT (a shell shows 130), SIGTERM
  by SIGTERM. The trace is written in every case.
  2 when the program was not started: a bad command line or input (unreadable script,
  unknown module or format, trace dir that is a file) or a recorder that cannot start.
  When the recorder fails while recording a program that succeeded (under the default
  --codetracer-on-recorder-error=abort): 10 (the machine: I/O, disk, or a required trace
  missing), 20 (the program did something the recorder cannot follow), 70 (a recorder
  bug). Under =disable the program's own status stands, and the failure is a warning.
  Recorder errors are one line on stderr: {PROG}: error: [ERR_CODE] message

OpenTelemetry:
  the exporter flags mirror opentelemetry-instrument: each sets its OTEL_* variable for
  the run (--traces_exporter sets OTEL_TRACES_EXPORTER), so flag > variable > default.
  With no exporter configured nothing is exported and nothing connects anywhere. The
  console exporters write to stderr. At the end the export is flushed within
  --otel_flush_timeout seconds (default 3); a failed export is one ERR_OTEL_EXPORT
  warning and never changes the exit status. SIGTERM ends the recording the same way.
"""

OTEL_FLAGS: tuple[tuple[str, str, str, str], ...] = (
    ("--traces_exporter", "OTEL_TRACES_EXPORTER", "{otlp,console,none}", "where spans go"),
    ("--metrics_exporter", "OTEL_METRICS_EXPORTER", "{otlp,console,none}", "where metrics go"),
    ("--logs_exporter", "OTEL_LOGS_EXPORTER", "{otlp,console,none}", "where log records go"),
    ("--exporter_otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "URL", "the OTLP endpoint"),
    (
        "--exporter_otlp_protocol",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "{grpc,http/protobuf}",
        "the OTLP transport (default grpc)",
    ),
    ("--exporter_otlp_headers", "OTEL_EXPORTER_OTLP_HEADERS", "K=V,...", "OTLP request headers"),
    ("--exporter_otlp_timeout", "OTEL_EXPORTER_OTLP_TIMEOUT", "SECONDS", "OTLP export timeout"),
    ("--service_name", "OTEL_SERVICE_NAME", "NAME", "the service.name resource attribute"),
    ("--resource_attributes", "OTEL_RESOURCE_ATTRIBUTES", "K=V,...", "more resource attributes"),
    (
        "--otel_flush_timeout",
        telemetry.FLUSH_TIMEOUT_ENV,
        "SECONDS",
        "bound on the flush at exit, all signals together (default 3)",
    ),
)
"""OpenTelemetry flags: (flag, the variable it sets, metavar, help)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command and return its exit status.

    Ends the program as the interpreter does (waits for its non-daemon threads), so it
    belongs at the end of a process: tests run it in a child process.
    """
    parser = _parser()
    try:
        options, overrides = parse_command_line(parser, sys.argv[1:] if argv is None else argv)
        _set_otel_variables(options)
        # The environment is checked now, so a bad variable stops the program from
        # starting; start() applies it again under the flags.
        configure_policy_from_env()
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
                policy=overrides,
            )
            with _sigterm_ends_the_recording(session):
                status, interrupted = _record(target, session)
        if interrupted:
            _die_by_sigint()
        return status
    except RecorderError as error:
        # Whatever its kind, an error before the program started means it did not run.
        _report(error)
        return exit_status.USAGE


def parse_command_line(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> tuple[argparse.Namespace, dict[str, Any]]:
    """The options, and the policy the flags set (field name to value, as
    ``configure_policy`` takes them). Raises ``UsageError`` naming the flag for a bad
    policy value; argparse exits with status 2 for a bad command line."""
    rest, switches = _split_switches(list(argv), parser)
    options = parser.parse_args(rest)
    overrides: dict[str, Any] = {}
    errors: list[RecorderError] = []
    for flag, field, text in [*switches, *options.policy_flags]:
        try:
            overrides[field] = parse_policy_value(field, text, flag)
        except RecorderError as error:
            errors.append(error)
    if errors:
        # The error is reported the way the flags that did parse ask: with a JSON
        # trailer when --codetracer-json-errors is among them.
        if overrides.get("json_errors"):
            configure_policy(json_errors=True)
        raise errors[0]
    return options, overrides


_SWITCHES = {
    flag: field["name"]
    for field in FIELDS
    if field["kind"] == "bool"
    for flag in (field["flag"], field["upstream_flag"])
}
"""Policy switches by flag: ``--flag`` alone means true, ``--flag=VALUE`` sets a value."""


def _split_switches(
    argv: list[str], parser: argparse.ArgumentParser
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Take the policy switches out of the recorder's options (those before the script or
    ``-m``), as ``(flag, field, text)``.

    argparse cannot give a flag an optional value that is only taken after ``=``: with
    ``nargs="?"``, ``--require-trace script.py`` would read the script as the value. So
    switches are found here, knowing which other options take the next word as value.
    """
    takes_value = {
        option
        for action in parser._actions  # built in this module, so its private list is ours
        if action.nargs != 0
        for option in action.option_strings
    }
    rest: list[str] = []
    switches: list[tuple[str, str, str]] = []
    words = iter(argv)
    for word in words:
        if word == "--" or word == "-" or not word.startswith("-") or word.startswith("-m"):
            rest += [word, *words]  # the program and its arguments
            break
        name, equals, value = word.partition("=")
        if name in _SWITCHES:
            switches.append((name, _SWITCHES[name], value if equals else "true"))
            continue
        rest.append(word)
        if name in takes_value and not equals:
            rest += [value for value in [next(words, None)] if value is not None]
    return rest, switches


class _PolicyFlag(argparse.Action):
    """Collects a valued policy flag as ``(flag as written, field, text)``; the core
    parses the text after argparse, so a bad value gets the recorder's one-line error."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        text = "true" if self.nargs == 0 else str(values)
        namespace.policy_flags.append((option_string or self.dest, self.dest, text))


def _add_policy_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of the policy table (``src/policy.rs``), under both spellings."""
    group = parser.add_argument_group(
        "recorder policy",
        "what the recorder does when it fails; flags beat CODETRACER_* variables",
    )
    parser.set_defaults(policy_flags=[])
    for field in FIELDS:
        names = (field["flag"], field["upstream_flag"])
        help_text = f"{field['help']} ({field['accepted']}; env {field['env']})"
        if field["kind"] == "bool":
            help_text = (
                f"{field['help']} (alone: true; or =BOOL, {field['accepted']}; env {field['env']})"
            )
            # Shown in --help; the words themselves are taken out by _split_switches.
            group.add_argument(
                *names, nargs=0, action=_PolicyFlag, dest=field["name"], help=help_text
            )
            continue
        metavar = {"choice": "{abort,disable}", "log_filter": "FILTER", "path": "FILE"}[
            field["kind"]
        ]
        group.add_argument(
            *names, action=_PolicyFlag, dest=field["name"], metavar=metavar, help=help_text
        )


def _add_otel_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "OpenTelemetry", "each flag sets its OTEL_* variable for the run (see below)"
    )
    for flag, variable, metavar, help_text in OTEL_FLAGS:
        group.add_argument(
            flag, dest=flag[2:], metavar=metavar, default=None, help=f"{help_text} (env {variable})"
        )


def _set_otel_variables(options: argparse.Namespace) -> None:
    """What opentelemetry-instrument does: a given flag sets its variable, so the library,
    the CLI and the environment configure the bridge in one way."""
    for flag, variable, _, _ in OTEL_FLAGS:
        value = getattr(options, flag[2:])
        if value is not None:
            os.environ[variable] = value


_sigterm_handler: Any = None
"""The SIGTERM handler :func:`_sigterm_ends_the_recording` installed, while it is."""


@contextlib.contextmanager
def _sigterm_ends_the_recording(session: TraceSession) -> Iterator[None]:
    """While the program runs, SIGTERM (whose default action kills at once: no
    ``finally``, no atexit, buffered output lost) first finishes the trace and flushes the
    telemetry within its bound, from the handler, without unwinding the program; then the
    process dies by SIGTERM as it would have. A program that sets its own SIGTERM handler
    keeps it; a forked child gets the default back (:func:`_default_sigterm_in_child`)."""
    global _sigterm_handler

    def handle(signum: int, frame: object) -> None:
        try:
            session.stop(exit_code=128 + signum)
        except RecorderError as error:
            _report(error)
        telemetry.shutdown()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        _sigterm_handler = handle
        signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        _sigterm_handler = None
        telemetry.shutdown()


def _default_sigterm_in_child() -> None:
    """A forked child is not recorded, so SIGTERM kills it at once, as without the
    recorder (a child stuck in C code would never run a Python handler)."""
    if _sigterm_handler is not None and signal.getsignal(signal.SIGTERM) is _sigterm_handler:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


os.register_at_fork(after_in_child=_default_sigterm_in_child)


def _die_by_sigint() -> None:
    """End as Python ends after an uncaught KeyboardInterrupt: atexit handlers, flushed
    output, then death by SIGINT, so the parent (a shell) sees the interrupt. Should the
    signal not kill (blocked), the status is 130."""
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    sys.exit(exit_status.INTERRUPTED)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, told the terminal's width: left to itself it imports
    ``shutil`` to ask, which costs every run of the CLI, with or without ``--help``."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    """``$COLUMNS``, else the width of the terminal on stdout, else 80 (as ``shutil``)."""
    with contextlib.suppress(KeyError, ValueError):
        if (columns := int(os.environ["COLUMNS"])) > 0:
            return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [options] script.py [args ...]\n       {PROG} [options] -m module [args ...]",
        description=(
            "Run a Python program as python would and record it into a CodeTracer trace\n"
            "directory: every call and return, every line step and the values of locals."
        ),
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
        # Abbreviated options would hide which flag a word is (see _split_switches).
        allow_abbrev=False,
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
    _add_policy_flags(parser)
    _add_otel_flags(parser)
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


def _record(target: Target, session: TraceSession) -> tuple[int, bool]:
    """Run the program and end it as Python would; the trace is written whatever it did.
    Returns the exit status, and whether an uncaught KeyboardInterrupt ended the program."""
    status, interrupted = _run(target)
    _join_threads()
    try:
        session.stop(exit_code=status)
    except RecorderError as error:
        _report(error)
        return status or exit_status.of_recorder_error(error), interrupted
    return status, interrupted


def _run(target: Target) -> tuple[int, bool]:
    """The program's exit status, its traceback printed as Python would print it, and
    whether it was an uncaught KeyboardInterrupt."""
    try:
        target.run()
    except SystemExit as system_exit:
        return exit_status.of_system_exit(system_exit), False
    except BaseException as error:  # noqa: BLE001 - whatever the program raises ends it
        return exit_status.of_uncaught(error), isinstance(error, KeyboardInterrupt)
    return 0, False


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
    """A recorder error as one line on stderr; the code says what happened. With
    ``json_errors`` its JSON trailer follows, unless it was written when the error was made."""
    print(f"{PROG}: error: {one_line(error)}", file=sys.stderr, flush=True)
    _native.write_trailer(error)
