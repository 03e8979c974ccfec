"""Machine faults while recording (issue 8 §1): a file size limit, a filesystem that is
full or has no inode left, the trace's directory removed or taken mid-run, a log file
that cannot be opened or fills up, and a program far faster than the trace writer.

Each case runs the program plain and recorded (CLI or library) in child processes and
checks what the policy promises: the program's output unchanged and its status kept
(or, under ``abort``, the README's status for the error's kind); the trace complete,
partial with its reason code, or absent with the code reported; a bounded run. The
cells of ``tests/test_policy_at_runtime.py`` (CLI under a file size limit with abort,
disable and disable+keep; CLI on a disk that fills mid-run) are not repeated here.

Faults are real: ``RLIMIT_FSIZE`` (EFBIG), a tmpfs mounted in a private mount namespace
(ENOSPC; as in test_policy_at_runtime, the test fails loudly where mounting is not
possible), ``/dev/full``, and directories changed by the test while the program waits.
``/dev/full`` cannot be the trace file's destination: the recorder creates its files
exclusively (``O_EXCL``, mode 0600) in a fresh staging directory with a random name, so
nothing planted at a path is ever written through (README, Output: Atomic)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from harness import (
    BOUND,
    RSS_BOUND_MB,
    Pair,
    assert_absent,
    assert_complete,
    assert_partial,
    assert_same_behaviour,
    escape_times,
    program_stderr,
    recorder_argv,
    recorder_codes,
    run,
    run_both,
    run_measuring_peak_rss,
)
from tracekit import Program, Run, child_env, limit_file_size, load_trace, looks_like_a_trace

LIMIT = 256 * 1024
"""RLIMIT_FSIZE for the file-size cases: far less than WORKLOAD's trace (about 42 MB as
JSON, 780 KB as binary)."""

WORKLOAD = """
    import sys

    def step(i):
        return i * 2

    total = 0
    for i in range(50_000):
        total += step(i)
    print(total)
    print("the program's own line on stderr", file=sys.stderr)
"""
"""50,000 recorded calls, output on stdout and stderr, status 0."""

WORK = """
    import sys

    def work(n):
        total = 0
        for i in range(n):
            total += i
        return total
"""
SMALL = (
    WORK
    + """
    print("result", work(1000))
    print("the program's own line on stderr", file=sys.stderr)
"""
)
"""A program whose trace (well under the writer's 1 MiB chunk) is written only at stop."""

PAUSING = (
    WORK
    + """
    print("before", work(10))
    print("waiting", flush=True)
    sys.stdin.readline()
    print("after", work(3000))
    print("the program's own line on stderr", file=sys.stderr)
"""
)
"""Prints MARKER, then waits for a line on stdin (the test changes the machine
meanwhile), then does more recorded work."""

MARKER = b"waiting\n"

DISABLE = 'policy={"on_recorder_error": "disable"}'
"""The library's ``start(policy=...)`` keyword, as a harness option."""


def assert_same_output(pair: Pair) -> None:
    """The recorded run printed what the plain run printed, on stdout and (the recorder's
    own lines aside) on stderr; the exit status is the caller's to check."""
    assert pair.recorded.stdout == pair.plain.stdout, pair
    assert program_stderr(pair.recorded.stderr) == program_stderr(pair.plain.stderr), pair


def records(stderr: str) -> list[dict]:
    """The recorder's JSON log records on a stderr."""
    return [
        json.loads(line)
        for line in stderr.splitlines()
        if line.startswith("{") and '"target":"codetracer_recorder"' in line
    ]


# ---- a file size limit (RLIMIT_FSIZE: EFBIG) -------------------------------------------


@pytest.mark.timeout(120)
def test_file_too_large_under_abort_with_keep_partial_trace_exits_10_keeping_the_closed_part(
    program, tmp_path
):
    """Under abort the CLI exits 10 after the program's own output, and keep_partial_trace
    keeps what was written: cut back to whole events within the limit, closed, marked
    partial with ERR_IO; its calls are the program's first ones."""
    prog = program(WORKLOAD)
    pair = run_both(
        prog,
        tmp_path / "trace",
        options=["--codetracer-keep-partial-trace"],
        preexec_fn=limit_file_size(LIMIT),
    )
    assert_same_output(pair)
    assert (pair.plain.returncode, pair.recorded.returncode) == (0, 10), pair
    assert recorder_codes(pair.recorded.stderr) == ["ERR_IO"]
    assert assert_partial(pair.trace_dir, "ERR_IO")["events_closed"] is True
    assert (pair.trace_dir / "trace.json").stat().st_size <= LIMIT
    calls = load_trace(pair.trace_dir, main=prog.path).calls("step")
    assert calls and [c.args for c in calls] == [{"i": i} for i in range(len(calls))]


@pytest.mark.timeout(120)
def test_file_too_large_in_a_binary_trace_keeps_it_partial_ending_where_the_write_failed(
    program, tmp_path
):
    """A binary trace cannot be cut back like JSON: under abort with keep_partial_trace it
    is kept as far as the limit let it be written, marked partial (ERR_IO) with
    ``events_closed: false``, and the CLI exits 10."""
    prog = program(WORKLOAD)
    pair = run_both(
        prog,
        tmp_path / "trace",
        options=["--format", "binary", "--codetracer-keep-partial-trace"],
        preexec_fn=limit_file_size(LIMIT),
    )
    assert_same_output(pair)
    assert pair.recorded.returncode == 10, pair
    assert recorder_codes(pair.recorded.stderr) == ["ERR_IO"]
    assert assert_partial(pair.trace_dir, "ERR_IO")["events_closed"] is False
    assert 0 < (pair.trace_dir / "trace.bin").stat().st_size <= LIMIT


@pytest.mark.timeout(120)
@pytest.mark.parametrize("keep", [False, True])
def test_file_too_large_under_disable_via_the_library_leaves_the_program_unchanged(
    program, tmp_path, keep
):
    """A library user under disable sees nothing change: the ``with trace()`` block ends
    normally, the program's output and status are its own; the ERR_IO warning is logged;
    the trace is absent, or kept partial (ERR_IO) with keep_partial_trace."""
    prog = program(WORKLOAD)
    policy = {"on_recorder_error": "disable", "keep_partial_trace": keep}
    pair = run_both(
        prog,
        tmp_path / "trace",
        via="api",
        options=[f"policy={json.dumps(policy)}"],
        preexec_fn=limit_file_size(LIMIT),
    )
    assert_same_behaviour(pair)
    assert set(recorder_codes(pair.recorded.stderr)) == {"ERR_IO"}
    if keep:
        assert assert_partial(pair.trace_dir, "ERR_IO")["events_closed"] is True
    else:
        assert_absent(tmp_path, pair.recorded.stderr, "ERR_IO")


@pytest.mark.timeout(120)
def test_file_too_large_under_abort_via_the_library_raises_err_io_when_the_block_ends(
    program, tmp_path
):
    """Under abort the program runs to its end with its own output; then the end of the
    ``with trace()`` block raises the recorder's EnvironmentError (ERR_IO), whose JSON
    trailer (json_errors) names the code; nothing that looks like a trace is left."""
    prog = program(WORKLOAD)
    pair = run_both(
        prog,
        tmp_path / "trace",
        via="api",
        options=['policy={"json_errors": true}'],
        preexec_fn=limit_file_size(LIMIT),
    )
    assert pair.recorded.stdout == pair.plain.stdout, pair
    assert pair.recorded.stderr.startswith(pair.plain.stderr), pair
    assert pair.recorded.returncode == 1, "the driver lets stop()'s exception end it"
    assert "EnvironmentError: [ERR_IO] " in pair.recorded.stderr
    assert "File too large" in pair.recorded.stderr
    assert_absent(tmp_path, pair.recorded.stderr, "ERR_IO")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("keep", "code"), [(False, "ERR_TRACE_MISSING"), (True, "ERR_TRACE_INCOMPLETE")]
)
def test_require_trace_under_disable_turns_a_file_too_large_into_status_10(
    program, tmp_path, keep, code
):
    """With require_trace the caller asked for a trace, so under disable too a failed
    recording fails the run: status 10 (README exit status: a required trace missing),
    ERR_TRACE_MISSING with nothing left, or ERR_TRACE_INCOMPLETE with the partial trace
    (ERR_IO) kept; the ERR_IO warning comes first."""
    prog = program(WORKLOAD)
    options = ["--codetracer-on-recorder-error=disable", "--codetracer-require-trace"]
    pair = run_both(
        prog,
        tmp_path / "trace",
        options=[*options, *(["--codetracer-keep-partial-trace"] if keep else [])],
        preexec_fn=limit_file_size(LIMIT),
    )
    assert_same_output(pair)
    assert pair.recorded.returncode == 10, pair
    codes = recorder_codes(pair.recorded.stderr)
    assert codes[0] == "ERR_IO" and codes[-1] == code, codes
    if keep:
        assert_partial(pair.trace_dir, "ERR_IO")
    else:
        assert_absent(tmp_path, pair.recorded.stderr, code)


# ---- a small filesystem (tmpfs in a private mount namespace) ----------------------------

IN_A_PRIVATE_TMPFS = """
disk="$1"; options="$2"; prepare="$3"; finish="$4"; shift 4
mount -t tmpfs -o "$options" codetracer-test "$disk" || exit 97
eval "$prepare"
"$@"; status=$?
eval "$finish"
exit $status
"""
"""``sh -c`` run in a private mount namespace: mounts the tmpfs, runs the prepare
snippet, the command, the finish snippet, and exits with the command's status (97: the
tmpfs could not be mounted)."""

FILL_THE_DISK = 'head -c 1048576 /dev/zero > "$disk/filler" 2>/dev/null'
KEEP_WHAT_IS_LEFT = 'cp -a "$disk/." "$disk-after/"'
"""Copies what the run left on the disk to ``DISK-after`` (the tmpfs goes away with the
namespace), for :func:`looks_like_a_trace` and the trace checks."""


def run_on_a_private_tmpfs(
    argv: Sequence[object],
    *,
    cwd: Path,
    disk: Path,
    options: str,
    prepare: str = "",
    finish: str = KEEP_WHAT_IS_LEFT,
) -> tuple[Run, int]:
    """``python argv...`` with a fresh tmpfs (mount ``options``) at ``disk``, visible to
    this child only; ``prepare`` and ``finish`` are shell run before and after it (``$disk``
    is the mount point). Returns the run and the peak RSS (KiB) of the whole process tree.
    Fails if the tmpfs cannot be mounted, or if the run takes longer than ``BOUND``."""
    disk.mkdir()
    Path(f"{disk}-after").mkdir()
    namespace = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "-r", "--mount"]
    full = [*namespace, "sh", "-c", IN_A_PRIVATE_TMPFS, "sh", disk, options, prepare, finish]
    full = [str(a) for a in [*full, sys.executable, *argv]]
    result, peak_kb = run_measuring_peak_rss(full, cwd=cwd)
    assert result.returncode != 97, f"cannot mount a small filesystem for this test:{result}"
    return result, peak_kb


@pytest.mark.timeout(120)
def test_a_disk_full_before_recording_starts_fails_at_stop_and_exits_10_under_abort(
    program, tmp_path
):
    """The trace directory is on a disk with no space left from the start, and the trace
    is small, so the failure comes only at the end, when the trace is finished. The
    program runs as it would; the CLI exits 10 with ERR_IO and leaves nothing there."""
    prog = program(SMALL)
    disk = tmp_path / "disk"
    plain = run([prog.path], cwd=tmp_path)
    recorded, _ = run_on_a_private_tmpfs(
        recorder_argv(prog, disk / "trace"),
        cwd=tmp_path,
        disk=disk,
        options="size=256k",
        prepare=FILL_THE_DISK,
    )
    assert_same_output(Pair(plain, recorded, disk / "trace"))
    assert recorded.returncode == 10, recorded
    assert "No space left on device" in recorded.stderr
    assert_absent(Path(f"{disk}-after"), recorded.stderr, "ERR_IO")


@pytest.mark.timeout(120)
def test_a_disk_full_before_recording_starts_changes_nothing_for_a_library_under_disable(
    program, tmp_path
):
    """The same disk under disable, through the library: the program behaves as it does
    unrecorded, ERR_IO is logged, nothing is left on the disk."""
    prog = program(SMALL)
    disk = tmp_path / "disk"
    plain = run([prog.path], cwd=tmp_path)
    recorded, _ = run_on_a_private_tmpfs(
        recorder_argv(prog, disk / "trace", via="api", options=[DISABLE]),
        cwd=tmp_path,
        disk=disk,
        options="size=256k",
        prepare=FILL_THE_DISK,
    )
    assert_same_behaviour(Pair(plain, recorded, disk / "trace"))
    assert_absent(Path(f"{disk}-after"), recorded.stderr, "ERR_IO")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("on_error", ["abort", "disable"])
def test_no_inode_left_for_the_trace_stops_the_program_from_starting(program, tmp_path, on_error):
    """A filesystem with no inode left cannot take the staging directory: the recorder
    cannot start, so under either policy the CLI says why (ERR_TRACE_DIR_CREATE_FAILED,
    one line), exits 2 and does not run the program (README exit status 2)."""
    prog = program("from pathlib import Path\nPath(__file__).with_name('ran').touch()\n")
    disk = tmp_path / "disk"
    recorded, _ = run_on_a_private_tmpfs(
        recorder_argv(prog, disk / "trace", options=[f"--codetracer-on-recorder-error={on_error}"]),
        cwd=tmp_path,
        disk=disk,
        options="size=256k,nr_inodes=1",
    )
    assert recorded.returncode == 2, recorded
    assert recorded.stdout == ""
    assert len(recorded.stderr.splitlines()) == 1, recorded
    assert_absent(Path(f"{disk}-after"), recorded.stderr, "ERR_TRACE_DIR_CREATE_FAILED")
    assert not (tmp_path / "ran").exists()


# ---- the trace's directory changed while the program runs -------------------------------


def run_acting_mid_run(argv: Sequence[object], *, cwd: Path, act: Callable[[], None]) -> Run:
    """``python argv...``: once the program has printed MARKER (it then waits for a line
    on stdin), ``act()``, then the line, and the program goes on to its end (within
    ``BOUND`` seconds in all)."""
    full = [sys.executable, *map(str, argv)]
    proc = subprocess.Popen(
        full,
        cwd=cwd,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + BOUND
    try:
        assert proc.stdout is not None
        read = proc.stdout.read1  # type: ignore[attr-defined]
        seen = b""
        while MARKER not in seen and (chunk := read(4096)):
            seen += chunk
        if MARKER in seen:
            act()
        out, err = proc.communicate(b"go\n", timeout=max(0.1, deadline - time.monotonic()))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return Run(full, proc.returncode, seen + out, err, None)


def run_both_acting_mid_run(
    prog: Program, trace_dir: Path, act: Callable[[], None], *, via: str, options: Sequence[str]
) -> Pair:
    """PAUSING run plain, then recorded with ``act()`` done while it waits."""
    plain = run([prog.path], cwd=prog.path.parent, stdin=b"go\n")
    argv = recorder_argv(prog, trace_dir, via=via, options=options)
    return Pair(plain, run_acting_mid_run(argv, cwd=prog.path.parent, act=act), trace_dir)


def staging_dir(trace_dir: Path) -> Path:
    """The one staging directory the recorder is writing ``trace_dir`` into."""
    (staging,) = trace_dir.parent.glob(f".{trace_dir.name}.staging-*")
    return staging


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("via", "options", "status"),
    [
        ("cli", [], 10),
        ("cli", ["--codetracer-on-recorder-error=disable", "--codetracer-keep-partial-trace"], 0),
        ("api", [DISABLE], 0),
    ],
    ids=["cli-abort", "cli-disable-keep", "api-disable"],
)
def test_the_trace_directorys_parent_removed_mid_run_loses_the_trace_not_the_program(
    program, tmp_path, via, options, status
):
    """The directory the trace goes into (with the staging directory in it) is removed
    while the program runs. The program goes on unchanged; the trace cannot be finished
    (ERR_IO): under abort the CLI exits 10, under disable the program's status stands;
    there is nothing left to keep, even with keep_partial_trace."""
    prog = program(PAUSING)
    out = tmp_path / "out"
    pair = run_both_acting_mid_run(
        prog, out / "trace", lambda: shutil.rmtree(out), via=via, options=options
    )
    assert_same_output(pair)
    assert pair.recorded.returncode == status, pair
    assert not out.exists()
    assert_absent(tmp_path, pair.recorded.stderr, "ERR_IO")


@pytest.mark.timeout(120)
def test_the_staging_directory_replaced_by_a_file_mid_run_exits_10_and_the_file_stays(
    program, tmp_path
):
    """Someone replaces the staging directory by a file of their own while the program
    runs: the trace cannot be finished (ERR_IO, status 10 under abort), and the file,
    not being the recorder's, is left as it is; nothing else is left."""
    prog = program(PAUSING)
    trace_dir = tmp_path / "out" / "trace"
    planted: list[Path] = []

    def replace_staging() -> None:
        staging = staging_dir(trace_dir)
        shutil.rmtree(staging)
        staging.write_text("someone else's file")
        planted.append(staging)

    pair = run_both_acting_mid_run(prog, trace_dir, replace_staging, via="cli", options=[])
    assert_same_output(pair)
    assert pair.recorded.returncode == 10, pair
    assert recorder_codes(pair.recorded.stderr) == ["ERR_IO"]
    assert list(trace_dir.parent.iterdir()) == planted
    assert planted[0].read_text() == "someone else's file"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_an_earlier_trace_removed_mid_run_is_replaced_by_the_complete_new_one(
    program, tmp_path, via
):
    """The trace left at the path by an earlier run is removed while the program runs:
    nothing of the new trace depends on it, which appears complete at the end, with the
    calls made after the removal."""
    prog = program(PAUSING)
    trace_dir = tmp_path / "trace"
    assert run(recorder_argv(prog, trace_dir), cwd=tmp_path, stdin=b"go\n").returncode == 0
    assert (trace_dir / "trace_metadata.json").exists()
    pair = run_both_acting_mid_run(
        prog, trace_dir, lambda: shutil.rmtree(trace_dir), via=via, options=[]
    )
    assert_same_behaviour(pair)
    trace = assert_complete(trace_dir, main=prog.path)
    assert trace.returns("work") == [45, 4498500]
    assert looks_like_a_trace(tmp_path) == sorted(trace_dir.iterdir())


THEIRS = "someone else's file"


def put_a_file(path: Path) -> None:
    path.write_text(THEIRS)


def put_a_directory(path: Path) -> None:
    path.mkdir()
    (path / "notes.txt").write_text(THEIRS)


def what_is_at(path: Path) -> str | dict[str, str]:
    """A file's text, or a directory's files and their texts."""
    if path.is_dir():
        return {p.name: p.read_text() for p in path.iterdir()}
    return path.read_text()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("put", "put_there"),
    [(put_a_file, THEIRS), (put_a_directory, {"notes.txt": THEIRS})],
    ids=["file", "directory"],
)
def test_something_put_at_the_trace_path_mid_run_is_left_alone_and_the_cli_exits_10(
    program, tmp_path, put, put_there
):
    """A file, or a directory that is not a trace, appears at the trace path while the
    program runs. It is not the recorder's to replace, so the trace is dropped
    (ERR_TRACE_DIR_CONFLICT) and what was put there stays as it is. The program ran, so
    the CLI under abort exits 10 as for any error the machine causes while recording
    (README exit status: 2 means the program was not started, which is not so here)."""
    prog = program(PAUSING)
    trace_dir = tmp_path / "trace"
    pair = run_both_acting_mid_run(prog, trace_dir, lambda: put(trace_dir), via="cli", options=[])
    assert_same_output(pair)
    assert recorder_codes(pair.recorded.stderr) == ["ERR_TRACE_DIR_CONFLICT"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prog.py", "trace"]
    assert what_is_at(trace_dir) == put_there
    assert pair.recorded.returncode == 10, pair


@pytest.mark.timeout(120)
def test_a_file_put_at_the_trace_path_mid_run_changes_nothing_for_a_library_under_disable(
    program, tmp_path
):
    """The same through the library under disable: the program behaves as it does
    unrecorded, ERR_TRACE_DIR_CONFLICT is logged, and the file is left as it is."""
    prog = program(PAUSING)
    trace_dir = tmp_path / "trace"
    pair = run_both_acting_mid_run(
        prog, trace_dir, lambda: put_a_file(trace_dir), via="api", options=[DISABLE]
    )
    assert_same_behaviour(pair)
    assert recorder_codes(pair.recorded.stderr) == ["ERR_TRACE_DIR_CONFLICT"]
    assert what_is_at(trace_dir) == THEIRS
    assert looks_like_a_trace(tmp_path) == []


# ---- the recorder's log file ----------------------------------------------------------


def assert_logged_on_stderr_instead(stderr: str, log_file: Path, os_error: str) -> list[dict]:
    """stderr holds one ERR_IO warning naming ``log_file`` and the OS error, then the
    session's records (started, stopped), none lost; returns the records after it."""
    warning, *rest = records(stderr)
    assert (warning["level"], warning["error_code"]) == ("warn", "ERR_IO"), warning
    assert warning["context"]["path"] == str(log_file)
    assert os_error in warning["context"]["os_error"]
    assert "logging to stderr instead" in warning["message"]
    messages = [r["message"] for r in rest]
    assert messages[0].startswith("recording started: trace "), messages
    assert messages[-1].startswith("recording stopped: trace "), messages
    return rest


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("where", "via", "os_error"),
    [("a directory", "cli", "Is a directory"), ("under a regular file", "api", "Not a directory")],
    ids=["directory-cli", "under-a-file-api"],
)
def test_a_log_file_that_cannot_be_opened_changes_nothing_and_logs_on_stderr(
    program, tmp_path, where, via, os_error
):
    """The log file path is a directory, or lies under a regular file (as root, a path
    without permission would still open): the program and its trace are unaffected, and
    every record goes to stderr after one ERR_IO warning (README, Logs: Destination)."""
    log_file = tmp_path / "logs" if where == "a directory" else tmp_path / "prog.py" / "r.log"
    if where == "a directory":
        log_file.mkdir()
    prog = program(PAUSING)
    if via == "cli":
        options = ["--codetracer-log-level", "info", "--codetracer-log-file", str(log_file)]
    else:
        options = [f"policy={json.dumps({'log_level': 'info', 'log_file': str(log_file)})}"]
    pair = run_both(prog, tmp_path / "trace", via=via, options=options, stdin=b"go\n")
    assert_same_behaviour(pair)
    assert_complete(pair.trace_dir, main=prog.path)
    assert_logged_on_stderr_instead(pair.recorded.stderr, log_file, os_error)


@pytest.mark.timeout(120)
def test_a_log_file_on_a_full_device_still_lets_the_disable_warning_reach_stderr(program, tmp_path):
    """The log file is /dev/full (every write fails: ENOSPC) and the trace hits a file
    size limit under disable: the program is unaffected, and the detach warning that the
    log file cannot take is on stderr, after the warning about the log file."""
    prog = program(WORKLOAD)
    options = ["--codetracer-on-recorder-error=disable", "--codetracer-log-file", "/dev/full"]
    pair = run_both(prog, tmp_path / "trace", options=options, preexec_fn=limit_file_size(LIMIT))
    assert_same_behaviour(pair)
    assert_absent(tmp_path, pair.recorded.stderr, "ERR_IO")
    warning, *rest = records(pair.recorded.stderr)
    assert warning["context"]["path"] == "/dev/full"
    assert "No space left on device" in warning["context"]["os_error"]
    assert rest and all(r["error_code"] == "ERR_IO" for r in rest)
    assert "recording stopped by a recorder error" in rest[0]["message"]
    assert "File too large" in rest[-1]["message"]


@pytest.mark.timeout(120)
def test_a_log_file_that_fills_up_keeps_whole_records_and_the_rest_go_to_stderr(program, tmp_path):
    """The log file is on a disk with room for part of one record only. The program and
    its trace are unaffected; the record that does not fit, and every later one, are on
    stderr after one ERR_IO warning; and the log file keeps only whole lines (JSON lines:
    no cut record that a log reader would choke on, or that a later line would be glued
    to)."""
    prog = program(SMALL)
    disk = tmp_path / "disk"
    log_file = disk / "recorder.log"
    earlier = "x" * 3995 + "\n"  # a 4 KiB tmpfs then has room for 100 bytes
    plain = run([prog.path], cwd=tmp_path)
    options = ["--codetracer-log-level", "info", "--codetracer-log-file", str(log_file)]
    recorded, _ = run_on_a_private_tmpfs(
        recorder_argv(prog, tmp_path / "trace", options=options),
        cwd=tmp_path,
        disk=disk,
        options="size=4k",
        prepare=f"printf '%s\\n' {earlier.strip()} > \"$disk/recorder.log\"",
    )
    assert_same_behaviour(Pair(plain, recorded, tmp_path / "trace"))
    assert_complete(tmp_path / "trace", main=prog.path)
    assert_logged_on_stderr_instead(recorded.stderr, log_file, "No space left on device")
    assert (Path(f"{disk}-after") / "recorder.log").read_text() == earlier


# ---- a program far faster than the trace writer -----------------------------------------

FAST_PRODUCER = escape_times(100)

INSPECT_THE_JSON_TRACE = """
import json, os, sys
trace, report = sys.argv[1], sys.argv[2]
events = os.path.join(trace, "trace.json")
newlines, tail = 0, b""
with open(events, "rb") as f:
    head = f.read(2)
    f.seek(0)
    while chunk := f.read(1 << 24):
        newlines += chunk.count(b"\\n")
        tail = (tail + chunk)[-4096:]
with open(os.path.join(trace, "trace_metadata.json")) as f:
    metadata = json.load(f)
with open(report, "w") as f:
    json.dump({"metadata": metadata, "bytes": os.path.getsize(events), "newlines": newlines,
               "head": head.decode(), "tail": tail.decode().splitlines()[-2:]}, f)
"""


@pytest.mark.timeout(240)
def test_a_program_far_faster_than_the_json_writer_is_held_back_in_bounded_memory(
    program, tmp_path
):
    """Float locals at every line step: writing them as JSON text is the slow side (the
    writer thread cannot keep up, benchmarks/README.md), so the recording thread must wait
    for it. Peak RSS stays under the bound while about 13 million events (about 1 GB of
    JSON, on a private tmpfs) are written, none dropped: the file holds exactly the events
    the recorder logged, ending with the top-level Return of status 0."""
    prog = program(FAST_PRODUCER)
    disk = tmp_path / "disk"
    report = tmp_path / "report.json"
    plain = run([prog.path], cwd=tmp_path)
    inspector = tmp_path / "count_events.py"
    inspector.write_text(INSPECT_THE_JSON_TRACE)
    inspect = f'"{sys.executable}" "{inspector}" "$disk/trace" "{report}"'
    recorded, peak_kb = run_on_a_private_tmpfs(
        recorder_argv(prog, disk / "trace", options=["--codetracer-log-level", "info"]),
        cwd=tmp_path,
        disk=disk,
        options="size=3g",
        finish=inspect,
    )
    assert_same_behaviour(Pair(plain, recorded, disk / "trace"))
    assert peak_kb < RSS_BOUND_MB * 1024, f"peak RSS {peak_kb // 1024} MB"
    found = json.loads(report.read_text())
    assert found["metadata"]["partial"] is False
    assert found["bytes"] > 500 << 20, found["bytes"]
    (stopped,) = [r for r in records(recorded.stderr) if "recording stopped" in r["message"]]
    events = int(stopped["message"].rsplit("(", 1)[1].split()[0])
    assert found["newlines"] == events + 2, "one event a line, between '[' and ']'"
    assert found["head"] == "[\n"
    last_event, closing = found["tail"]
    status = json.loads(last_event)["Return"]["return_value"]
    assert (status["kind"], status["i"]) == ("Int", 0)
    assert closing == "]"
