"""The ``codetracer.recording`` span: one per session, its trace id rules, attributes,
events and the exception of a failed session."""

import json
import os
from pathlib import Path

import pytest
from opentelemetry import trace
from otelkit import SCENARIO_PRELUDE, Telemetry
from tracekit import run_python

import codetracer_recorder
from codetracer_recorder import otel
from codetracer_recorder.otel.resource import run_id

TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture
def telemetry():
    """Fresh in-memory providers handed to the bridge; forgotten after the test."""
    installed = Telemetry.installed()
    yield installed
    otel.uninstall()


def work(n):
    return sum(range(n))


def test_a_root_session_has_the_recorders_trace_id_as_its_otel_trace_id(telemetry, tmp_path):
    session = codetracer_recorder.start(tmp_path / "trace")
    work(3)
    summary = session.stop()
    (span,) = telemetry.spans()
    assert span["name"] == "codetracer.recording"
    assert span["trace_id"] == session.trace_id == summary["trace_id"]
    assert span["parent"] is None
    assert span["attributes"]["codetracer.trace.id"] == session.trace_id
    assert span["status"] == "UNSET"


def test_the_span_carries_path_format_policy_outcome_and_counts(telemetry, tmp_path):
    codetracer_recorder.configure_policy(keep_partial_trace=True)
    session = codetracer_recorder.start(tmp_path / "trace", format="binary")
    work(3)
    summary = session.stop()
    attributes = telemetry.spans()[0]["attributes"]
    assert attributes["codetracer.trace.path"] == str(tmp_path / "trace")
    assert attributes["codetracer.trace.format"] == "binary"
    assert attributes["codetracer.trace.partial"] is False
    assert attributes["codetracer.policy.on_recorder_error"] == "abort"
    assert attributes["codetracer.policy.keep_partial_trace"] is True
    assert attributes["codetracer.policy.require_trace"] is False
    assert attributes["codetracer.recording.outcome"] == "complete"
    for name in ("events", "calls", "steps", "values", "bytes"):
        assert attributes[f"codetracer.recording.{name}"] == summary[name]
    assert summary["calls"] >= 1 and summary["bytes"] > 0
    assert attributes["codetracer.run.id"] == run_id()


def test_inside_an_active_span_the_recording_is_its_child_and_keeps_its_own_trace_id(
    telemetry, tmp_path
):
    host = telemetry.tracer_provider.get_tracer("host")
    with host.start_as_current_span("request") as parent:
        session = codetracer_recorder.start(tmp_path / "trace")
        work(3)
        session.stop()
    recording, request = telemetry.spans()
    assert request["name"] == "request"
    parent_context = parent.get_span_context()
    assert recording["parent"] == f"{parent_context.span_id:016x}"
    assert recording["trace_id"] == request["trace_id"] == f"{parent_context.trace_id:032x}"
    assert recording["trace_id"] != session.trace_id
    assert recording["attributes"]["codetracer.trace.id"] == session.trace_id


def test_traceparent_in_the_environment_makes_the_recording_a_child_there(
    telemetry, tmp_path, monkeypatch
):
    parent_trace, parent_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    monkeypatch.setenv("TRACEPARENT", f"00-{parent_trace}-{parent_span}-01")
    session = codetracer_recorder.start(tmp_path / "trace")
    session.stop()
    (span,) = telemetry.spans()
    assert span["trace_id"] == parent_trace
    assert span["parent"] == parent_span
    assert span["attributes"]["codetracer.trace.id"] == session.trace_id != parent_trace


def test_a_malformed_traceparent_is_ignored_and_the_session_is_a_root(
    telemetry, tmp_path, monkeypatch
):
    monkeypatch.setenv("TRACEPARENT", "not-a-traceparent")
    session = codetracer_recorder.start(tmp_path / "trace")
    session.stop()
    (span,) = telemetry.spans()
    assert span["trace_id"] == session.trace_id and span["parent"] is None


def test_the_hosts_own_root_spans_keep_their_random_trace_ids(telemetry, tmp_path):
    session = codetracer_recorder.start(tmp_path / "trace")
    session.stop()
    with telemetry.tracer_provider.get_tracer("host").start_as_current_span("later"):
        pass
    recording, later = telemetry.spans()
    assert later["trace_id"] != recording["trace_id"] == session.trace_id


def test_otel_false_and_otel_sdk_disabled_keep_a_session_out_of_opentelemetry(
    telemetry, tmp_path, monkeypatch
):
    codetracer_recorder.start(tmp_path / "a", otel=False).stop()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    codetracer_recorder.start(tmp_path / "b").stop()
    assert telemetry.spans() == []
    assert "codetracer.recorder.recordings" not in telemetry.metrics()
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    codetracer_recorder.start(tmp_path / "c").stop()
    assert len(telemetry.spans()) == 1


def test_otel_takes_a_bool(tmp_path):
    with pytest.raises(codetracer_recorder.UsageError) as info:
        codetracer_recorder.start(tmp_path / "trace", otel="no")  # type: ignore[arg-type]
    assert info.value.code == "ERR_INVALID_POLICY_VALUE"


def test_without_install_or_exporters_no_span_is_made_anywhere(tmp_path):
    # The host has no providers: nothing to report to, so no bridge (and no SDK import
    # is needed; see test_otel_export for the process-level check).
    session = codetracer_recorder.start(tmp_path / "trace")
    assert session._otel is None
    session.stop()
    assert not isinstance(trace.get_tracer_provider(), type(Telemetry().tracer_provider))


def _scenario(tmp_path, body, inject):
    script = tmp_path / "prog.py"
    script.write_text(SCENARIO_PRELUDE + body, encoding="utf-8")
    run = run_python(
        [script, tmp_path / "trace"],
        cwd=tmp_path,
        env={"CODETRACER_TEST_INJECT": inject, "PYTHONPATH": TESTS},
    )
    assert run.returncode == 0, run
    return json.loads(run.stdout.splitlines()[-1])


ABORTED = """
codetracer_recorder.start(sys.argv[1])
work(10)
try:
    codetracer_recorder.stop()
except codetracer_recorder.RecorderError as error:
    telemetry.dump(code=error.code, message=str(error))
"""


def test_a_recorder_error_raised_by_stop_is_an_exception_on_the_span_with_status_error(
    tmp_path,
):
    report = _scenario(tmp_path, ABORTED, "panic:on_line@3")
    assert report["code"] == "ERR_PANIC"
    (span,) = report["spans"]
    assert span["status"] == "ERROR"
    assert span["status_description"] == report["message"]
    assert span["attributes"]["error.type"] == "ERR_PANIC"
    assert span["attributes"]["codetracer.recording.outcome"] == "aborted"
    events = {event["name"]: event["attributes"] for event in span["events"]}
    assert events["exception"]["exception.type"].endswith("InternalError")
    assert events["exception"]["exception.message"] == report["message"]
    assert events["exception"]["error.type"] == "ERR_PANIC"
    assert events["codetracer.panic"] == {
        "error.type": "ERR_PANIC",
        "codetracer.panic.site": "on_line",
    }
    assert "codetracer.detach" not in events


DISABLED = """
codetracer_recorder.start(sys.argv[1], policy={"on_recorder_error": "disable",
                                               "keep_partial_trace": KEEP})
work(10)
summary = codetracer_recorder.stop()
telemetry.dump(code=summary["error"].code, partial=summary["partial"])
"""


@pytest.mark.parametrize(("keep", "outcome"), [(True, "partial"), (False, "detached")])
def test_a_detach_under_disable_is_a_span_event_with_its_error_type(tmp_path, keep, outcome):
    report = _scenario(tmp_path, DISABLED.replace("KEEP", str(keep)), "panic:on_line@3")
    assert report["code"] == "ERR_PANIC" and report["partial"] is keep
    (span,) = report["spans"]
    assert span["status"] == "ERROR"
    assert span["attributes"]["codetracer.recording.outcome"] == outcome
    assert span["attributes"]["codetracer.trace.partial"] is keep
    names = [event["name"] for event in span["events"]]
    assert "codetracer.detach" in names and "exception" in names
    assert ("codetracer.partial_trace" in names) is keep
    for event in span["events"]:
        assert event["attributes"]["error.type"] == "ERR_PANIC"


def test_a_forked_child_does_not_end_its_parents_span(telemetry, tmp_path):
    session = codetracer_recorder.start(tmp_path / "trace")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: stopping the parent's session must not report its span
        os.close(read)
        try:
            session.stop()
        except codetracer_recorder.RecorderError:
            pass
        os.write(write, str(len(telemetry.spans())).encode())
        os._exit(0)
    os.close(write)
    child_spans = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    session.stop()
    assert child_spans == "0"
    assert len(telemetry.spans()) == 1


GLOBAL_PROVIDERS = """
import json, sys
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import codetracer_recorder

exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
ids = []
for n in range(2):
    session = codetracer_recorder.start(sys.argv[1] + str(n))
    session.stop()
    ids.append(session.trace_id)
spans = [f"{s.get_span_context().trace_id:032x}" for s in exporter.get_finished_spans()]
(recordings,) = [m for rm in reader.get_metrics_data().resource_metrics
                 for sm in rm.scope_metrics for m in sm.metrics
                 if m.name == "codetracer.recorder.recordings"]
print(json.dumps({"ids": ids, "spans": spans,
                  "recordings": [p.value for p in recordings.data.data_points]}))
"""


def test_global_sdk_providers_set_by_the_host_are_used_without_install(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(GLOBAL_PROVIDERS, encoding="utf-8")
    run = run_python([script, tmp_path / "trace"], cwd=tmp_path)
    assert run.returncode == 0, run
    report = json.loads(run.stdout)
    assert report["spans"] == report["ids"]
    assert report["recordings"] == [2], "one set of instruments for both sessions"
    assert run.stderr == "", "no duplicate-instrument warnings"
