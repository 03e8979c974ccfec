"""Exporters from the CLI's flags and the OTEL_* variables: console to stderr, nothing by
default (and nothing imported), a bounded flush against a dead collector, SIGTERM, fork."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from tracekit import ONE_LINE_ERROR, child_env, run_cli, run_python

PROGRAM = """
import sys
def double(x):
    return x * 2
print(double(21))
"""


def console_objects(stderr: str) -> list[dict]:
    """The JSON objects the console exporters wrote (pretty-printed, one after another)."""
    decoder = json.JSONDecoder()
    objects, index = [], 0
    while (start := stderr.find("{", index)) != -1:
        try:
            value, index = decoder.raw_decode(stderr, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        objects.append(value)
    return objects


def recording_spans(stderr: str) -> list[dict]:
    return [o for o in console_objects(stderr) if o.get("name") == "codetracer.recording"]


def metric_names(stderr: str) -> set[str]:
    return {
        metric["name"]
        for o in console_objects(stderr)
        for rm in o.get("resource_metrics", [])
        for sm in rm["scope_metrics"]
        for metric in sm["metrics"]
    }


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_console_exporters_write_spans_logs_and_metrics_to_stderr_never_stdout(program, tmp_path):
    prog = program(PROGRAM)
    run = run_cli(
        [
            "--trace-dir",
            tmp_path / "trace",
            "--traces_exporter",
            "console",
            "--metrics_exporter",
            "console",
            "--logs_exporter",
            "console",
            "--codetracer-log-level",
            "info",
            prog.path,
        ],
        cwd=tmp_path,
    )
    assert run.returncode == 0, run
    assert run.stdout == "42\n"
    (span,) = recording_spans(run.stderr)
    metadata = json.loads((tmp_path / "trace" / "trace_metadata.json").read_text())
    assert span["attributes"]["codetracer.recording.outcome"] == "complete"
    assert span["attributes"]["codetracer.trace.path"] == str(tmp_path / "trace")
    assert span["context"]["trace_id"] == "0x" + span["attributes"]["codetracer.trace.id"]
    assert span["resource"]["attributes"]["codetracer.recorder.name"] == "codetracer-recorder"
    assert "process.pid" in span["resource"]["attributes"]
    assert "process.command_args" not in span["resource"]["attributes"]
    assert {
        "codetracer.recorder.recordings",
        "codetracer.recorder.events.recorded",
    } <= metric_names(run.stderr)
    logs = [o for o in console_objects(run.stderr) if "severity_text" in o]
    assert logs, "the info records of session start and stop"
    assert all(
        log["trace_id"] == span["context"]["trace_id"]
        for log in logs
        if log["attributes"].get("codetracer.trace.id")
    )
    assert metadata


@pytest.mark.parametrize("via", ["flags", "environment"])
def test_each_flag_sets_the_same_value_as_its_otel_variable(program, tmp_path, via):
    prog = program(PROGRAM)
    settings = {
        "traces_exporter": "console",
        "service_name": "checkout",
        "resource_attributes": "deployment.environment.name=test,team=core",
    }
    if via == "flags":
        flags = [word for name, value in settings.items() for word in (f"--{name}", value)]
        env = {}
    else:
        flags = []
        env = {f"OTEL_{name.upper()}": value for name, value in settings.items()}
    run = run_cli(
        ["--trace-dir", tmp_path / "trace", *flags, prog.path],
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode == 0, run
    (span,) = recording_spans(run.stderr)
    resource = span["resource"]["attributes"]
    assert resource["service.name"] == "checkout"
    assert resource["deployment.environment.name"] == "test"
    assert resource["team"] == "core"


def test_a_flag_beats_its_variable(program, tmp_path):
    prog = program(PROGRAM)
    run = run_cli(
        [
            "--trace-dir",
            tmp_path / "trace",
            "--traces_exporter",
            "console",
            "--service_name",
            "from-flag",
            prog.path,
        ],
        cwd=tmp_path,
        env={"OTEL_SERVICE_NAME": "from-env"},
    )
    (span,) = recording_spans(run.stderr)
    assert span["resource"]["attributes"]["service.name"] == "from-flag"


def test_an_unknown_exporter_or_protocol_stops_the_cli_before_the_program_runs(program, tmp_path):
    prog = program("print('ran')")
    for flags in (
        ["--traces_exporter", "zipkin"],
        ["--traces_exporter", "otlp", "--exporter_otlp_protocol", "http/json"],
    ):
        run = run_cli(
            ["--trace-dir", tmp_path / "trace", *flags, prog.path],
            cwd=tmp_path,
        )
        assert run.returncode == 2, run
        assert run.stdout == ""
        (line,) = run.stderr.splitlines()
        assert ONE_LINE_ERROR.match(line) and "ERR_INVALID_POLICY_VALUE" in line, line


LOADED = """
import sys
import codetracer_recorder
codetracer_recorder.start(sys.argv[1])
codetracer_recorder.stop()
print(sorted(m for m in sys.modules if m.startswith(("opentelemetry", "grpc", "google.protobuf",
                                                     "requests", "urllib3"))))
"""


def test_a_plain_run_imports_no_exporter_and_no_sdk(program, tmp_path):
    prog = program(LOADED)
    run = run_python([prog.path, tmp_path / "trace"], cwd=tmp_path)
    assert run.returncode == 0, run
    assert run.stdout == "[]\n"
    cli = program(
        PROGRAM.replace("print(double(21))", LOADED.split("codetracer_recorder.stop()\n")[1]),
        name="cli.py",
    )
    run = run_cli(["--trace-dir", tmp_path / "t2", cli.path], cwd=tmp_path)
    assert run.returncode == 0, run
    assert run.stdout == "[]\n", "the CLI with nothing configured imports nothing of OTel"


def test_otel_sdk_disabled_turns_the_bridge_off_even_with_exporters_named(program, tmp_path):
    prog = program(LOADED)
    run = run_python(
        [prog.path, tmp_path / "trace"],
        cwd=tmp_path,
        env={"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"},
    )
    assert run.returncode == 0, run
    assert run.stdout == "[]\n" and run.stderr == ""


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_dead_collector_costs_a_bounded_flush_one_warning_and_no_changed_status(
    program, tmp_path, protocol
):
    prog = program(PROGRAM + "\nsys.exit(3)\n")
    started = time.monotonic()
    run = run_cli(
        [
            "--trace-dir",
            tmp_path / "trace",
            "--traces_exporter",
            "otlp",
            "--metrics_exporter",
            "otlp",
            "--logs_exporter",
            "otlp",
            "--exporter_otlp_protocol",
            protocol,
            "--exporter_otlp_endpoint",
            f"http://127.0.0.1:{closed_port()}",
            "--otel_flush_timeout",
            "1",
            prog.path,
        ],
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 3, run
    assert run.stdout == "42\n"
    assert elapsed < 20, f"the flush is bounded (1 s here), the run took {elapsed:.1f} s"
    assert "Traceback" not in run.stderr
    (line,) = run.stderr.splitlines()
    warning = json.loads(line)
    assert warning["error_code"] == "ERR_OTEL_EXPORT"
    assert warning["level"] == "warn"
    assert (tmp_path / "trace" / "trace_metadata.json").exists()


def test_the_default_flush_bound_is_three_seconds_in_total(program, tmp_path):
    prog = program(PROGRAM)
    started = time.monotonic()
    run = run_cli(
        ["--trace-dir", tmp_path / "trace", prog.path],
        cwd=tmp_path,
        env={
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
        },
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run
    assert elapsed < 25, f"3 s bound plus start-up; took {elapsed:.1f} s"
    assert [json.loads(l)["error_code"] for l in run.stderr.splitlines()] == ["ERR_OTEL_EXPORT"]


SLEEPER = """
import time
def tick(n):
    return n + 1
n = 0
print("ready", flush=True)
while True:
    n = tick(n)
    time.sleep(0.01)
"""


def test_sigterm_ends_the_recording_flushes_and_still_dies_by_sigterm(program, tmp_path):
    prog = program(SLEEPER)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codetracer_recorder",
            "--trace-dir",
            str(tmp_path / "trace"),
            "--traces_exporter",
            "console",
            str(prog.path),
        ],
        cwd=tmp_path,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM
    (span,) = recording_spans(err.decode())
    assert span["attributes"]["codetracer.recording.outcome"] == "complete"
    assert (tmp_path / "trace" / "trace_metadata.json").exists()
    assert "Traceback" not in err.decode()


FORK = """
import json, os, sys
import codetracer_recorder

def work(n):
    return n * 2

parent = codetracer_recorder.start(sys.argv[1])
work(1)
pid = os.fork()
if pid == 0:
    child = codetracer_recorder.start(sys.argv[2])
    work(2)
    child.stop()
    print(json.dumps({"who": "child", "trace_id": child.trace_id, "pid": os.getpid(),
                      "run_id": codetracer_recorder._native.run_id()}), flush=True)
    sys.exit(0)
os.waitpid(pid, 0)
parent.stop()
print(json.dumps({"who": "parent", "trace_id": parent.trace_id, "pid": os.getpid(),
                  "run_id": codetracer_recorder._native.run_id()}), flush=True)
"""


def test_a_forked_child_gets_new_providers_and_the_parent_is_unaffected(program, tmp_path):
    prog = program(FORK)
    run = run_python(
        [prog.path, tmp_path / "parent", tmp_path / "child"],
        cwd=tmp_path,
        env={"OTEL_TRACES_EXPORTER": "console"},
    )
    assert run.returncode == 0, run
    reports = {r["who"]: r for r in map(json.loads, run.stdout.splitlines())}
    spans = {s["attributes"]["codetracer.trace.id"]: s for s in recording_spans(run.stderr)}
    assert set(spans) == {reports["parent"]["trace_id"], reports["child"]["trace_id"]}
    for who, report in reports.items():
        span = spans[report["trace_id"]]
        assert span["context"]["trace_id"] == "0x" + report["trace_id"], who
        assert span["resource"]["attributes"]["process.pid"] == report["pid"], who
        assert span["resource"]["attributes"]["codetracer.run.id"] == report["run_id"], who
    assert reports["child"]["run_id"] != reports["parent"]["run_id"]
    assert spans[reports["parent"]["trace_id"]]["attributes"]["codetracer.recording.outcome"] == (
        "complete"
    )


BUSY = """
import time
from codetracer_recorder import recorder_log
def tick(n):
    return n + 1
n = 0
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:
    n = tick(n)
    if n % 20 == 0:
        recorder_log.log("warn", "a recorder record while recording")
    time.sleep(0.01)
"""


def test_exporter_threads_and_their_transport_code_are_not_recorded(program, tmp_path):
    # The recorder's log records are exported every 20 ms while the program runs, so the
    # exporter thread runs requests/urllib3 during the recording.
    prog = program(BUSY)
    run = run_cli(
        [
            "--trace-dir",
            tmp_path / "trace",
            "--logs_exporter",
            "otlp",
            "--codetracer-log-level",
            "info",
            "--exporter_otlp_protocol",
            "http/protobuf",
            "--exporter_otlp_endpoint",
            f"http://127.0.0.1:{closed_port()}",
            "--otel_flush_timeout",
            "1",
            prog.path,
        ],
        cwd=tmp_path,
        trace_dir=tmp_path / "trace",
        main=prog.path,
        env={"OTEL_BLRP_SCHEDULE_DELAY": "20"},
    )
    assert run.returncode == 0, run
    assert "ERR_OTEL_EXPORT" in run.stderr, "the exporter ran (and failed) while recording"
    assert run.trace.stepped_paths() == {str(prog.path)}
    assert run.trace.function_names() <= {"<module>", "tick"}, run.trace.function_names()


def test_every_otel_flag_sets_its_variable(monkeypatch):
    from codetracer_recorder import cli

    environment = {}
    monkeypatch.setattr(os, "environ", environment)
    argv = [word for flag, _, _, _ in cli.OTEL_FLAGS for word in (flag, f"value-of-{flag}")]
    options, _ = cli.parse_command_line(cli._parser(), [*argv, "prog.py", "--traces_exporter"])
    assert options.target == ["prog.py", "--traces_exporter"], "the program's own words"
    cli._set_otel_variables(options)
    assert environment == {variable: f"value-of-{flag}" for flag, variable, _, _ in cli.OTEL_FLAGS}
    assert set(environment) >= {
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
    }
