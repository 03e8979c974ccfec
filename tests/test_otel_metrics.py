"""The recorder's metrics: observable counters over the Rust totals after real drops,
detaches and panics, and the per-recording instruments."""

import json
from pathlib import Path

import pytest
from otelkit import SCENARIO_PRELUDE, Telemetry
from tracekit import run_python

import codetracer_recorder
from codetracer_recorder import otel

TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture
def telemetry():
    installed = Telemetry.installed()
    yield installed
    otel.uninstall()
    codetracer_recorder._native.set_log_listener(None)


def points(metrics, name):
    return {tuple(sorted(p["attributes"].items())): p for p in metrics[name]["points"]}


def test_each_recording_counts_its_outcome_events_size_and_duration(telemetry, tmp_path):
    first = codetracer_recorder.start(tmp_path / "one").stop()
    second = codetracer_recorder.start(tmp_path / "two").stop()
    metrics = telemetry.metrics()
    assert points(metrics, "codetracer.recorder.recordings") == {
        (("outcome", "complete"),): {"attributes": {"outcome": "complete"}, "value": 2}
    }
    (events,) = metrics["codetracer.recorder.events.recorded"]["points"]
    assert events["value"] == first["events"] + second["events"]
    (size,) = metrics["codetracer.recorder.trace.size"]["points"]
    assert size["count"] == 2 and size["sum"] == first["bytes"] + second["bytes"]
    assert metrics["codetracer.recorder.trace.size"]["unit"] == "By"
    (duration,) = metrics["codetracer.recorder.recording.duration"]["points"]
    assert duration["count"] == 2 and duration["sum"] > 0
    assert metrics["codetracer.recorder.recording.duration"]["unit"] == "s"


FAILURES = """
codetracer_recorder.start(sys.argv[1])
exec(compile("x = work(3)", "<string>", "exec"))
work(10)
try:
    codetracer_recorder.stop()
except codetracer_recorder.RecorderError as error:
    code = error.code
before = telemetry.metrics()
codetracer_recorder.start(sys.argv[1] + "-2", policy={"on_recorder_error": "disable"})
work(10)
codetracer_recorder.stop()
telemetry.dump(before=before, snapshot={k: {str(kk): vv for kk, vv in v.items()}
                                       for k, v in codetracer_recorder.metrics_snapshot().items()})
"""


def test_drops_detaches_and_panics_are_counters_reading_the_rust_totals(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(SCENARIO_PRELUDE + FAILURES, encoding="utf-8")
    run = run_python(
        [script, tmp_path / "trace"],
        cwd=tmp_path,
        env={"CODETRACER_TEST_INJECT": "panic:on_line@3", "PYTHONPATH": TESTS},
    )
    assert run.returncode == 0, run
    report = json.loads(run.stdout.splitlines()[-1])
    metrics = report["metrics"]
    dropped = points(metrics, "codetracer.recorder.events.dropped")
    assert dropped[(("reason", "synthetic_filename"),)]["value"] >= 1
    assert metrics["codetracer.recorder.events.dropped"]["unit"] == "{event}"
    detaches = points(metrics, "codetracer.recorder.detaches")
    assert detaches[(("error.type", "ERR_PANIC"), ("reason", "abort"))]["value"] == 1
    assert detaches[(("error.type", "ERR_PANIC"), ("reason", "disable"))]["value"] == 1
    panics = points(metrics, "codetracer.recorder.panics")
    assert panics[(("site", "on_line"),)]["value"] == 2
    # The counters are the core's exact totals, read when collected.
    before = points(report["before"], "codetracer.recorder.panics")
    assert before[(("site", "on_line"),)]["value"] == 1
    recordings = points(metrics, "codetracer.recorder.recordings")
    assert recordings[(("outcome", "aborted"),)]["value"] == 1
    assert recordings[(("outcome", "detached"),)]["value"] == 1
