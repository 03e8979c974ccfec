"""Story 5: with json_errors, each RecorderError that reaches Python is one JSON trailer
line (run_id, trace_id, error_code, error_kind, message, context), flushed at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tracekit import error_lines, run_cli, run_python

import codetracer_recorder
from codetracer_recorder import _native

KEYS = ["run_id", "trace_id", "error_code", "error_kind", "message", "context"]


@pytest.fixture
def trailers() -> Iterator[list[str]]:
    """The trailers written in this process, through the documented test hook."""
    lines: list[str] = []
    _native.set_trailer_writer(lines.append)
    yield lines
    _native.set_trailer_writer(None)


def expected(error: codetracer_recorder.RecorderError, trace_id: str | None) -> dict[str, Any]:
    """The trailer an error must have: its own fields, exactly."""
    return {
        "run_id": _native.run_id(),
        "trace_id": trace_id,
        "error_code": error.code,
        "error_kind": error.kind,
        "message": str(error).removeprefix(f"[{error.code}] "),
        "context": error.context,
    }


def test_a_usage_error_has_an_exact_trailer(trailers, tmp_path):
    codetracer_recorder.configure_policy(json_errors=True)
    not_a_dir = tmp_path / "trace"
    not_a_dir.write_text("a file where the trace should go")
    with pytest.raises(codetracer_recorder.UsageError) as raised:
        codetracer_recorder.start(not_a_dir)
    error = raised.value
    assert error.code == "ERR_TRACE_DIR_CONFLICT"
    (line,) = trailers
    payload = json.loads(line)
    assert list(payload) == KEYS
    assert payload == expected(error, None)
    assert payload["context"]["path"] == str(not_a_dir)
    assert payload["error_kind"] == "usage"


def test_an_environment_error_has_an_exact_trailer(trailers, tmp_path):
    codetracer_recorder.configure_policy(json_errors=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(codetracer_recorder.EnvironmentError) as raised:
        codetracer_recorder.start(tmp_path / "file" / "sub" / "trace")
    error = raised.value
    assert error.kind == "environment"
    (line,) = trailers
    assert json.loads(line) == expected(error, None)


def test_no_trailer_without_json_errors(trailers, tmp_path):
    (tmp_path / "trace").write_text("")
    with pytest.raises(codetracer_recorder.UsageError):
        codetracer_recorder.start(tmp_path / "trace")
    assert trailers == []


def test_a_python_side_usage_error_has_a_trailer_too(trailers, tmp_path):
    codetracer_recorder.configure_policy(json_errors=True)
    with pytest.raises(codetracer_recorder.UsageError) as raised:
        codetracer_recorder.start(tmp_path / "trace", format="xml")  # type: ignore[arg-type]
    (line,) = trailers
    assert json.loads(line) == expected(raised.value, None)


def test_a_trailer_file_gets_each_line_at_once(tmp_path):
    out = tmp_path / "trailers.jsonl"
    _native.set_trailer_writer(out)
    try:
        codetracer_recorder.configure_policy(json_errors=True)
        for _ in range(2):
            with pytest.raises(codetracer_recorder.UsageError):
                codetracer_recorder.stop()
            # Flushed when the error is raised, not at exit.
            assert out.read_text().endswith("\n")
    finally:
        _native.set_trailer_writer(None)
    first, second = (json.loads(line) for line in out.read_text().splitlines())
    assert first == second
    assert first["error_code"] == "ERR_NOT_TRACING"


PANIC = """
    import json, sys
    import codetracer_recorder
    from codetracer_recorder import _native

    def work(n):
        total = n * 2
        return total

    _native.set_trailer_writer(sys.argv[2])
    session = codetracer_recorder.start(sys.argv[1], policy={"json_errors": True})
    work(1)
    try:
        codetracer_recorder.stop()
    except codetracer_recorder.InternalError as error:
        print(json.dumps({"trace_id": session.trace_id, "run_id": _native.run_id(),
                          "code": error.code, "kind": error.kind, "context": error.context,
                          "message": str(error)}))
"""


def test_an_injected_panic_has_an_exact_trailer_naming_the_trace(program, tmp_path):
    prog = program(PANIC)
    out = tmp_path / "trailers.jsonl"
    run = run_python(
        [prog.path, tmp_path / "trace", out],
        cwd=tmp_path,
        env={"CODETRACER_TEST_INJECT": "panic:on_line"},
    )
    assert run.returncode == 0, run
    raised = json.loads(run.stdout)
    (line,) = out.read_text().splitlines()
    payload = json.loads(line)
    assert list(payload) == KEYS
    assert payload == {
        "run_id": raised["run_id"],
        "trace_id": raised["trace_id"],
        "error_code": "ERR_PANIC",
        "error_kind": "internal",
        "message": raised["message"].removeprefix("[ERR_PANIC] "),
        "context": {"site": "on_line"},
    }
    assert payload["message"].startswith("internal error in on_line: ")


def trailer_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith('{"run_id"')]


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        (["--codetracer-json-errors"], {}),
        (["--json-errors=yes"], {}),
        ([], {"CODETRACER_JSON_ERRORS": "1"}),
    ],
)
def test_the_cli_writes_the_trailer_on_stderr(program, tmp_path, flags, env):
    prog = program("print('ran')")
    (tmp_path / "trace").write_text("")
    run = run_cli([*flags, "--trace-dir", tmp_path / "trace", prog.path], cwd=tmp_path, env=env)
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert error_lines(run.stderr) == ["ERR_TRACE_DIR_CONFLICT"]
    (payload,) = trailer_lines(run.stderr)
    assert list(payload) == KEYS
    assert payload["error_code"] == "ERR_TRACE_DIR_CONFLICT"
    assert payload["error_kind"] == "usage"
    assert payload["trace_id"] is None
    assert payload["context"]["path"] == str(tmp_path / "trace")
    assert len(run.stderr.splitlines()) == 2, "the error line and its trailer, nothing more"


@pytest.mark.parametrize(
    ("flags", "bad_flag"),
    [
        (
            ["--codetracer-on-recorder-error=bogus", "--codetracer-json-errors"],
            "--codetracer-on-recorder-error",
        ),
        (["--json-errors", "--log-level=nope"], "--log-level"),
    ],
)
def test_a_bad_policy_flag_beside_json_errors_gets_its_trailer(program, tmp_path, flags, bad_flag):
    """--json-errors applies to the error of the flags given with it, whatever their order."""
    prog = program("print('ran')")
    run = run_cli([*flags, "--trace-dir", tmp_path / "trace", prog.path], cwd=tmp_path)
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert error_lines(run.stderr) == ["ERR_INVALID_POLICY_VALUE"]
    (payload,) = trailer_lines(run.stderr)
    assert payload["error_code"] == "ERR_INVALID_POLICY_VALUE"
    assert payload["context"]["source"] == bad_flag


def test_the_cli_writes_no_trailer_by_default(program, tmp_path):
    prog = program("print('ran')")
    (tmp_path / "trace").write_text("")
    run = run_cli(["--trace-dir", tmp_path / "trace", prog.path], cwd=tmp_path)
    assert run.returncode == 2
    assert trailer_lines(run.stderr) == []


def test_the_cli_trailer_of_an_error_at_stop_names_the_trace(program, tmp_path):
    prog = program("""
        def work(n):
            return n + 1
        work(1)
    """)
    run = run_cli(
        ["--codetracer-json-errors", "--trace-dir", tmp_path / "trace", prog.path],
        cwd=tmp_path,
        env={"CODETRACER_TEST_INJECT": "panic:on_line"},
    )
    assert run.returncode == 70, run
    assert error_lines(run.stderr) == ["ERR_PANIC"]
    (payload,) = trailer_lines(run.stderr)
    assert payload["error_code"] == "ERR_PANIC"
    assert len(payload["trace_id"]) == 32
    assert payload["context"] == {"site": "on_line"}


def test_the_trailer_writer_rejects_what_is_neither_path_nor_callable():
    with pytest.raises(codetracer_recorder.UsageError):
        _native.set_trailer_writer(42)


def test_trailer_writer_paths_may_be_path_objects(tmp_path):
    out = Path(tmp_path / "t.jsonl")
    _native.set_trailer_writer(out)
    _native.set_trailer_writer(None)
    assert not out.exists(), "nothing written until an error"
