"""The trace directory appears only when the recording is complete: events go to a
staging directory next to it, renamed into place at stop; a new recording into the
same directory replaces the old trace whole."""

from __future__ import annotations

import json

from tracekit import load_trace, run_python


def test_trace_dir_does_not_exist_until_stop(program, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    prog = program("""
        import json, os, sys
        import codetracer_recorder

        def work(n):
            return n * 2

        target = sys.argv[1]
        codetracer_recorder.start(target)
        work(1)
        codetracer_recorder.flush()
        parent = os.path.dirname(target)
        during = {
            "exists": os.path.exists(target),
            "entries": [
                {"name": e.name, "is_dir": e.is_dir()} for e in os.scandir(parent)
            ],
            "bytes": sum(
                os.path.getsize(os.path.join(root, name))
                for root, _, names in os.walk(parent)
                for name in names
            ),
        }
        codetracer_recorder.stop()
        after = sorted(os.listdir(parent))
        print(json.dumps({"during": during, "after": after}))
    """)
    run = run_python([prog.path, out / "trace"], cwd=tmp_path)
    assert run.returncode == 0, run
    report = json.loads(run.stdout)
    assert report["during"]["exists"] is False
    (staging,) = report["during"]["entries"]
    assert staging["is_dir"] is True
    assert staging["name"] != "trace"
    assert report["during"]["bytes"] > 0, "flush wrote nothing into the staging directory"
    assert report["after"] == ["trace"]
    assert load_trace(out / "trace", main=prog.path).returns("work") == [2]


def test_rerunning_into_the_same_dir_replaces_the_previous_trace(program, record, tmp_path):
    first = program("def alpha():\n    return 1\n\nalpha()\n", name="first.py")
    second = program("def beta():\n    return 2\n\nbeta()\n", name="second.py")
    out = tmp_path / "out"
    out.mkdir()
    trace_dir = out / "trace"
    old = record(first, trace_dir=trace_dir).trace
    new = record(second, trace_dir=trace_dir).trace
    assert old.returns("alpha") == [1]
    assert new.returns("beta") == [2]
    assert new.calls("alpha") == []
    assert new.metadata["trace_id"] != old.metadata["trace_id"]
    assert [p.name for p in out.iterdir()] == ["trace"]


def test_binary_trace_replaces_a_json_trace_without_leftovers(program, record, tmp_path):
    prog = program("x = 1\n")
    trace_dir = tmp_path / "out" / "trace"
    trace_dir.parent.mkdir()
    record(prog, trace_dir=trace_dir)
    trace = record(prog, trace_dir=trace_dir, format="binary").trace
    assert trace.format == "binary"
    assert not (trace_dir / "trace.json").exists()
    assert [p.name for p in trace_dir.parent.iterdir()] == ["trace"]


def test_an_existing_empty_directory_receives_the_trace(program, record, tmp_path):
    trace_dir = tmp_path / "empty"
    trace_dir.mkdir()
    trace = record(program("x = 1\n"), trace_dir=trace_dir).trace
    assert trace.exit_status == 0


def test_trace_dir_parents_are_created(program, record, tmp_path):
    trace_dir = tmp_path / "deep" / "er" / "trace"
    trace = record(program("x = 1\n"), trace_dir=trace_dir).trace
    assert trace.directory == trace_dir
    assert trace.exit_status == 0


def test_uncaught_exception_still_renames_the_trace_into_place(program, record, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    run = record(program("raise RuntimeError('x')\n"), trace_dir=out / "trace")
    assert run.returncode == 1
    assert run.trace.exit_status == 1
    assert [p.name for p in out.iterdir()] == ["trace"]


def test_metadata_and_paths_files_are_complete_json(program, record):
    trace = record(program("def f():\n    return 1\n\nf()\n")).trace
    for name in ("trace_metadata.json", "trace_paths.json"):
        json.loads((trace.directory / name).read_text(encoding="utf-8"))
    meta = trace.metadata
    assert {"workdir", "program", "args", "recorder", "exit_code", "trace_id", "format"} <= set(
        meta
    )
