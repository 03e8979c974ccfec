"""Exceptions, caught or not, and the exit status: a function left by an exception
returns the Error, and the trace ends with the program's exit status."""

from __future__ import annotations

import signal

from tracekit import ErrorValue, run_python

CAUGHT = """
    def risky(n):
        if n < 0:
            raise ValueError("negative")
        return n

    def safe(n):
        try:
            return risky(n)
        except ValueError as exc:
            return str(exc)

    print(safe(-1), safe(2))
"""


def test_caught_exception_is_the_return_value_of_the_raising_function(program, record_any):
    run = record_any(program(CAUGHT))
    assert run.returncode == 0, run
    assert run.stdout == "negative 2\n"
    trace = run.trace
    assert trace.returns("risky") == [ErrorValue("ValueError: negative"), 2]
    assert trace.returns("safe") == ["negative", 2]
    assert trace.exit_status == 0


def test_handler_lines_run_after_the_exception(program, record):
    prog = program(CAUGHT)
    trace = record(prog).trace
    assert trace.steps(prog.line("return str(exc)")) == 1
    handler_locals = trace.locals_at(prog.line("return str(exc)"))
    assert handler_locals["n"] == -1
    assert handler_locals["exc"] == ErrorValue("ValueError: negative")


UNCAUGHT = """
    def inner():
        raise ValueError("boom")

    def outer():
        inner()

    outer()
    print("not reached")
"""


def test_uncaught_exception_exits_1_and_still_writes_a_balanced_trace(program, record_any):
    run = record_any(program(UNCAUGHT))
    assert run.returncode == 1, run
    assert run.stdout == ""
    assert "Traceback (most recent call last):" in run.stderr
    assert run.stderr.endswith("ValueError: boom\n")
    trace = run.trace
    boom = ErrorValue("ValueError: boom")
    assert trace.returns("inner") == [boom]
    assert trace.returns("outer") == [boom]
    assert trace.returns("<module>") == [boom]
    assert trace.exit_status == 1
    assert trace.metadata["exit_code"] == 1


def test_uncaught_exception_traceback_is_the_one_python_prints(program, record):
    prog = program(UNCAUGHT)
    plain = run_python([prog.path], cwd=prog.path.parent)
    traced = record(prog)
    assert plain.returncode == traced.returncode == 1
    # Python's own traceback of the script's frames, word for word (the recorder may
    # add frames of its own launcher above them, as runpy does).
    script_part = plain.stderr.split("Traceback (most recent call last):\n", 1)[1]
    assert traced.stderr.startswith("Traceback (most recent call last):\n")
    assert traced.stderr.endswith(script_part)


EXIT_3 = """
    import sys

    def leave(code):
        sys.exit(code)

    def main():
        leave(3)
        print("not reached")

    main()
"""


def test_sys_exit_in_nested_function_sets_exit_status(program, record_any):
    run = record_any(program(EXIT_3))
    assert run.returncode == 3, run
    assert run.stdout == run.stderr == ""
    trace = run.trace
    assert trace.exit_status == 3
    assert trace.metadata["exit_code"] == 3
    assert trace.calls("leave")[0].args == {"code": 3}
    assert trace.returns("leave") == [ErrorValue("SystemExit: 3")]


def test_exit_status_zero_when_program_ends_normally(program, record):
    trace = record(program("x = 1\n")).trace
    assert trace.exit_status == 0


def test_sys_exit_with_message_exits_1_and_prints_it(program, record):
    run = record(program("import sys\nsys.exit('bad config')\n"))
    assert run.returncode == 1
    assert run.stderr == "bad config\n"
    assert run.trace.exit_status == 1


def test_exception_chain_inside_handler_is_recorded(program, record):
    prog = program("""
        def parse(text):
            try:
                return int(text)
            except ValueError as exc:
                raise RuntimeError("unparseable") from exc

        try:
            parse("x")
        except RuntimeError:
            print("ok")
    """)
    run = record(prog)
    assert run.stdout == "ok\n"
    assert run.trace.returns("parse") == [ErrorValue("RuntimeError: unparseable")]


def test_ctrl_c_ends_the_program_by_sigint_after_the_usual_traceback(program, record):
    """As Python does: the parent (a shell) sees death by SIGINT, shown as 130; the
    trace records the 130 the shell shows."""
    prog = program("""
        def wait():
            raise KeyboardInterrupt

        wait()
    """)
    plain = run_python([prog.path], cwd=prog.path.parent)
    run = record(prog)
    assert plain.returncode == run.returncode == -signal.SIGINT, run
    assert run.err == plain.err
    assert run.stderr.startswith("Traceback (most recent call last):\n")
    assert run.stderr.endswith("KeyboardInterrupt\n")
    assert run.trace.returns("wait") == [ErrorValue("KeyboardInterrupt")]
    assert run.trace.exit_status == 130


def test_syntax_error_is_reported_as_python_reports_it(program, record):
    prog = program("x = 1\ndef (:\n")
    plain = run_python([prog.path], cwd=prog.path.parent)
    run = record(prog)
    assert plain.returncode == run.returncode == 1
    assert run.err == plain.err
    assert run.trace.exit_status == 1
    assert run.trace.calls() == []


def test_os_exit_keeps_its_status_and_leaves_no_complete_looking_trace(program, record, tmp_path):
    prog = program("""
        import os

        def bail():
            os._exit(3)

        bail()
    """)
    out = tmp_path / "out"
    out.mkdir()
    run = record(prog, trace_dir=out / "trace")
    assert run.returncode == 3, run
    assert not (out / "trace").exists()
    assert list(out.rglob("trace_metadata.json")) == []


def test_builtin_exceptions_read_as_python_prints_them(program, record):
    prog = program("""
        def missing_file():
            open("/nonexistent/missing.txt")

        def missing_key():
            return {}["k"]

        def divide():
            return 1 / 0

        def two_args():
            raise ValueError("a", 2)

        for fail in (missing_file, missing_key, divide, two_args):
            try:
                fail()
            except Exception as exc:
                print(f"{type(exc).__name__}: {exc}")
    """)
    run = record(prog)
    assert run.returncode == 0, run
    printed = run.stdout.splitlines()
    assert printed[0].startswith("FileNotFoundError: [Errno 2]")
    trace = run.trace
    recorded = [
        trace.returns(name)[0].msg for name in ("missing_file", "missing_key", "divide", "two_args")
    ]
    assert recorded == printed
