"""What `capture` records: locals at every line (default), only arguments and
return values, or no values at all; calls and lines are recorded in every mode."""

from __future__ import annotations

PROGRAM = """
    def scale(value, factor=2):
        doubled = value * factor
        return doubled

    for n in range(3):
        scale(n)
"""


def test_default_capture_records_locals_at_every_line(program, record):
    prog = program(PROGRAM)
    trace = record(prog).trace
    assert trace.locals_at(prog.line("return doubled"), nth=2) == {
        "value": 2,
        "factor": 2,
        "doubled": 4,
    }
    assert trace.returns("scale") == [0, 2, 4]


def test_capture_locals_is_the_default(program, record):
    prog = program(PROGRAM)
    default, explicit = record(prog).trace, record(prog, capture="locals").trace
    assert default.count("Value") == explicit.count("Value") > 0


def test_capture_args_records_arguments_and_returns_but_no_locals(program, record_any):
    prog = program(PROGRAM)
    trace = record_any(prog, capture="args").trace
    calls = trace.calls("scale")
    assert [c.args for c in calls] == [{"value": n, "factor": 2} for n in range(3)]
    assert [c.return_value for c in calls] == [0, 2, 4]
    assert trace.count("Value") == 0
    assert trace.steps(prog.line("return doubled")) == 3


def test_capture_none_records_calls_and_lines_without_values(program, record_any):
    prog = program(PROGRAM)
    trace = record_any(prog, capture="none").trace
    calls = trace.calls("scale")
    assert len(calls) == 3
    assert [c.args for c in calls] == [{}, {}, {}]
    assert trace.count("Value") == 0
    assert trace.steps(prog.line("doubled = value * factor")) == 3
    assert trace.exit_status == 0


def test_capture_none_records_no_secret_or_other_value(program, record):
    prog = program("""
        def login(password):
            return "welcome"

        login("hunter2")
    """)
    trace = record(prog, capture="none").trace
    assert [c.args for c in trace.calls("login")] == [{}]
    assert "welcome" not in str(trace.events)


def test_unknown_capture_mode_is_rejected(program, record):
    run = record(program("print('ran')\n"), capture="everything")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.trace_dir is not None
    assert not run.trace_dir.exists()
