"""Story 4: the recorder's logs are JSON lines with run_id, trace_id, level, message,
error_code and source location, on stderr or the policy's log file."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from tracekit import run_python

import codetracer_recorder
from codetracer_recorder import _native, recorder_log

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
PACKAGE = Path(codetracer_recorder.__file__).parent


def records(text: str) -> list[dict[str, Any]]:
    """Every JSON line of a stderr or log file; any other line there fails the test."""
    found = []
    for line in text.splitlines():
        assert line.startswith("{"), f"not a JSON record: {line!r}"
        found.append(json.loads(line))
    return found


def assert_well_formed(record: dict[str, Any]) -> None:
    """The fields every record has, with their formats."""
    assert TS.match(record["ts"]), record
    assert record["level"] in {"error", "warn", "info", "debug", "trace"}
    assert isinstance(record["target"], str) and record["target"]
    assert UUID.match(record["run_id"]), record
    assert isinstance(record["message"], str) and record["message"]
    assert isinstance(record["file"], str) and record["file"]
    assert isinstance(record["line"], int) and record["line"] > 0
    if "trace_id" in record:
        assert TRACE_ID.match(record["trace_id"]), record


SESSION = """
    import sys
    import codetracer_recorder
    from codetracer_recorder import recorder_log

    def work(n):
        return n + 1

    recorder_log.log("info", "before the session")
    session = codetracer_recorder.start(sys.argv[1], policy={"log_level": "info"})
    work(1)
    recorder_log.log("info", "during the session")
    codetracer_recorder.stop()
    recorder_log.log("info", "after the session")
    print(session.trace_id)
"""


def test_a_session_logs_json_lines_on_stderr_with_every_field(program, tmp_path):
    prog = program(SESSION)
    run = run_python([prog.path, tmp_path / "trace"], cwd=tmp_path)
    assert run.returncode == 0, run
    trace_id = run.stdout.strip()
    logged = records(run.stderr)
    for record in logged:
        assert_well_formed(record)
        assert "error_code" not in record and "error_kind" not in record
    # "before the session" is below the default filter (warn); the policy then says info.
    assert [r["message"] for r in logged] == [
        f"recording started: trace {trace_id} into {tmp_path / 'trace'}",
        "during the session",
        logged[2]["message"],
        "after the session",
    ]
    started, during, stopped, after = logged
    assert stopped["message"].startswith(f"recording stopped: trace {trace_id} (")
    assert {r["run_id"] for r in logged} == {started["run_id"]}, "one run id per process"
    assert [r.get("trace_id") for r in logged] == [trace_id, trace_id, trace_id, None]
    assert [r["level"] for r in logged] == ["info"] * 4
    assert {r["target"] for r in logged} == {"codetracer_recorder"}
    # Source locations: the core's file for its records, the caller's line for Python's.
    assert started["file"].endswith("src/api.rs") and stopped["file"].endswith("src/api.rs")
    assert (during["file"], during["line"]) == (str(prog.path), prog.line("during the session"))
    assert (after["file"], after["line"]) == (str(prog.path), prog.line("after the session"))


def test_with_a_log_file_records_are_appended_there_and_not_on_stderr(program, tmp_path):
    log_file = tmp_path / "recorder.log"
    log_file.write_text("an earlier line\n")
    log_file.chmod(0o600)
    prog = program(SESSION)
    run = run_python(
        [prog.path, tmp_path / "trace"],
        cwd=tmp_path,
        env={"CODETRACER_LOG_FILE": str(log_file)},
    )
    assert run.returncode == 0, run
    assert run.stderr == ""
    earlier, *logged = log_file.read_text().splitlines()
    assert earlier == "an earlier line"
    parsed = records("\n".join(logged))
    assert [r["message"] for r in parsed][1] == "during the session"
    for record in parsed:
        assert_well_formed(record)


def test_a_new_log_file_is_created_private(program, tmp_path):
    log_file = tmp_path / "new.log"
    prog = program(SESSION)
    run = run_python(
        [prog.path, tmp_path / "trace"], cwd=tmp_path, env={"CODETRACER_LOG_FILE": str(log_file)}
    )
    assert run.returncode == 0, run
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert len(records(log_file.read_text())) == 4


@pytest.mark.parametrize("why", ["missing directory", "symlink"])
def test_a_log_file_that_cannot_be_opened_falls_back_to_stderr_losing_nothing(
    program, tmp_path, why
):
    if why == "symlink":
        log_file = tmp_path / "link.log"
        (tmp_path / "elsewhere.log").write_text("")
        log_file.symlink_to(tmp_path / "elsewhere.log")
    else:
        log_file = tmp_path / "no-such-dir" / "recorder.log"
    prog = program(SESSION)
    run = run_python(
        [prog.path, tmp_path / "trace"], cwd=tmp_path, env={"CODETRACER_LOG_FILE": str(log_file)}
    )
    assert run.returncode == 0, run
    warning, *logged = records(run.stderr)
    assert_well_formed(warning)
    assert warning["level"] == "warn"
    assert warning["error_code"] == "ERR_IO"
    assert warning["error_kind"] == "environment"
    assert warning["context"]["path"] == str(log_file)
    assert warning["context"]["os_error"]
    assert "cannot open the log file" in warning["message"]
    assert len(logged) == 4, "every record still written, on stderr"
    assert logged[1]["message"] == "during the session"
    if why == "symlink":
        assert (tmp_path / "elsewhere.log").read_text() == "", "the symlink was not followed"


def test_an_error_code_scope_marks_every_record_inside_it(capfd):
    codetracer_recorder.configure_policy(log_level="info")
    recorder_log.log("info", "outside")
    with recorder_log.with_error_code("ERR_IO"):
        recorder_log.log("warn", "inside")
        with recorder_log.with_error_code("ERR_TRACE_MISSING"):
            recorder_log.log("warn", "nested")
        recorder_log.log("warn", "own code wins", error_code="ERR_PANIC")
    recorder_log.log("info", "outside again")
    logged = records(capfd.readouterr().err)
    assert [(r["message"], r.get("error_code"), r.get("error_kind")) for r in logged] == [
        ("outside", None, None),
        ("inside", "ERR_IO", "environment"),
        ("nested", "ERR_TRACE_MISSING", "environment"),
        ("own code wins", "ERR_PANIC", "internal"),
        ("outside again", None, None),
    ]


def test_an_error_code_scope_ends_when_its_block_raises(capfd):
    with pytest.raises(ValueError), recorder_log.with_error_code("ERR_IO"):
        raise ValueError
    recorder_log.log("warn", "after")
    (record,) = records(capfd.readouterr().err)
    assert "error_code" not in record


def test_set_active_trace_id_marks_the_records_that_follow(capfd):
    recorder_log.set_active_trace_id("ab" * 16)
    recorder_log.log("warn", "in")
    recorder_log.set_active_trace_id(None)
    recorder_log.log("warn", "out")
    inside, outside = records(capfd.readouterr().err)
    assert inside["trace_id"] == "ab" * 16
    assert "trace_id" not in outside


def test_the_level_filter_takes_target_directives(capfd):
    codetracer_recorder.configure_policy(log_level="codetracer_recorder.plugin=debug,error")
    recorder_log.log("debug", "shown", target="codetracer_recorder.plugin")
    recorder_log.log("debug", "hidden: other target")
    recorder_log.log("warn", "hidden: below error")
    recorder_log.log("error", "shown too")
    assert [r["message"] for r in records(capfd.readouterr().err)] == ["shown", "shown too"]
    codetracer_recorder.configure_policy(log_level="off")
    recorder_log.log("error", "hidden: off")
    assert capfd.readouterr().err == ""


def test_unknown_levels_and_codes_are_usage_errors():
    with pytest.raises(codetracer_recorder.UsageError) as level:
        recorder_log.log("loud", "x")
    assert level.value.code == "ERR_INVALID_POLICY_VALUE"
    with pytest.raises(codetracer_recorder.UsageError) as code:
        _native.log("warn", "x", error_code="ERR_NOPE")
    assert code.value.context == {"option": "error_code", "value": "ERR_NOPE"}


def test_an_invalid_filter_in_the_environment_warns_and_keeps_the_default(program, tmp_path):
    prog = program("""
        from codetracer_recorder import recorder_log
        recorder_log.log("info", "hidden by the default filter")
        recorder_log.log("warn", "shown by the default filter")
    """)
    run = run_python([prog.path], cwd=tmp_path, env={"CODETRACER_LOG_LEVEL": "loud"})
    assert run.returncode == 0, run
    warning, shown = records(run.stderr)
    assert_well_formed(warning)
    assert (warning["level"], warning["error_code"]) == ("warn", "ERR_INVALID_POLICY_VALUE")
    assert '"loud"' in warning["message"] and "default" in warning["message"]
    assert shown["message"] == "shown by the default filter"


def test_the_disable_warning_is_a_log_record(program, tmp_path):
    prog = program("""
        import sys
        import codetracer_recorder

        def work(n):
            total = n
            return total

        codetracer_recorder.start(sys.argv[1], policy={"on_recorder_error": "disable"})
        work(1)
        summary = codetracer_recorder.stop()
        print(summary["trace_id"])
    """)
    run = run_python(
        [prog.path, tmp_path / "trace"],
        cwd=tmp_path,
        env={"CODETRACER_TEST_INJECT": "panic:on_line"},
    )
    assert run.returncode == 0, run
    # Rust's panic message comes first (the panic hook's text, not a record).
    (warning,) = records("\n".join(x for x in run.stderr.splitlines() if x.startswith("{")))
    assert_well_formed(warning)
    assert warning["level"] == "warn"
    assert warning["target"] == "codetracer_recorder"
    assert warning["trace_id"] == run.stdout.strip()
    assert (warning["error_code"], warning["error_kind"]) == ("ERR_PANIC", "internal")
    assert warning["context"] == {"site": "on_line"}
    assert warning["file"].endswith("src/policy.rs")


def test_a_forked_child_gets_its_own_run_id(program, tmp_path):
    prog = program("""
        import os, sys
        from codetracer_recorder import recorder_log
        recorder_log.log("warn", "parent")
        pid = os.fork()
        if pid == 0:
            recorder_log.log("warn", "child")
            os._exit(0)
        os.waitpid(pid, 0)
        recorder_log.log("warn", "parent again")
    """)
    run = run_python([prog.path], cwd=tmp_path)
    assert run.returncode == 0, run
    by_message = {r["message"]: r["run_id"] for r in records(run.stderr)}
    assert by_message["parent"] == by_message["parent again"]
    assert by_message["child"] != by_message["parent"]
    assert all(UUID.match(run_id) for run_id in by_message.values())


def test_a_listener_receives_each_record_as_a_dict(capfd):
    received: list[dict[str, Any]] = []

    def listener(record: dict[str, Any]) -> None:
        received.append(record)
        recorder_log.log("warn", "written by the listener: not passed back to it")

    recorder_log.set_log_listener(listener)
    try:
        with recorder_log.with_error_code("ERR_IO"):
            recorder_log.log("warn", "hello")
    finally:
        recorder_log.set_log_listener(None)
    recorder_log.log("warn", "after removal")
    (record,) = received
    written = records(capfd.readouterr().err)
    assert [r["message"] for r in written] == [
        "hello",
        "written by the listener: not passed back to it",
        "after removal",
    ]
    assert record == {**written[0], "trace_id": None, "context": {}}
    assert record["error_code"] == "ERR_IO"


def test_a_listener_that_raises_becomes_a_warning(capfd):
    def listener(record: dict[str, Any]) -> None:
        raise RuntimeError("listener broke")

    recorder_log.set_log_listener(listener)
    try:
        recorder_log.log("warn", "hello")
    finally:
        recorder_log.set_log_listener(None)
    hello, failure = records(capfd.readouterr().err)
    assert hello["message"] == "hello"
    assert failure["level"] == "warn"
    assert "listener broke" in failure["message"]


def test_nothing_is_written_to_stdout(program, tmp_path):
    prog = program(SESSION)
    run = run_python([prog.path, tmp_path / "trace"], cwd=tmp_path)
    assert run.stdout.strip() and "{" not in run.stdout


def test_run_id_is_the_records_run_id(capfd):
    recorder_log.log("warn", "x")
    (record,) = records(capfd.readouterr().err)
    assert record["run_id"] == recorder_log.run_id()
