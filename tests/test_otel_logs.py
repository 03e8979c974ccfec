"""Recorder log records as OTel log records: severity, body, error.type, code.*, and the
trace context of the recording span; real failures through the Rust logger's listener."""

import json
from pathlib import Path

import pytest
from otelkit import SCENARIO_PRELUDE, Telemetry
from tracekit import run_python

import codetracer_recorder
from codetracer_recorder import _native, otel
from codetracer_recorder.otel.logs import LogBridge

TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture
def telemetry():
    installed = Telemetry.installed()
    yield installed
    otel.uninstall()
    _native.set_log_listener(None)


DETACHED = """
codetracer_recorder.start(sys.argv[1], policy={"on_recorder_error": "disable"})
work(10)
summary = codetracer_recorder.stop()
telemetry.dump(trace_id=summary["trace_id"], code=summary["error"].code)
"""


@pytest.mark.parametrize(
    ("inject", "code", "kind"),
    [("panic:on_line@3", "ERR_PANIC", "internal"), ("io:writer", "ERR_IO", "environment")],
)
def test_a_real_failure_is_a_log_record_with_error_type_in_the_recording_spans_context(
    tmp_path, inject, code, kind
):
    script = tmp_path / "prog.py"
    script.write_text(SCENARIO_PRELUDE + DETACHED, encoding="utf-8")
    run = run_python(
        [script, tmp_path / "trace"],
        cwd=tmp_path,
        env={"CODETRACER_TEST_INJECT": inject, "PYTHONPATH": TESTS},
    )
    assert run.returncode == 0, run
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["code"] == code
    (span,) = report["spans"]
    failures = [r for r in report["logs"] if r["attributes"].get("error.type") == code]
    assert failures, report["logs"]
    record = failures[0]
    assert record["severity_text"] in ("WARN", "ERROR")
    assert record["severity_number"] in (13, 17)
    assert record["event_name"] == "codetracer.error"
    assert record["attributes"]["codetracer.error.kind"] == kind
    assert record["attributes"]["codetracer.trace.id"] == report["trace_id"]
    assert record["attributes"]["codetracer.run.id"] == span["attributes"]["codetracer.run.id"]
    assert record["attributes"]["code.file.path"]
    assert isinstance(record["attributes"]["code.line.number"], int)
    assert record["body"]
    assert record["timestamp"] > 0
    # The recording span's context: one id joins logs and spans.
    assert record["trace_id"] == span["trace_id"] == report["trace_id"]
    assert record["span_id"] == span["span_id"]
    # The JSON line on stderr is still written alongside.
    assert code in run.stderr


def test_each_level_maps_to_its_severity_and_every_field_to_its_attribute(telemetry, tmp_path):
    bridge = LogBridge(telemetry.logger_provider, lambda trace_id: None)
    levels = {
        "error": (17, "ERROR"),
        "warn": (13, "WARN"),
        "info": (9, "INFO"),
        "debug": (5, "DEBUG"),
        "trace": (1, "TRACE"),
    }
    for level in levels:
        bridge.emit(
            {
                "ts": "2026-11-26T09:38:35.123456Z",
                "level": level,
                "target": "codetracer_recorder::writer",
                "run_id": "r-1",
                "trace_id": None,
                "message": f"a {level} record",
                "error_code": "ERR_IO" if level == "error" else None,
                "error_kind": "environment" if level == "error" else None,
                "context": {"path": "/x"} if level == "error" else {},
                "file": "src/recorder/writer.rs",
                "line": 42,
            }
        )
    records = telemetry.logs()
    assert [(r["severity_number"], r["severity_text"]) for r in records] == list(levels.values())
    error = records[0]
    assert error["body"] == "a error record"
    assert error["timestamp"] == 1795685915123456000
    assert error["attributes"] == {
        "codetracer.run.id": "r-1",
        "error.type": "ERR_IO",
        "codetracer.error.kind": "environment",
        "codetracer.log.target": "codetracer_recorder::writer",
        "code.file.path": "src/recorder/writer.rs",
        "code.line.number": 42,
        "codetracer.context.path": "/x",
    }
    assert error["event_name"] == "codetracer.error"
    assert records[1]["event_name"] is None


def test_python_side_recorder_messages_reach_otel_too(telemetry, tmp_path):
    session = codetracer_recorder.start(tmp_path / "trace")
    from codetracer_recorder import recorder_log

    recorder_log.log("warn", "a message from the Python layer")
    session.stop()
    (record,) = [r for r in telemetry.logs() if r["body"] == "a message from the Python layer"]
    (span,) = telemetry.spans()
    assert record["severity_text"] == "WARN"
    assert record["trace_id"] == span["trace_id"] == session.trace_id
    assert record["span_id"] == span["span_id"]
