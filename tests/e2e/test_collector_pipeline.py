"""The recorder's telemetry through a real OpenTelemetry Collector, as operators run it:
spans, logs and metrics over OTLP (gRPC and HTTP), joined by one trace id; a recording
that joins an application's trace; and a Collector that is down or dies, which must
cost the program nothing but a bounded delay and one warning."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from collector import Collector, free_port
from tracekit import child_env

PROGRAM = """
    import sys

    def square(n):
        return n * n

    exec("def generated():\\n    return 1\\ngenerated()")   # <string> code: a dropped event
    print(sum(square(i) for i in range(5)))
    sys.exit(3)
"""


def write(tmp_path: Path, source: str, name: str = "prog.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def record(
    tmp_path: Path,
    script: Path,
    *otel_flags: str,
    env: dict[str, str] | None = None,
    name: str = "trace",
) -> subprocess.CompletedProcess[str]:
    """The CLI on `script`, with JSON logs at info level on stderr."""
    argv = [
        sys.executable,
        "-m",
        "codetracer_recorder",
        "--trace-dir",
        str(tmp_path / name),
        "--codetracer-log-level",
        "info",
        *otel_flags,
        str(script),
    ]
    return subprocess.run(
        argv,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=child_env(env),
        timeout=120,
        check=False,
    )


def otlp_flags(collector: Collector, protocol: str, service: str) -> list[str]:
    return [
        "--traces_exporter",
        "otlp",
        "--logs_exporter",
        "otlp",
        "--metrics_exporter",
        "otlp",
        "--exporter_otlp_protocol",
        protocol,
        "--exporter_otlp_endpoint",
        collector.endpoint(protocol),
        "--service_name",
        service,
    ]


def json_logs(stderr: str) -> list[dict]:
    """The recorder's JSON log lines among the program's stderr."""
    records = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_cli_recording_reaches_the_collector_as_spans_logs_and_metrics(
    tmp_path, collector, protocol
):
    service = f"e2e-{protocol.replace('/', '-')}"
    env = {"CODETRACER_ON_RECORDER_ERROR": "disable", "CODETRACER_TEST_INJECT": "io:writer@2"}
    big = write(tmp_path, PROGRAM.replace("range(5)", "range(200_000)"))
    run = record(tmp_path, big, *otlp_flags(collector, protocol, service), env=env)
    assert run.returncode == 3, run.stderr
    assert run.stdout.strip().isdigit()

    trace_ids = {r["trace_id"] for r in json_logs(run.stderr) if r.get("trace_id")}
    assert len(trace_ids) == 1, run.stderr
    (trace_id,) = trace_ids

    spans = collector.wait_until(
        "the recording span",
        lambda: [s for s in collector.spans() if s["name"] == "codetracer.recording"] or None,
    )
    (span,) = spans
    assert span["traceId"] == trace_id
    assert span.attrs["codetracer.trace.id"] == trace_id
    assert span.resource["service.name"] == service
    run_id = span.resource["codetracer.run.id"]
    assert len(run_id) == 36

    detach_logs = collector.wait_until(
        "a log record with the detach's error code",
        lambda: (
            [r for r in collector.log_records() if r.attrs.get("error.type") == "ERR_IO"] or None
        ),
    )
    assert all(r["traceId"] == trace_id for r in detach_logs)
    assert all(r.resource["codetracer.run.id"] == run_id for r in detach_logs)

    def counters() -> dict[str, int] | None:
        # Cumulative counters: each export repeats the running total, so the latest
        # (largest) point is the value.
        points = collector.metric_points()
        dropped = [
            int(p.get("asInt", 0))
            for p in points
            if p["name"] == "codetracer.recorder.events.dropped"
            and p.attrs.get("reason") == "synthetic_filename"
        ]
        detaches = [
            int(p.get("asInt", 0))
            for p in points
            if p["name"] == "codetracer.recorder.detaches" and p.attrs.get("error.type") == "ERR_IO"
        ]
        return (
            {"dropped": max(dropped), "detaches": max(detaches)} if dropped and detaches else None
        )

    found = collector.wait_until("the dropped-event and detach counters", counters)
    # The exec'd <string> code and every <frozen ...> module first run while recording.
    assert found["dropped"] >= 1
    assert found["detaches"] == 1


APP = """
    import sys
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    import codetracer_recorder

    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1], insecure=True)))
    trace.set_tracer_provider(provider)
    codetracer_recorder.otel.install(tracer_provider=provider)

    def handle(order):
        return order * 2

    tracer = trace.get_tracer("shop")
    with tracer.start_as_current_span("GET /orders") as request:
        with codetracer_recorder.trace(sys.argv[2]):
            handle(21)
        print(format(request.get_span_context().span_id, "016x"), format(request.get_span_context().trace_id, "032x"))
    provider.shutdown()
"""


def test_a_recording_inside_an_application_span_is_its_child(tmp_path, collector):
    app = write(tmp_path, APP, "app.py")
    run = subprocess.run(
        [sys.executable, str(app), collector.endpoint("grpc"), str(tmp_path / "trace")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    request_span_id, app_trace_id = run.stdout.split()

    def recording_span():
        spans = {s["name"]: s for s in collector.spans()}
        return spans if {"GET /orders", "codetracer.recording"} <= spans.keys() else None

    spans = collector.wait_until("the request and recording spans", recording_span)
    recording = spans["codetracer.recording"]
    assert recording["traceId"] == app_trace_id
    assert recording["parentSpanId"] == request_span_id
    assert recording.attrs["codetracer.trace.id"] != app_trace_id


def test_traceparent_makes_the_cli_recording_join_that_trace(tmp_path, collector):
    parent_trace, parent_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    script = write(tmp_path, PROGRAM)
    env = {"TRACEPARENT": f"00-{parent_trace}-{parent_span}-01"}
    run = record(tmp_path, script, *otlp_flags(collector, "grpc", "joined"), env=env)
    assert run.returncode == 3, run.stderr
    (span,) = collector.wait_until(
        "the recording span",
        lambda: [s for s in collector.spans() if s["name"] == "codetracer.recording"] or None,
    )
    assert span["traceId"] == parent_trace
    assert span["parentSpanId"] == parent_span


def untraced(tmp_path: Path, script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=False,
    )


EXPORT_BOUND = 15.0
"""A generous bound on the delay a missing or dying Collector may add (the configured
flush bound is 3 s; the benchmark measures the real figure)."""


def test_a_collector_that_is_down_costs_a_bounded_delay_and_one_warning(tmp_path):
    script = write(tmp_path, PROGRAM)
    plain = untraced(tmp_path, script)
    nobody = f"http://127.0.0.1:{free_port()}"
    flags = ["--traces_exporter", "otlp", "--logs_exporter", "otlp", "--metrics_exporter", "otlp"]
    flags += ["--exporter_otlp_endpoint", nobody, "--exporter_otlp_protocol", "grpc"]
    started = time.monotonic()
    run = record(tmp_path, script, *flags)
    elapsed = time.monotonic() - started
    assert (run.returncode, run.stdout) == (plain.returncode, plain.stdout)
    assert elapsed < EXPORT_BOUND
    warnings = [r for r in json_logs(run.stderr) if r.get("error_code") == "ERR_OTEL_EXPORT"]
    assert len(warnings) == 1, run.stderr
    assert "Traceback" not in run.stderr


SLOW_PROGRAM = """
    import time

    def tick(i):
        return i + 1

    for i in range(30):
        tick(i)
        time.sleep(0.1)
    print("done")
"""


def test_a_collector_killed_mid_run_changes_nothing_for_the_program(tmp_path, collector):
    script = write(tmp_path, SLOW_PROGRAM)
    argv = [sys.executable, "-m", "codetracer_recorder", "--trace-dir", str(tmp_path / "trace")]
    argv += [
        "--codetracer-log-level",
        "info",
        *otlp_flags(collector, "grpc", "killed"),
        str(script),
    ]
    child = subprocess.Popen(
        argv,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    time.sleep(1.0)
    collector.kill()
    started = time.monotonic()
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    assert stdout == "done\n"
    assert time.monotonic() - started < 3.0 + EXPORT_BOUND
    assert "Traceback" not in stderr
    assert [r for r in json_logs(stderr) if r.get("error_code") == "ERR_OTEL_EXPORT"], stderr


def test_twenty_parallel_recordings_lose_nothing(tmp_path, collector):
    script = write(tmp_path, PROGRAM)

    def one(i: int) -> subprocess.CompletedProcess[str]:
        return record(
            tmp_path, script, *otlp_flags(collector, "grpc", f"load-{i}"), name=f"trace-{i}"
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        runs = list(pool.map(one, range(20)))
    assert [r.returncode for r in runs] == [3] * 20
    trace_ids = {r["trace_id"] for run in runs for r in json_logs(run.stderr) if r.get("trace_id")}
    assert len(trace_ids) == 20

    def all_arrived():
        spans = {s["traceId"] for s in collector.spans() if s["name"] == "codetracer.recording"}
        services = {p.resource.get("service.name") for p in collector.metric_points()}
        logs = {r["traceId"] for r in collector.log_records()}
        ok = (
            spans == trace_ids
            and {f"load-{i}" for i in range(20)} <= services
            and trace_ids <= logs
        )
        return True if ok else None

    collector.wait_until("every span, log record and metric of the 20 recordings", all_arrived)
