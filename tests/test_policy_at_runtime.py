"""What the policy does when the recorder fails while recording, one test per cell of the
README's table: `abort` (the default) and `disable`, with and without
`keep_partial_trace`, and `require_trace`. The failures are real where the machine can
make them (a file size limit, a full filesystem, stderr on /dev/full, a trace path under
a regular file) and injected for the rest (test build: `CODETRACER_TEST_INJECT`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tracekit import (
    CHILD_TIMEOUT,
    ONE_LINE_ERROR,
    Run,
    child_env,
    error_lines,
    limit_file_size,
    load_trace,
    looks_like_a_trace,
    recorder_warnings,
    run_cli,
    run_python,
)

from codetracer_recorder import _native

LIMIT = 256 * 1024
"""RLIMIT_FSIZE for the file-size tests: far less than WORKLOAD's trace."""

WORKLOAD = """
import json
import codetracer_recorder

def step(i):
    return i * 2

total = 0
for i in range(50_000):
    total += step(i)
print(total)
print(json.dumps({"tracing_at_end": codetracer_recorder.is_tracing()}))
"""
WORKLOAD_OUTPUT = "2499950000\n"


@pytest.fixture(autouse=True)
def _test_build() -> None:
    assert _native.FAULT_INJECTION, "needs the test build: make test builds it"


def program_output(run: Run) -> tuple[str, dict[str, object]]:
    """WORKLOAD's result line, and what it reported as its last line."""
    *lines, report = run.stdout.splitlines()
    return "".join(line + "\n" for line in lines), json.loads(report)


# ---- abort (the default) ---------------------------------------------------------------


def test_abort_a_file_too_large_stops_recording_and_exits_10_after_the_program(program, tmp_path):
    prog = program(WORKLOAD)
    run = run_cli(
        ["--trace-dir", tmp_path / "out" / "trace", prog.path],
        cwd=tmp_path,
        preexec_fn=limit_file_size(LIMIT),
    )
    assert run.returncode == 10, run
    output, report = program_output(run)
    assert output == WORKLOAD_OUTPUT, "the program ran to its end"
    assert report == {"tracing_at_end": True}, "under abort the session lasts until stop"
    (line,) = run.stderr.splitlines()
    assert ONE_LINE_ERROR.match(line), line
    assert error_lines(run.stderr) == ["ERR_IO"]
    assert "File too large" in line
    assert looks_like_a_trace(tmp_path) == []


def test_abort_the_program_failing_first_keeps_its_status_and_the_error_is_reported(
    program, tmp_path
):
    prog = program(WORKLOAD + "raise SystemExit(3)\n")
    run = run_cli(
        ["--trace-dir", tmp_path / "trace", prog.path],
        cwd=tmp_path,
        preexec_fn=limit_file_size(LIMIT),
    )
    assert run.returncode == 3, run
    assert error_lines(run.stderr) == ["ERR_IO"]
    assert looks_like_a_trace(tmp_path) == []


EMBED = """
import json, sys
import codetracer_recorder

def work(n):
    total = 0
    for i in range(n):
        total += i
    return total

options = json.loads(sys.argv[2])
codetracer_recorder.start(sys.argv[1], **options)
results = [work(3)]
tracing = codetracer_recorder.is_tracing()
flushed = None
try:
    codetracer_recorder.flush()
except codetracer_recorder.RecorderError as exc:
    flushed = exc.code
results.append(work(4))
report = {"results": results, "tracing": tracing, "flush_raised": flushed}

def describe(error):
    return {"class": type(error).__name__, "code": error.code, "context": error.context}

try:
    summary = codetracer_recorder.stop(exit_code=0)
    error = summary.pop("error")
    report["summary"] = summary
    report["summary_error"] = None if error is None else describe(error)
except codetracer_recorder.RecorderError as exc:
    report["raised"] = describe(exc)
report["tracing_after_stop"] = codetracer_recorder.is_tracing()
print(json.dumps(report))
"""


def embed(program, tmp_path: Path, inject: str | None, **options: object) -> tuple[Run, dict]:
    """Run EMBED (start with `options`, two calls, flush, stop) with a failure injected."""
    prog = program(EMBED)
    env = {"CODETRACER_TEST_INJECT": inject} if inject else {}
    run = run_python([prog.path, tmp_path / "trace", json.dumps(options)], cwd=tmp_path, env=env)
    assert run.returncode == 0, run
    report = json.loads(run.stdout)
    assert report["results"] == [3, 6], "the program ran on, unchanged"
    assert report["tracing_after_stop"] is False
    return run, report


def test_abort_a_panic_stops_recording_and_stop_raises_it_leaving_nothing(program, tmp_path):
    run, report = embed(program, tmp_path, "panic:on_line@4")
    assert report["tracing"] is True
    assert report["flush_raised"] == "ERR_PANIC"
    assert report["raised"] == {
        "class": "InternalError",
        "code": "ERR_PANIC",
        "context": {"site": "on_line"},
    }
    assert recorder_warnings(run.stderr) == [], "abort does not warn; stop raises"
    assert looks_like_a_trace(tmp_path) == []


def test_abort_with_keep_partial_trace_keeps_a_closed_trace_marked_partial(program, tmp_path):
    _, report = embed(program, tmp_path, "panic:on_line@4", policy={"keep_partial_trace": True})
    trace_dir = tmp_path / "trace"
    assert report["raised"]["code"] == "ERR_PANIC"
    assert report["raised"]["context"] == {"site": "on_line", "partial_trace": str(trace_dir)}
    trace = load_trace(trace_dir)
    assert trace.metadata["partial"] is True
    assert trace.metadata["reason"] == "ERR_PANIC"
    assert trace.metadata["events_closed"] is True
    assert "injected panic at on_line" in trace.metadata["reason_message"]
    (work,) = trace.calls("work")  # the second call came after the failure
    assert work.args == {"n": 3}
    assert work.return_value == "recording stopped while this frame was running"
    assert trace.exit_status == 0
    assert [p.name for p in tmp_path.iterdir() if p.name != "prog.py"] == ["trace"]


# ---- disable -----------------------------------------------------------------------------


def test_disable_a_panic_detaches_with_a_warning_and_stop_returns_the_error(program, tmp_path):
    run, report = embed(
        program, tmp_path, "panic:on_line@4", policy={"on_recorder_error": "disable"}
    )
    assert report["tracing"] is False, "detached at once"
    assert report["flush_raised"] is None
    assert "raised" not in report
    assert report["summary_error"] == {
        "class": "InternalError",
        "code": "ERR_PANIC",
        "context": {"site": "on_line"},
    }
    assert report["summary"]["path"] is None
    assert report["summary"]["partial"] is False
    (warning,) = recorder_warnings(run.stderr)
    assert warning["level"] == "warn"
    assert warning["error_code"] == "ERR_PANIC"
    assert warning["error_kind"] == "internal"
    assert warning["context"] == {"site": "on_line"}
    assert len(warning["trace_id"]) == 32
    assert "[ERR_PANIC]" in warning["message"]
    assert looks_like_a_trace(tmp_path) == []


def test_disable_with_keep_partial_trace_returns_the_partial_trace(program, tmp_path):
    _, report = embed(
        program,
        tmp_path,
        "panic:on_py_return",
        policy={"on_recorder_error": "disable", "keep_partial_trace": True},
    )
    trace_dir = tmp_path / "trace"
    assert report["summary"]["path"] == str(trace_dir)
    assert report["summary"]["partial"] is True
    assert report["summary_error"]["code"] == "ERR_PANIC"
    assert report["summary_error"]["context"]["partial_trace"] == str(trace_dir)
    trace = load_trace(trace_dir)
    assert (trace.metadata["partial"], trace.metadata["reason"]) == (True, "ERR_PANIC")
    assert trace.metadata["events_closed"] is True
    (work,) = trace.calls("work")
    assert work.return_value == "recording stopped while this frame was running"
    loop_body = EMBED.strip("\n").splitlines().index("        total += i") + 1
    assert trace.steps(loop_body, path=work.path) == 3, "the loop body ran 3 times"


def test_disable_a_file_too_large_warns_and_the_program_keeps_its_status(program, tmp_path):
    prog = program(WORKLOAD)
    run = run_cli(
        ["--codetracer-on-recorder-error=disable", "--trace-dir", tmp_path / "trace", prog.path],
        cwd=tmp_path,
        preexec_fn=limit_file_size(LIMIT),
    )
    assert run.returncode == 0, run
    output, report = program_output(run)
    assert output == WORKLOAD_OUTPUT
    assert report == {"tracing_at_end": False}, "detached while the program ran"
    assert error_lines(run.stderr) == []
    (warning,) = recorder_warnings(run.stderr)
    assert warning["error_code"] == "ERR_IO"
    assert "File too large" in warning["message"], "one warning, with the writer's own error"
    assert len(run.stderr.splitlines()) == 1, "nothing else on stderr"
    assert looks_like_a_trace(tmp_path) == []


def test_disable_with_keep_partial_trace_closes_the_trace_where_writing_failed(program, tmp_path):
    prog = program(WORKLOAD)
    trace_dir = tmp_path / "trace"
    run = run_cli(
        [
            "--on-recorder-error",
            "disable",
            "--keep-partial-trace",
            "--trace-dir",
            trace_dir,
            prog.path,
        ],
        cwd=tmp_path,
        preexec_fn=limit_file_size(LIMIT),
    )
    assert run.returncode == 0, run
    assert program_output(run)[0] == WORKLOAD_OUTPUT
    trace = load_trace(trace_dir, main=prog.path)  # valid and balanced, as any trace
    assert trace.metadata["partial"] is True
    assert trace.metadata["reason"] == "ERR_IO"
    assert "File too large" in trace.metadata["reason_message"]
    assert trace.metadata["events_closed"] is True
    assert (trace_dir / "trace.json").stat().st_size <= LIMIT, "closed within the limit"
    steps = trace.calls("step")
    assert steps and [c.args for c in steps[:3]] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert all(c.return_value == 2 * c.args["i"] for c in steps[:-1])


def test_disable_an_injected_writer_failure_in_a_binary_trace_is_kept_partial(program, tmp_path):
    _, report = embed(
        program,
        tmp_path,
        "io:writer",
        format="binary",
        policy={"on_recorder_error": "disable", "keep_partial_trace": True},
    )
    assert report["summary_error"]["code"] == "ERR_IO"
    assert "Input/output error" in report["summary_error"]["context"]["os_error"]
    metadata = json.loads((tmp_path / "trace" / "trace_metadata.json").read_text(encoding="utf-8"))
    assert (metadata["partial"], metadata["reason"], metadata["events_closed"]) == (
        True,
        "ERR_IO",
        False,
    )
    assert (tmp_path / "trace" / "trace.bin").exists()


def test_disable_a_warning_that_cannot_be_written_changes_nothing(program, tmp_path):
    """stderr on /dev/full: the warning is lost (ENOSPC), the program is not disturbed."""
    prog = program(WORKLOAD)
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "codetracer_recorder",
                "--on-recorder-error=disable",
                "--trace-dir",
                tmp_path / "trace",
                prog.path,
            ],
            cwd=tmp_path,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=full,
            preexec_fn=limit_file_size(LIMIT),
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    assert proc.returncode == 0
    assert proc.stdout.decode().startswith(WORKLOAD_OUTPUT)
    assert looks_like_a_trace(tmp_path) == []


def test_a_new_start_after_a_detached_session_finishes_that_session(program, tmp_path):
    prog = program("""
        import json, os, sys
        import codetracer_recorder

        def work():
            return 1

        codetracer_recorder.start(sys.argv[1], policy={"on_recorder_error": "disable"})
        work()
        detached = not codetracer_recorder.is_tracing()
        del os.environ["CODETRACER_TEST_INJECT"]  # read again by each start
        codetracer_recorder.start(sys.argv[2])
        work()
        summary = codetracer_recorder.stop()
        print(json.dumps({"detached": detached, "error": summary["error"], "calls": summary["calls"]}))
    """)
    run = run_python(
        [prog.path, tmp_path / "first", tmp_path / "second"],
        cwd=tmp_path,
        env={"CODETRACER_TEST_INJECT": "panic:on_py_start"},
    )
    assert run.returncode == 0, run
    assert json.loads(run.stdout) == {"detached": True, "error": None, "calls": 2}
    assert load_trace(tmp_path / "second").returns("work") == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prog.py", "second"]


# ---- a full filesystem -------------------------------------------------------------------

ON_A_SMALL_DISK = """
disk="$1"; shift
mount -t tmpfs -o size=256k codetracer-test "$disk" || exit 97
"$@"; status=$?
echo "left on the disk: $(ls -A "$disk")"
exit $status
"""


def run_on_a_full_disk(options: list[object], cwd: Path) -> Run:
    """The CLI with its trace directory on a 256 KiB tmpfs, mounted in a private mount
    namespace for this child only (root, as the tests run, or a user namespace)."""
    disk = cwd / "disk"
    disk.mkdir()
    namespace = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "-r", "--mount"]
    argv = [
        str(a)
        for a in [
            *namespace,
            "sh",
            "-c",
            ON_A_SMALL_DISK,
            "sh",
            disk,
            sys.executable,
            "-m",
            "codetracer_recorder",
            "--trace-dir",
            disk / "trace",
            *options,
        ]
    ]
    proc = subprocess.run(
        argv, cwd=cwd, env=child_env(), capture_output=True, timeout=CHILD_TIMEOUT, check=False
    )
    run = Run(argv, proc.returncode, proc.stdout, proc.stderr, None)
    assert run.returncode != 97, f"cannot mount a small filesystem for this test:{run}"
    return run


@pytest.mark.parametrize("keep", [False, True])
def test_a_full_disk_aborts_with_status_10_and_leaves_nothing(program, tmp_path, keep):
    prog = program(WORKLOAD)
    run = run_on_a_full_disk([*(["--keep-partial-trace"] if keep else []), prog.path], tmp_path)
    assert run.returncode == 10, run
    assert error_lines(run.stderr) == ["ERR_IO"]
    assert "No space left on device" in run.stderr
    *output, left = run.stdout.splitlines()
    assert output[0] + "\n" == WORKLOAD_OUTPUT
    # Kept or not, a partial trace that cannot even be marked (the disk is full) is removed.
    assert left == "left on the disk: ", run


def test_a_full_disk_under_disable_warns_and_the_program_succeeds(program, tmp_path):
    prog = program(WORKLOAD)
    run = run_on_a_full_disk(["--on-recorder-error=disable", prog.path], tmp_path)
    assert run.returncode == 0, run
    assert error_lines(run.stderr) == []
    assert "No space left on device" in recorder_warnings(run.stderr)[-1]["message"]
    assert run.stdout.splitlines()[-1] == "left on the disk: "


# ---- require_trace -----------------------------------------------------------------------


@pytest.mark.parametrize("on_error", ["abort", "disable"])
def test_require_trace_fails_a_session_that_recorded_nothing(program, tmp_path, on_error):
    _, report = embed(
        program,
        tmp_path,
        None,
        exclude=["*"],
        policy={"require_trace": True, "on_recorder_error": on_error},
    )
    assert report["raised"] == {
        "class": "EnvironmentError",
        "code": "ERR_TRACE_MISSING",
        "context": {},
    }
    assert looks_like_a_trace(tmp_path) == []


def test_require_trace_with_keep_partial_trace_keeps_the_empty_trace_marked(program, tmp_path):
    _, report = embed(
        program,
        tmp_path,
        None,
        exclude=["*"],
        policy={"require_trace": True, "keep_partial_trace": True},
    )
    assert report["raised"]["code"] == "ERR_TRACE_MISSING"
    trace = load_trace(tmp_path / "trace")
    assert (trace.metadata["partial"], trace.metadata["reason"]) == (True, "ERR_TRACE_MISSING")
    assert trace.calls() == []


def test_without_require_trace_a_session_that_recorded_nothing_writes_an_empty_trace(
    program, tmp_path
):
    _, report = embed(program, tmp_path, None, exclude=["*"])
    assert report["summary"]["path"] == str(tmp_path / "trace")
    trace = load_trace(tmp_path / "trace")
    assert trace.metadata["partial"] is False
    assert trace.calls() == []


def test_require_trace_passes_a_session_that_recorded_the_program(program, tmp_path):
    _, report = embed(program, tmp_path, None, policy={"require_trace": True})
    assert report["summary"]["partial"] is False
    assert load_trace(tmp_path / "trace").returns("work") == [3, 6]


@pytest.mark.parametrize(
    ("keep", "code"), [(False, "ERR_TRACE_MISSING"), (True, "ERR_TRACE_INCOMPLETE")]
)
def test_require_trace_under_disable_fails_a_session_that_detached(program, tmp_path, keep, code):
    run, report = embed(
        program,
        tmp_path,
        "panic:on_line",
        policy={"on_recorder_error": "disable", "require_trace": True, "keep_partial_trace": keep},
    )
    assert report["tracing"] is False
    assert report["raised"]["code"] == code
    assert report["raised"]["context"]["cause"] == "ERR_PANIC"
    assert [w["error_code"] for w in recorder_warnings(run.stderr)] == ["ERR_PANIC"]
    assert (tmp_path / "trace").exists() is keep


def test_require_trace_on_the_command_line_exits_10_when_nothing_was_recorded(program, tmp_path):
    prog = program("print('ran')\n")
    run = run_cli(
        [
            "--codetracer-require-trace",
            "--exclude",
            "*",
            "--trace-dir",
            tmp_path / "trace",
            prog.path,
        ],
        cwd=tmp_path,
    )
    assert run.returncode == 10, run
    assert run.stdout == "ran\n"
    assert error_lines(run.stderr) == ["ERR_TRACE_MISSING"]
    assert looks_like_a_trace(tmp_path) == []


# ---- failures before recording starts ------------------------------------------------------


@pytest.mark.parametrize("on_error", ["abort", "disable"])
def test_a_trace_path_under_a_regular_file_stops_the_program_from_starting(
    program, tmp_path, on_error
):
    prog = program("from pathlib import Path\nPath(__file__).with_name('ran').touch()\n")
    (tmp_path / "blocker").write_text("")
    run = run_cli(
        [
            f"--on-recorder-error={on_error}",
            "--trace-dir",
            tmp_path / "blocker" / "trace",
            prog.path,
        ],
        cwd=tmp_path,
    )
    assert run.returncode == 2, run
    assert error_lines(run.stderr) == ["ERR_TRACE_DIR_CREATE_FAILED"]
    assert len(run.stderr.splitlines()) == 1
    assert not (tmp_path / "ran").exists()
