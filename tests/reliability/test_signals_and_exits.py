"""Signals and exits mid-run: Ctrl-C, SIGTERM, ``os._exit`` and ``sys.exit``.

A program recorded as a user records it ends as it would unrecorded (same stdout, stderr
and status, death by the same signal), and its trace is finished, or, when the process
dies with no chance to finish it, nothing is left that a reader would take for a trace.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import (
    Pair,
    assert_complete,
    assert_same_behaviour,
    program_stderr,
    recorder_argv,
    run_both,
    run_until_then_signal,
    signal_status,
)
from tracekit import ErrorValue, Program

from codetracer_recorder import RecorderError, _native

MARKER = b"ready\n"

BUSY_LOOP = """
    import os

    def tick(i):
        return i * 2

    def loop():
        i = 0
        while True:
            tick(i)
            i += 1
            if i == 5000:
                os.write(1, b"ready\\n")

    loop()
"""
"""Recorded calls without end; the marker (written unbuffered) says 5000 were made."""


def signal_both(
    prog: Program,
    trace_dir: Path,
    signum: int,
    *,
    via: str = "cli",
    env: dict[str, str] | None = None,
) -> Pair:
    """Run ``prog`` plain, then recorded, each sent ``signum`` once it has written MARKER."""
    cwd = prog.path.parent
    plain = run_until_then_signal([prog.path], cwd=cwd, marker=MARKER, signum=signum, env=env)
    recorded = run_until_then_signal(
        recorder_argv(prog, trace_dir, via=via), cwd=cwd, marker=MARKER, signum=signum, env=env
    )
    return Pair(plain, recorded, trace_dir)


def assert_nothing_loads_as_a_trace(where: Path, trace_dir: Path) -> None:
    """No trace at ``trace_dir``, and whatever the dead process left under ``where`` (its
    staging directory) has no metadata and is refused by the trace reader."""
    assert not trace_dir.exists(), sorted(trace_dir.iterdir())
    assert list(where.rglob("trace_metadata.json")) == []
    for staging in where.glob(f".{trace_dir.name}.staging-*"):
        with pytest.raises(RecorderError) as refused:
            _native.trace_summary(str(staging))
        assert refused.value.code == "ERR_TRACE_INVALID"


# ---------------------------------------------------------------------------------------
# SIGINT


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_sigint_in_a_loop_of_recorded_calls_dies_by_sigint_with_a_complete_trace(
    program, tmp_path, via
):
    """Ctrl-C lands wherever the loop is (maybe inside a recorder callback): the program
    still dies by SIGINT after Python's KeyboardInterrupt traceback of its own frames, and
    the trace is finished, complete, the interrupted frame returning KeyboardInterrupt."""
    prog = program(BUSY_LOOP)
    pair = signal_both(prog, tmp_path / "trace", signal.SIGINT, via=via)
    plain, recorded = pair.plain, pair.recorded
    assert plain.returncode == signal_status(signal.SIGINT), plain
    assert recorded.returncode == plain.returncode, (plain, recorded)
    assert recorded.stdout == plain.stdout == "ready\n", (plain, recorded)
    # The line the signal lands on differs from run to run, so the tracebacks are
    # compared by their form: Python's header, the program's frames only, the exception.
    err = program_stderr(recorded.stderr)
    assert err.startswith("Traceback (most recent call last):\n"), recorded
    assert err.endswith("\nKeyboardInterrupt\n"), recorded
    files = {line.split('"')[1] for line in err.splitlines() if line.startswith('  File "')}
    assert files == {str(prog.path)}, recorded
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert trace.returns("loop") == [ErrorValue("KeyboardInterrupt")]
    assert len(trace.calls("tick")) >= 5000


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_sigint_at_a_known_line_prints_the_traceback_python_prints(program, tmp_path, via):
    """A SIGINT the program sends itself from 10 frames deep is handled at a known line,
    so stderr must equal Python's to the byte and the status be death by SIGINT; every
    frame it unwinds returns KeyboardInterrupt in the complete trace."""
    prog = program("""
        import os
        import signal

        def work(n):
            return n + 1

        def interrupt(depth):
            if depth == 0:
                os.kill(os.getpid(), signal.SIGINT)
                return "not reached"
            return interrupt(depth - 1)

        for n in range(1000):
            work(n)
        print("interrupting", flush=True)
        interrupt(10)
    """)
    pair = run_both(prog, tmp_path / "trace", via=via)
    assert pair.plain.returncode == signal_status(signal.SIGINT), pair.plain
    assert_same_behaviour(pair)
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert trace.returns("interrupt") == [ErrorValue("KeyboardInterrupt")] * 11
    assert len(trace.calls("work")) == 1000
    if via == "cli":
        assert trace.metadata["exit_code"] == 128 + signal.SIGINT


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_program_that_catches_ctrl_c_exits_with_its_own_status(program, tmp_path, via):
    """KeyboardInterrupt caught by the program is the program's business: it prints,
    exits 3, and the trace is complete with that status."""
    prog = program("""
        import os
        import sys

        def tick(i):
            return i * 2

        def loop():
            i = 0
            while True:
                tick(i)
                i += 1
                if i == 5000:
                    os.write(1, b"ready\\n")

        try:
            loop()
        except KeyboardInterrupt:
            print("interrupted, cleaning up")
            sys.exit(3)
    """)
    pair = signal_both(prog, tmp_path / "trace", signal.SIGINT, via=via)
    assert pair.plain.returncode == 3, pair.plain
    assert_same_behaviour(pair)
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert trace.returns("loop") == [ErrorValue("KeyboardInterrupt")]
    if via == "cli":
        assert trace.metadata["exit_code"] == 3


# ---------------------------------------------------------------------------------------
# SIGTERM


@pytest.mark.timeout(120)
def test_sigterm_mid_run_finalises_the_trace_and_dies_by_sigterm(program, tmp_path):
    """SIGTERM's default kills at once; the CLI first finishes the trace (complete, with
    the calls made so far and the status 128+SIGTERM), then dies by SIGTERM as well."""
    prog = program(BUSY_LOOP)
    pair = signal_both(prog, tmp_path / "trace", signal.SIGTERM)
    assert pair.plain.returncode == signal_status(signal.SIGTERM), pair.plain
    assert_same_behaviour(pair)
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert len(trace.calls("loop")) == 1
    assert len(trace.calls("tick")) >= 5000
    assert trace.metadata["exit_code"] == 128 + signal.SIGTERM


@pytest.mark.timeout(120)
def test_sigterm_runs_none_of_the_programs_code_as_under_python(program, tmp_path):
    """Under Python, SIGTERM kills the program where it stands: no ``finally`` block, no
    ``except BaseException`` handler runs, and output still in the program's buffer is
    lost (stdout is a pipe, so block-buffered). Recorded, the same must be seen."""
    prog = program("""
        import os

        def tick(i):
            return i * 2

        def serve():
            print("buffered, never flushed")
            i = 0
            try:
                while True:
                    try:
                        tick(i)
                    except BaseException as exc:
                        print("handler ran for", type(exc).__name__)
                        raise
                    i += 1
                    if i == 5000:
                        os.write(1, b"ready\\n")
            finally:
                print("cleanup ran")

        serve()
    """)
    pair = signal_both(prog, tmp_path / "trace", signal.SIGTERM, env={"PYTHONUNBUFFERED": ""})
    assert pair.plain.returncode == signal_status(signal.SIGTERM), pair.plain
    assert pair.plain.stdout == "ready\n", pair.plain
    assert_same_behaviour(pair)
    assert_complete(pair.trace_dir, main=prog.path)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_program_with_its_own_sigterm_handler_keeps_it(program, tmp_path, via):
    """A handler the program installs is the one that runs, under the CLI and the library
    alike: it prints and exits 5, and the trace is complete."""
    prog = program("""
        import os
        import signal
        import sys
        import time

        def on_term(signum, frame):
            print("handled", signal.Signals(signum).name, flush=True)
            sys.exit(5)

        def wait():
            while True:
                time.sleep(0.05)

        signal.signal(signal.SIGTERM, on_term)
        os.write(1, b"ready\\n")
        wait()
    """)
    pair = signal_both(prog, tmp_path / "trace", signal.SIGTERM, via=via)
    assert pair.plain.returncode == 5, pair.plain
    assert_same_behaviour(pair)
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert trace.returns("on_term") == [ErrorValue("SystemExit: 5")]
    if via == "cli":
        assert trace.metadata["exit_code"] == 5


@pytest.mark.timeout(120)
def test_sigterm_under_the_library_kills_the_host_as_python_does_and_leaves_no_trace(
    program, tmp_path
):
    """The library installs no signal handler (the host's own, here the default, stays):
    the host dies by SIGTERM at once, no trace is finished, and the staging directory it
    leaves is refused by the trace reader."""
    prog = program(BUSY_LOOP)
    trace_dir = tmp_path / "trace"
    pair = signal_both(prog, trace_dir, signal.SIGTERM, via="api")
    assert pair.plain.returncode == signal_status(signal.SIGTERM), pair.plain
    assert_same_behaviour(pair)
    assert_nothing_loads_as_a_trace(tmp_path, trace_dir)


# ---------------------------------------------------------------------------------------
# os._exit and sys.exit


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_os_exit_from_a_deep_frame_keeps_its_status_and_leaves_nothing_loadable(
    program, tmp_path, via
):
    """``os._exit`` runs no cleanup, so the trace cannot be finished: the status is the
    program's, its own flushed output is intact, and the events already written (more
    than a writer batch) are left only in a staging directory no reader accepts."""
    prog = program("""
        import os

        def step(i):
            return i + 1

        def dive(depth):
            if depth == 0:
                for i in range(20_000):
                    step(i)
                print("leaving", flush=True)
                os._exit(9)
            dive(depth - 1)

        dive(40)
    """)
    trace_dir = tmp_path / "trace"
    pair = run_both(prog, trace_dir, via=via)
    assert pair.plain.returncode == 9, pair.plain
    assert_same_behaviour(pair)
    assert_nothing_loads_as_a_trace(tmp_path, trace_dir)


EXIT_DEEP = """
    import sys

    def dive(depth):
        if depth == 0:
            sys.exit({code})
        return dive(depth - 1)

    print("start")
    dive(50)
    print("not reached")
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
@pytest.mark.parametrize(
    ("code", "status", "recorded_as"),
    [
        ("7", 7, "SystemExit: 7"),
        ("'bad config'", 1, "SystemExit: bad config"),
        ("None", 0, "SystemExit"),
    ],
    ids=["int", "message", "none"],
)
def test_sys_exit_from_50_frames_deep_ends_as_python_with_a_complete_trace(
    program, tmp_path, via, code, status, recorded_as
):
    """``sys.exit(n)``, ``sys.exit("message")`` (printed, status 1) and ``sys.exit(None)``
    (status 0) unwind 51 frames: status and stderr as Python's, every frame returns the
    SystemExit, and the CLI's trace metadata holds the status."""
    prog = program(EXIT_DEEP.format(code=code))
    pair = run_both(prog, tmp_path / "trace", via=via)
    assert pair.plain.returncode == status, pair.plain
    assert_same_behaviour(pair)
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert trace.returns("dive") == [ErrorValue(recorded_as)] * 51
    if via == "cli":
        assert trace.metadata["exit_code"] == trace.exit_status == status
