"""The binary format (`trace.bin`) holds the same recording as the JSON one."""

from __future__ import annotations

PROGRAM = """
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    def describe(items):
        return {"count": len(items), "first": items[0], "ratio": 0.5}

    print(fib(6), describe(["a", "b"]))
"""


def calls_of(trace):
    return [(c.name, c.args, c.return_value) for c in trace.calls()]


def steps_of(trace):
    return [(s.path, s.line, s.values) for s in trace.all_steps]


def test_binary_trace_has_the_same_calls_as_json(program, record_any):
    prog = program(PROGRAM)
    as_json = record_any(prog, format="json")
    as_binary = record_any(prog, format="binary")
    assert as_json.stdout == as_binary.stdout == "8 {'count': 2, 'first': 'a', 'ratio': 0.5}\n"
    assert calls_of(as_binary.trace) == calls_of(as_json.trace)
    assert as_binary.trace.returns("describe") == [{"count": 2, "first": "a", "ratio": 0.5}]


def test_binary_trace_has_the_same_lines_and_values_as_json(program, record):
    prog = program(PROGRAM)
    as_json, as_binary = record(prog).trace, record(prog, format="binary").trace
    assert steps_of(as_binary) == steps_of(as_json)
    assert as_binary.exit_status == as_json.exit_status == 0


def test_binary_trace_directory_holds_trace_bin(program, record):
    trace = record(program(PROGRAM), format="binary").trace
    files = {p.name for p in trace.directory.iterdir()}
    assert {"trace.bin", "trace_metadata.json", "trace_paths.json"} <= files
    assert "trace.json" not in files
    assert trace.metadata["format"] == "binary"
    assert trace.summary["format"] == "binary"


def test_json_trace_directory_holds_trace_json(program, record):
    trace = record(program(PROGRAM)).trace
    files = {p.name for p in trace.directory.iterdir()}
    assert {"trace.json", "trace_metadata.json", "trace_paths.json"} <= files
    assert "trace.bin" not in files
    assert trace.summary["format"] == "json"
