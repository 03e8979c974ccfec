"""The telemetry schema (``otel/*.yaml``) and what the code emits agree both ways: nothing
emitted that is not declared, nothing declared that is never emitted, and declared
allowed values and units hold."""

import json
import re
from pathlib import Path

import pytest
import yaml
from otelkit import SCENARIO_PRELUDE
from tracekit import run_python

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "otel"
TESTS = str(Path(__file__).resolve().parent)

EVERY_OUTCOME = """
from codetracer_recorder.otel.resource import recorder_resource
base = sys.argv[1]
codetracer_recorder.start(base + "/complete")
work(3)
exec(compile("work(2)", "<string>", "exec"))
codetracer_recorder.stop()
os.environ["CODETRACER_TEST_INJECT"] = "panic:on_line@3"
codetracer_recorder.start(base + "/aborted")
work(10)
try:
    codetracer_recorder.stop()
except codetracer_recorder.RecorderError:
    pass
codetracer_recorder.start(base + "/partial",
                          policy={"on_recorder_error": "disable", "keep_partial_trace": True})
work(10)
codetracer_recorder.stop()
os.environ["CODETRACER_TEST_INJECT"] = "io:writer"
codetracer_recorder.start(base + "/detached",
                          policy={"on_recorder_error": "disable", "keep_partial_trace": False})
work(10)
codetracer_recorder.stop()
telemetry.dump(resource=dict(recorder_resource().attributes))
"""


@pytest.fixture(scope="module")
def emitted(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("schema")
    script = tmp_path / "prog.py"
    script.write_text(SCENARIO_PRELUDE + EVERY_OUTCOME, encoding="utf-8")
    run = run_python(
        [script, tmp_path],
        cwd=tmp_path,
        env={"PYTHONPATH": TESTS, "CODETRACER_LOG_LEVEL": "info"},
    )
    assert run.returncode == 0, run
    return json.loads(run.stdout.splitlines()[-1])


def load(name):
    return yaml.safe_load((SCHEMA / f"{name}.yaml").read_text(encoding="utf-8"))


def declared_attributes(rows):
    return {row["name"]: row for row in rows}


def template(name):
    """``codetracer.context.path`` -> ``codetracer.context.<key>`` (a template attribute)."""
    return re.sub(r"^codetracer\.context\..+$", "codetracer.context.<key>", name)


def check_values(declared, attributes, where):
    for name, value in attributes.items():
        allowed = declared.get(template(name), {}).get("values")
        if allowed is not None:
            assert value in allowed, (where, name, value, allowed)


def test_resource_attributes(emitted):
    declared = declared_attributes(load("resource")["resource"]["attributes"])
    ours = {k for k in emitted["resource"] if k.startswith("codetracer.")}
    assert ours == set(declared)
    check_values(declared, emitted["resource"], "resource")


def test_spans_their_attributes_and_events(emitted):
    (schema,) = load("spans")["spans"]
    spans = emitted["spans"]
    assert {s["name"] for s in spans} == {schema["name"]}
    declared = declared_attributes(schema["attributes"])
    seen = {name for s in spans for name in s["attributes"]}
    assert seen == set(declared), seen ^ set(declared)
    for span in spans:
        check_values(declared, span["attributes"], span["name"])
    events = {e["name"]: e for e in schema["events"]}
    seen_events: dict[str, set[str]] = {}
    for span in spans:
        for event in span["events"]:
            standard = set(events.get(event["name"], {}).get("standard", []))
            seen_events.setdefault(event["name"], set()).update(set(event["attributes"]) - standard)
            check_values(
                declared_attributes(events[event["name"]]["attributes"]),
                event["attributes"],
                event["name"],
            )
    assert set(seen_events) == set(events)
    for name, attributes in seen_events.items():
        assert attributes == {a["name"] for a in events[name]["attributes"]}, name
    outcomes = {s["attributes"]["codetracer.recording.outcome"] for s in spans}
    assert outcomes == set(declared["codetracer.recording.outcome"]["values"])


def test_log_records_their_attributes_and_event_names(emitted):
    schema = load("logs")["logs"]
    records = emitted["logs"]
    declared = declared_attributes(schema["attributes"])
    seen = {template(name) for r in records for name in r["attributes"]}
    assert seen == set(declared), seen ^ set(declared)
    for record in records:
        check_values(declared, record["attributes"], record["body"])
    assert {r["event_name"] for r in records} - {None} == {e["name"] for e in schema["events"]}
    severities = {r["severity_text"] for r in records}
    assert severities <= {text.split()[0] for text in schema["severity"].values()}


def test_metrics_their_units_and_attributes(emitted):
    schema = {m["name"]: m for m in load("metrics")["metrics"]}
    metrics = emitted["metrics"]
    assert set(metrics) == set(schema)
    for name, metric in metrics.items():
        assert metric["unit"] == schema[name]["unit"], name
        declared = declared_attributes(schema[name]["attributes"])
        seen = {key for point in metric["points"] for key in point["attributes"]}
        assert seen == set(declared), name
        for point in metric["points"]:
            check_values(declared, point["attributes"], name)
