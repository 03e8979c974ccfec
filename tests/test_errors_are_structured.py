"""Story 1: every failure reaches Python as `RecorderError` or one of its subclasses
`UsageError`, `EnvironmentError`, `TargetError`, `InternalError`, with `code`, `kind` and
`context` filled from the Rust error, shown here with real failures; a panic in the Rust
core, at an API entry or in a `sys.monitoring` callback, arrives as `InternalError` with
the distinct code `ERR_PANIC`, and the interpreter lives on."""

from __future__ import annotations

import builtins
import json
import re
from pathlib import Path

import pytest
from tracekit import run_python

import codetracer_recorder
from codetracer_recorder import _native, exit_status

README = Path(__file__).resolve().parent.parent / "README.md"

ERROR_CODES = {
    # code: (kind, where a test shows it)
    "ERR_ALREADY_TRACING": ("usage", "test_python_api: second start"),
    "ERR_NOT_TRACING": ("usage", "test_python_api: stop when not tracing"),
    "ERR_TRACE_DIR_CONFLICT": ("usage", "a trace path that is a file, below"),
    "ERR_TRACE_DIR_CREATE_FAILED": ("environment", "a trace path under a regular file, below"),
    "ERR_UNSUPPORTED_FORMAT": ("usage", "test_cli_rejects_bad_input: unknown format"),
    "ERR_INVALID_POLICY_VALUE": ("usage", "a bad policy value, below"),
    "ERR_IO": ("environment", "test_policy_at_runtime: RLIMIT_FSIZE, full disk"),
    "ERR_TRACE_MISSING": ("environment", "test_policy_at_runtime: require_trace"),
    "ERR_TRACE_INCOMPLETE": ("environment", "test_policy_at_runtime: require_trace, disable"),
    "ERR_TRACE_INVALID": ("usage", "a directory that is not a trace, below"),
    "ERR_FRAME_INTROSPECTION_FAILED": ("target", "raised when a code object cannot be read"),
    "ERR_TRACER_INSTALL_CONFLICT": ("environment", "test_python_api: tool id taken"),
    "ERR_TARGET_ARGS": ("target", "a program whose sys.argv holds an int, below"),
    "ERR_TARGET_UNREADABLE": ("usage", "test_cli_rejects_bad_input: missing script"),
    "ERR_PANIC": ("internal", "injected panics, below"),
    "ERR_OTEL_EXPORT": ("environment", "test_otel_export: a closed loopback port"),
}
"""Every code, with its kind, as this suite knows them: the README, the core and this
table must agree, so a new code cannot go undocumented."""

CLASS_OF_KIND = {
    "usage": codetracer_recorder.UsageError,
    "environment": codetracer_recorder.EnvironmentError,
    "target": codetracer_recorder.TargetError,
    "internal": codetracer_recorder.InternalError,
}


@pytest.fixture
def injection() -> None:
    """The tests that inject failures need the test build; they fail, not skip, without it."""
    assert _native.FAULT_INJECTION, (
        "this is not the test build: `make test` builds it (maturin develop --features "
        "'extension-module fault-injection')"
    )


def assert_structured(error: BaseException, code: str, kind: str) -> None:
    """The error is the class of its kind, with its code, kind and a context dict, and
    its message starts with the code."""
    assert isinstance(error, codetracer_recorder.RecorderError)
    assert type(error) is CLASS_OF_KIND[kind], type(error)
    assert error.code == code
    assert error.kind == kind
    assert isinstance(error.context, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in error.context.items())
    assert str(error).startswith(f"[{code}] "), str(error)


def readme_error_table() -> dict[str, str]:
    section = README.read_text(encoding="utf-8").split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(ERR_[A-Z_]+)` \| (\w+) \|", section, re.MULTILINE))


def test_readme_core_and_tests_list_the_same_codes_with_the_same_kinds():
    documented = readme_error_table()
    tested = {code: kind for code, (kind, _) in ERROR_CODES.items()}
    assert list(_native.ERROR_CODES) == list(documented), "README order or codes differ"
    assert dict(_native.ERROR_CODES) == documented
    assert dict(_native.ERROR_CODES) == tested


def test_the_readme_gives_each_kind_its_cli_exit_status():
    readme = README.read_text(encoding="utf-8")
    for kind, status in exit_status.STATUS_BY_KIND.items():
        if kind != "usage":  # 2: the program was not started
            assert re.search(rf"^\| {status} \| an? `{kind}` error", readme, re.MULTILINE), kind


def test_a_trace_path_that_is_a_file_is_a_usage_error_with_its_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(codetracer_recorder.RecorderError) as info:
        codetracer_recorder.start(blocker)
    assert_structured(info.value, "ERR_TRACE_DIR_CONFLICT", "usage")
    assert info.value.context["path"] == str(blocker)


def test_a_trace_path_under_a_regular_file_is_an_environment_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(codetracer_recorder.RecorderError) as info:
        codetracer_recorder.start(blocker / "trace")
    assert_structured(info.value, "ERR_TRACE_DIR_CREATE_FAILED", "environment")
    assert info.value.context["path"] == str(tmp_path / "file")
    assert "os error" in info.value.context["os_error"]
    assert codetracer_recorder.is_tracing() is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_the_recorders_environment_error_is_not_pythons_oserror():
    assert codetracer_recorder.EnvironmentError is not builtins.EnvironmentError
    assert not issubclass(codetracer_recorder.EnvironmentError, OSError)
    assert codetracer_recorder.errors.EnvironmentError is codetracer_recorder.EnvironmentError


def test_a_programs_sys_argv_holding_an_int_is_a_target_error(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.argv", ["prog.py", "--level", 3])
    with pytest.raises(codetracer_recorder.RecorderError) as info:
        codetracer_recorder.start(tmp_path / "trace")
    assert_structured(info.value, "ERR_TARGET_ARGS", "target")
    assert info.value.context == {"argument": "sys.argv[2]"}
    assert "int" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_policy_value_is_a_usage_error_naming_field_and_value():
    with pytest.raises(codetracer_recorder.RecorderError) as info:
        codetracer_recorder.configure_policy(on_recorder_error="explode")
    assert_structured(info.value, "ERR_INVALID_POLICY_VALUE", "usage")
    assert info.value.context["field"] == "on_recorder_error"
    assert info.value.context["value"] == "explode"
    assert info.value.context["accepted"] == "abort, disable"


@pytest.mark.parametrize(
    "call",
    [
        lambda d: codetracer_recorder.start(123),
        lambda d: codetracer_recorder.start(d, include=[1]),
        lambda d: codetracer_recorder.start(d, exclude="*.py"),
        lambda d: codetracer_recorder.start(d, program=3),
        lambda d: codetracer_recorder.start(d, args=["ok", b"bytes"]),
        lambda d: codetracer_recorder.start(d, policy={"json_errors": 2}),
        lambda d: codetracer_recorder.stop(exit_code="3"),
        lambda d: codetracer_recorder.configure_policy(log_file=b"/tmp/x"),
    ],
    ids=["path", "include", "exclude", "program", "args", "policy", "exit_code", "log_file"],
)
def test_a_bad_argument_is_a_usage_error_never_a_bare_type_error(tmp_path, call):
    with pytest.raises(codetracer_recorder.RecorderError) as info:
        call(tmp_path / "trace")
    assert type(info.value) is codetracer_recorder.UsageError
    assert info.value.code in {"ERR_INVALID_POLICY_VALUE", "ERR_NOT_TRACING"}
    assert codetracer_recorder.is_tracing() is False
    assert list(tmp_path.iterdir()) == []


def test_a_directory_that_is_not_a_trace_is_a_usage_error(tmp_path):
    with pytest.raises(codetracer_recorder.RecorderError) as info:
        _native.trace_summary(str(tmp_path))
    assert_structured(info.value, "ERR_TRACE_INVALID", "usage")
    assert info.value.context["path"] == str(tmp_path)


def test_a_panic_at_an_api_entry_is_an_internal_error_and_the_interpreter_lives_on(
    tmp_path, monkeypatch, injection
):
    monkeypatch.setenv("CODETRACER_TEST_INJECT", "panic:start_recording")
    with pytest.raises(codetracer_recorder.RecorderError) as info:
        codetracer_recorder.start(tmp_path / "first")
    assert_structured(info.value, "ERR_PANIC", "internal")
    assert info.value.context == {"site": "start_recording"}
    assert "injected panic at start_recording" in str(info.value)
    assert codetracer_recorder.is_tracing() is False
    assert list(tmp_path.iterdir()) == []
    # The panic fired once; the core still works.
    monkeypatch.delenv("CODETRACER_TEST_INJECT")
    with pytest.raises(codetracer_recorder.UsageError):
        codetracer_recorder.configure_policy(require_trace="maybe")


PANIC_IN_A_CALLBACK = """
import json, sys
import codetracer_recorder

def work(n):
    total = 0
    for i in range(n):
        total += i
    return total

codetracer_recorder.start(sys.argv[1])
first = work(10)
tracing = codetracer_recorder.is_tracing()
try:
    codetracer_recorder.stop()
    error = None
except codetracer_recorder.RecorderError as exc:
    error = {"class": type(exc).__name__, "code": exc.code, "kind": exc.kind,
             "context": exc.context, "message": str(exc)}
print(json.dumps({"first": first, "after": work(5), "tracing_before_stop": tracing,
                  "tracing_after_stop": codetracer_recorder.is_tracing(), "error": error}))
"""


@pytest.mark.parametrize(
    ("inject", "site", "message"),
    [
        ("panic:on_line@3", "on_line", "internal error in on_line"),
        ("panic:on_py_start@2", "on_py_start", "internal error in on_py_start"),
        ("panic:writer", "writer", "the trace writer thread panicked"),
    ],
)
def test_a_panic_while_recording_surfaces_from_stop_as_internal_error(
    program, tmp_path, injection, inject, site, message
):
    prog = program(PANIC_IN_A_CALLBACK)
    run = run_python(
        [prog.path, tmp_path / "trace"], cwd=tmp_path, env={"CODETRACER_TEST_INJECT": inject}
    )
    assert run.returncode == 0, run
    report = json.loads(run.stdout)
    assert report["first"] == 45 and report["after"] == 10, "the program ran on"
    assert report["tracing_before_stop"] is True, "abort keeps the session until stop"
    assert report["tracing_after_stop"] is False
    assert report["error"]["class"] == "InternalError"
    assert report["error"]["code"] == "ERR_PANIC"
    assert report["error"]["kind"] == "internal"
    assert report["error"]["context"] == {"site": site}
    assert report["error"]["message"].startswith(f"[ERR_PANIC] {message}")
    assert not (tmp_path / "trace").exists()
