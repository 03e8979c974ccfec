"""The library API: `start`/`stop`/`flush`/`is_tracing`, the `trace` context manager
and `TraceSession`, as a program embedding the recorder uses them, and its errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tracekit import load_trace, run_python

import codetracer_recorder
from codetracer_recorder import _native

EXCEPTIONS = ["RecorderError", "UsageError", "EnvironmentError", "TargetError", "InternalError"]


def run_embedding(program, source: str, *args: str):
    """Write and run (plainly, not under the CLI) a program that uses the API itself;
    its last stdout line is JSON, returned decoded with the run."""
    prog = program(source)
    run = run_python([prog.path, *args], cwd=prog.path.parent)
    assert run.returncode == 0, run
    return json.loads(run.stdout.splitlines()[-1]), prog


WORK = """
import json, os, sys
import codetracer_recorder

def work(n):
    return n + 1
"""


def test_start_and_stop_record_only_what_runs_in_between(program, tmp_path):
    report, prog = run_embedding(
        program,
        WORK
        + """
work(0)
session = codetracer_recorder.start(sys.argv[1])
during = codetracer_recorder.is_tracing()
summary_during = session.summary
work(1)
summary = codetracer_recorder.stop(exit_code=0)
work(2)
print(json.dumps({
    "session_summary": [summary_during, session.summary == summary],
    "during": during,
    "after": codetracer_recorder.is_tracing(),
    "summary": summary,
    "path": str(session.path),
    "format": session.format,
    "trace_id": session.trace_id,
}, default=str))
""",
        str(tmp_path / "trace"),
    )
    assert report["during"] is True
    assert report["after"] is False
    assert report["session_summary"] == [None, True]
    assert Path(report["path"]) == tmp_path / "trace"
    assert report["format"] == "json"
    assert re.fullmatch(r"[0-9a-f]{32}", report["trace_id"])
    summary = report["summary"]
    assert summary["trace_id"] == report["trace_id"]
    assert Path(summary["path"]).resolve() == (tmp_path / "trace").resolve()
    assert summary["format"] == "json"
    trace = load_trace(tmp_path / "trace", main=prog.path)
    assert [(c.args, c.return_value) for c in trace.calls("work")] == [({"n": 1}, 2)]
    assert trace.exit_status == 0
    assert trace.metadata["trace_id"] == report["trace_id"]
    assert summary["calls"] == trace.summary["calls"]
    assert summary["events"] == trace.summary["events"]


def test_stop_without_exit_code_ends_the_trace_with_none(program, tmp_path):
    _, prog = run_embedding(
        program,
        WORK
        + """
codetracer_recorder.start(sys.argv[1])
work(5)
codetracer_recorder.stop()
print("{}")
""",
        str(tmp_path / "trace"),
    )
    trace = load_trace(tmp_path / "trace", main=prog.path)
    assert trace.exit_status is None
    assert trace.returns("work") == [6]


def test_start_with_options_applies_them(program, tmp_path):
    report, prog = run_embedding(
        program,
        WORK
        + """
session = codetracer_recorder.start(sys.argv[1], format="binary", capture="args",
                                    program="my-program", args=["--flag"])
work(7)
codetracer_recorder.stop(exit_code=4)
print(json.dumps({"format": session.format}))
""",
        str(tmp_path / "trace"),
    )
    assert report["format"] == "binary"
    trace = load_trace(tmp_path / "trace", main=prog.path)
    assert (tmp_path / "trace" / "trace.bin").is_file()
    assert trace.calls("work")[0].args == {"n": 7}
    assert trace.count("Value") == 0
    assert trace.metadata["program"] == "my-program"
    assert trace.metadata["args"] == ["--flag"]
    assert trace.exit_status == 4


def test_flush_keeps_recording_and_the_trace_stays_invisible_until_stop(program, tmp_path):
    report, prog = run_embedding(
        program,
        WORK
        + """
session = codetracer_recorder.start(sys.argv[1])
work(1)
codetracer_recorder.flush()
session.flush()
visible = os.path.exists(sys.argv[1])
still = codetracer_recorder.is_tracing()
work(2)
session.stop()
print(json.dumps({"visible": visible, "still": still}))
""",
        str(tmp_path / "trace"),
    )
    assert report == {"visible": False, "still": True}
    trace = load_trace(tmp_path / "trace", main=prog.path)
    assert trace.returns("work") == [2, 3]


def test_trace_context_manager_records_the_block(program, tmp_path):
    report, prog = run_embedding(
        program,
        WORK
        + """
from pathlib import Path
with codetracer_recorder.trace(Path(sys.argv[1])) as session:
    inside = codetracer_recorder.is_tracing()
    work(3)
print(json.dumps({"inside": inside, "after": codetracer_recorder.is_tracing(),
                  "path": str(session.path)}))
""",
        str(tmp_path / "trace"),
    )
    assert report == {"inside": True, "after": False, "path": str(tmp_path / "trace")}
    trace = load_trace(tmp_path / "trace", main=prog.path)
    assert trace.returns("work") == [4]


def test_trace_context_manager_stops_and_writes_when_the_block_raises(program, tmp_path):
    report, prog = run_embedding(
        program,
        WORK
        + """
try:
    with codetracer_recorder.trace(sys.argv[1]):
        work(4)
        raise KeyError("oops")
except KeyError as exc:
    caught = repr(exc)
print(json.dumps({"caught": caught, "after": codetracer_recorder.is_tracing()}))
""",
        str(tmp_path / "trace"),
    )
    assert report == {"caught": "KeyError('oops')", "after": False}
    trace = load_trace(tmp_path / "trace", main=prog.path)
    assert trace.returns("work") == [5]


def test_session_is_a_context_manager(program, tmp_path):
    report, prog = run_embedding(
        program,
        WORK
        + """
with codetracer_recorder.start(sys.argv[1]):
    work(8)
print(json.dumps({"after": codetracer_recorder.is_tracing()}))
""",
        str(tmp_path / "trace"),
    )
    assert report == {"after": False}
    assert load_trace(tmp_path / "trace", main=prog.path).returns("work") == [9]


def test_second_start_raises_already_tracing_and_keeps_the_first(program, tmp_path):
    report, prog = run_embedding(
        program,
        WORK
        + """
codetracer_recorder.start(sys.argv[1])
try:
    codetracer_recorder.start(sys.argv[2])
except codetracer_recorder.UsageError as exc:
    error = {"code": exc.code, "kind": exc.kind, "message": str(exc),
             "is_recorder_error": isinstance(exc, codetracer_recorder.RecorderError)}
still = codetracer_recorder.is_tracing()
work(1)
codetracer_recorder.stop()
print(json.dumps({"error": error, "still": still}))
""",
        str(tmp_path / "first"),
        str(tmp_path / "second"),
    )
    assert report["error"]["code"] == "ERR_ALREADY_TRACING"
    assert report["error"]["kind"] == "usage"
    assert report["error"]["is_recorder_error"] is True
    assert report["error"]["message"]
    assert report["still"] is True
    assert load_trace(tmp_path / "first", main=prog.path).returns("work") == [2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "prog.py"]


def test_starting_inside_a_function_and_stopping_after_it_returned_stays_balanced(
    program, tmp_path
):
    _, prog = run_embedding(
        program,
        WORK
        + """
def begin(path):
    codetracer_recorder.start(path)
    return work(1)

def finish():
    work(2)
    codetracer_recorder.stop(exit_code=0)
    return "never recorded"

begin(sys.argv[1])
work(3)
finish()
print("{}")
""",
        str(tmp_path / "trace"),
    )
    trace = load_trace(tmp_path / "trace", main=prog.path)
    assert trace.returns("work") == [2, 4, 3]


def test_a_new_session_records_code_the_previous_one_had_filtered_out(program, tmp_path):
    program("def triple(x):\n    return 3 * x\n", name="helper.py")
    _, prog = run_embedding(
        program,
        WORK
        + """
import helper
codetracer_recorder.start(sys.argv[1], exclude=["helper"])
helper.triple(1)
codetracer_recorder.stop()
codetracer_recorder.start(sys.argv[2])
helper.triple(2)
codetracer_recorder.stop()
print("{}")
""",
        str(tmp_path / "first"),
        str(tmp_path / "second"),
    )
    first = load_trace(tmp_path / "first", main=prog.path)
    second = load_trace(tmp_path / "second", main=prog.path)
    assert first.calls("triple") == []
    assert second.returns("triple") == [6]


def test_tool_id_held_by_another_tool_is_an_environment_error_naming_it(program, tmp_path):
    report, _ = run_embedding(
        program,
        WORK
        + """
sys.monitoring.use_tool_id(codetracer_recorder._native.TOOL_ID, "other-profiler")
try:
    codetracer_recorder.start(sys.argv[1])
except codetracer_recorder.EnvironmentError as exc:
    error = {"code": exc.code, "kind": exc.kind, "message": str(exc)}
print(json.dumps({"error": error, "tracing": codetracer_recorder.is_tracing()}))
""",
        str(tmp_path / "trace"),
    )
    assert report["error"]["code"] == "ERR_TRACER_INSTALL_CONFLICT"
    assert report["error"]["kind"] == "environment"
    assert "other-profiler" in report["error"]["message"]
    assert report["tracing"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prog.py"]


# In-process: errors raised before any recording starts.


def test_error_classes_form_one_hierarchy():
    for name in EXCEPTIONS:
        cls = getattr(codetracer_recorder, name)
        assert issubclass(cls, codetracer_recorder.RecorderError)
        assert issubclass(cls, Exception)


def test_stop_when_not_tracing_raises_not_tracing():
    assert codetracer_recorder.is_tracing() is False
    with pytest.raises(codetracer_recorder.UsageError) as info:
        codetracer_recorder.stop()
    assert info.value.code == "ERR_NOT_TRACING"
    assert info.value.kind == "usage"
    assert isinstance(info.value.context, dict)


def test_start_into_a_file_raises_trace_dir_conflict(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(codetracer_recorder.UsageError) as info:
        codetracer_recorder.start(str(blocker))
    assert info.value.code == "ERR_TRACE_DIR_CONFLICT"
    assert codetracer_recorder.is_tracing() is False
    assert blocker.read_text() == "x"


def test_start_with_unknown_format_raises_unsupported_format(tmp_path):
    with pytest.raises(codetracer_recorder.UsageError) as info:
        codetracer_recorder.start(str(tmp_path / "trace"), format="xml")
    assert info.value.code == "ERR_UNSUPPORTED_FORMAT"
    assert codetracer_recorder.is_tracing() is False
    assert list(tmp_path.iterdir()) == []


def test_start_with_unknown_capture_mode_raises_usage_error(tmp_path):
    with pytest.raises(codetracer_recorder.UsageError) as info:
        codetracer_recorder.start(str(tmp_path / "trace"), capture="everything")
    assert info.value.code.startswith("ERR_")
    assert codetracer_recorder.is_tracing() is False
    assert list(tmp_path.iterdir()) == []


def test_native_and_package_versions_agree():
    assert codetracer_recorder.__version__ == _native.__version__
