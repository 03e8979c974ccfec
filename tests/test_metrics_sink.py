"""Story 6: counters for dropped events, detaches and caught panics, in the core's totals
and in a metrics sink a host installs (a no-op until then)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tracekit import run_python

import codetracer_recorder
from codetracer_recorder import RecorderMetrics, install_metrics, metrics_snapshot

HOST = """
    import json, sys
    import codetracer_recorder

    class Sink:
        def __init__(self):
            self.calls = []
        def record_dropped_event(self, reason):
            self.calls.append(["record_dropped_event", reason])
        def record_detach(self, reason, error_code):
            self.calls.append(["record_detach", reason, error_code])
        def record_panic(self, site):
            self.calls.append(["record_panic", site])

    def work(n):
        total = n * 2
        return total

    sink = Sink()
    codetracer_recorder.install_metrics(sink)
    before = codetracer_recorder.metrics_snapshot()
    codetracer_recorder.start(sys.argv[1], policy=json.loads(sys.argv[2]))
    {body}
    try:
        codetracer_recorder.stop()
    except codetracer_recorder.RecorderError as error:
        pass
    after = codetracer_recorder.metrics_snapshot()
    codetracer_recorder.install_metrics(None)
    exec("def later(): return 2\\nlater()")  # after removal: the sink hears nothing more
    print(json.dumps({{
        "calls": sink.calls,
        "before": {{k: {{"|".join(key) if isinstance(key, tuple) else key: n
                        for key, n in v.items()}} for k, v in before.items()}},
        "after": {{k: {{"|".join(key) if isinstance(key, tuple) else key: n
                       for key, n in v.items()}} for k, v in after.items()}},
    }}))
"""


def host(program, tmp_path, body: str, *, policy=None, inject=None) -> dict[str, Any]:
    prog = program(HOST.format(body=body))
    env = {"CODETRACER_TEST_INJECT": inject} if inject else {}
    run = run_python(
        [prog.path, tmp_path / "trace", json.dumps(policy or {})], cwd=tmp_path, env=env
    )
    assert run.returncode == 0, run
    report = json.loads(run.stdout)
    report["stderr"] = run.stderr
    return report


def delta(report: dict[str, Any], kind: str) -> dict[str, int]:
    """What the core's totals of ``kind`` grew by during the session (non-zero only)."""
    before, after = report["before"][kind], report["after"][kind]
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


def test_exec_of_string_code_is_one_dropped_event_per_code_object(program, tmp_path):
    report = host(program, tmp_path, 'exec("def f(): return 1\\nf()\\nf()")')
    synthetic = [c for c in report["calls"] if c == ["record_dropped_event", "synthetic_filename"]]
    assert len(synthetic) == 2, "the <string> module and f, each once (f ran twice)"
    assert delta(report, "dropped_events")["synthetic_filename"] == 2
    assert not [c for c in report["calls"] if c[0] != "record_dropped_event"]


def test_a_disable_detach_and_its_panic_reach_the_sink(program, tmp_path):
    report = host(
        program,
        tmp_path,
        "work(1)",
        policy={"on_recorder_error": "disable"},
        inject="panic:on_line",
    )
    calls = [c for c in report["calls"] if c[0] != "record_dropped_event"]
    assert calls == [["record_panic", "on_line"], ["record_detach", "disable", "ERR_PANIC"]]
    assert delta(report, "panics") == {"on_line": 1}
    assert delta(report, "detaches") == {"disable|ERR_PANIC": 1}


def test_an_abort_detach_is_counted_with_its_policy(program, tmp_path):
    report = host(program, tmp_path, "work(1)", inject="panic:on_line")
    assert ["record_detach", "abort", "ERR_PANIC"] in report["calls"]
    assert delta(report, "detaches") == {"abort|ERR_PANIC": 1}


def test_an_injected_panic_in_an_api_entry_reaches_the_sink(program, tmp_path):
    prog = program("""
        import json, sys
        import codetracer_recorder

        class Sink:
            calls = []
            def record_dropped_event(self, reason): pass
            def record_detach(self, reason, error_code): pass
            def record_panic(self, site): self.calls.append(site)

        codetracer_recorder.install_metrics(Sink())
        try:
            codetracer_recorder.start(sys.argv[1])
        except codetracer_recorder.InternalError as error:
            print(json.dumps([error.code, Sink.calls,
                              codetracer_recorder.metrics_snapshot()["panics"]]))
    """)
    run = run_python(
        [prog.path, tmp_path / "trace"],
        cwd=tmp_path,
        env={"CODETRACER_TEST_INJECT": "panic:start_recording"},
    )
    assert run.returncode == 0, run
    assert json.loads(run.stdout) == [
        "ERR_PANIC",
        ["start_recording"],
        {"start_recording": 1},
    ]


def test_filters_report_why_code_was_dropped(program, tmp_path):
    program("def helper():\n    return 1\n", name="helper.py")
    report = host(
        program,
        tmp_path,
        "import helper, json as j; helper.helper(); j.dumps(1)",
        policy={},
    )
    reasons = {c[1] for c in report["calls"] if c[0] == "record_dropped_event"}
    assert "default_skip" in reasons, "the standard library (json)"
    grown = delta(report, "dropped_events")
    assert grown.get("default_skip", 0) >= 1


def test_exclude_and_include_globs_are_reasons(program, tmp_path):
    program("def helper():\n    return 1\n", name="helper.py")
    prog = program("""
        import json, sys
        import codetracer_recorder

        reasons = []
        class Sink:
            def record_dropped_event(self, reason): reasons.append(reason)
            def record_detach(self, reason, error_code): pass
            def record_panic(self, site): pass

        codetracer_recorder.install_metrics(Sink())
        def run(**globs):
            codetracer_recorder.start(sys.argv[1], **globs)
            import helper
            helper.helper()
            codetracer_recorder.stop()
        run(exclude=["helper"])
        run(include=["nothing.*"])
        print(json.dumps(reasons))
    """)
    run = run_python([prog.path, tmp_path / "trace"], cwd=tmp_path)
    assert run.returncode == 0, run
    reasons = json.loads(run.stdout)
    assert "excluded" in reasons
    assert "not_included" in reasons


def test_redacted_values_are_counted_in_the_totals_only(program, tmp_path):
    report = host(program, tmp_path, "(lambda password: len(password))('hunter2')")
    assert delta(report, "dropped_events").get("redacted", 0) >= 1
    assert ["record_dropped_event", "redacted"] not in report["calls"]


def test_a_sink_that_raises_is_logged_and_the_program_runs_on(program, tmp_path):
    prog = program("""
        import sys
        import codetracer_recorder

        class Broken:
            def record_dropped_event(self, reason): raise RuntimeError("sink broke")
            def record_detach(self, reason, error_code): raise RuntimeError("sink broke")
            def record_panic(self, site): raise RuntimeError("sink broke")

        codetracer_recorder.install_metrics(Broken())
        codetracer_recorder.start(sys.argv[1])
        exec("x = 1")
        codetracer_recorder.stop()
        print("done")
    """)
    run = run_python([prog.path, tmp_path / "trace"], cwd=tmp_path)
    assert run.returncode == 0, run
    assert run.stdout == "done\n"
    warnings = [json.loads(line) for line in run.stderr.splitlines()]
    assert warnings and all("sink broke" in w["message"] for w in warnings)
    assert {w["level"] for w in warnings} == {"warn"}


def test_the_snapshot_lists_every_drop_reason():
    snapshot = metrics_snapshot()
    assert set(snapshot) == {"dropped_events", "detaches", "panics"}
    assert set(snapshot["dropped_events"]) == {
        "synthetic_filename",
        "unreadable_filename",
        "excluded",
        "not_included",
        "default_skip",
        "redacted",
    }


def test_a_sink_without_the_three_methods_is_refused():
    class Half:
        def record_panic(self, site: str) -> None: ...

    with pytest.raises(codetracer_recorder.UsageError) as raised:
        install_metrics(Half())  # type: ignore[arg-type]
    assert raised.value.context == {"option": "sink", "missing": "record_dropped_event"}


def test_the_protocol_describes_a_sink():
    class Sink:
        def record_dropped_event(self, reason: str) -> None: ...
        def record_detach(self, reason: str, error_code: str) -> None: ...
        def record_panic(self, site: str) -> None: ...

    assert isinstance(Sink(), RecorderMetrics)
    install_metrics(Sink())
    install_metrics(None)


def test_the_readme_documents_every_reason():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    for reason in [*metrics_snapshot()["dropped_events"], "abort", "disable"]:
        assert f"`{reason}`" in section, reason
