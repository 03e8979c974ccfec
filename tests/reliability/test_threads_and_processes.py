"""Threads and processes under the recorder: failing threads, daemon threads left running,
``os.fork`` with and without ``exec``, ``multiprocessing`` pools, and many threads calling
at once.

The program behaves as it does unrecorded (children's statuses and outputs included),
ends within the bound, and the recording process's trace is complete: no child writes
into it, and every call of every thread is in it.
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import assert_complete, assert_same_behaviour, run_both
from tracekit import ErrorValue

from codetracer_recorder import _native


def calls_by_function(trace_dir: Path) -> collections.Counter[str]:
    """How many Call events each function has in the trace at ``trace_dir``, counted in
    the crate reader's event stream without building one Python object per event."""
    events = _native.trace_events_json(str(trace_dir))
    names = [m.group(1) for m in re.finditer(r'\{"Function":\{[^{}]*"name":"([^"]*)"', events)]
    return collections.Counter(
        names[int(m.group(1))] for m in re.finditer(r'\{"Call":\{"function_id":(\d+)', events)
    )


def assert_recorded_whole(trace_dir: Path) -> dict:
    """The trace at ``trace_dir`` is not partial and passes the crate reader's checks
    (ids interned before use, a balanced stack ending with the top-level Return)."""
    metadata = json.loads((trace_dir / "trace_metadata.json").read_text(encoding="utf-8"))
    assert metadata["partial"] is False, metadata
    return _native.trace_summary(str(trace_dir))


# ---------------------------------------------------------------------------------------
# Threads


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_uncaught_exception_in_a_thread_is_reported_as_python_and_main_goes_on(
    program, tmp_path, via
):
    """``threading.excepthook`` prints the thread's traceback exactly as unrecorded, the
    main thread carries on, and the trace holds the thread's call returning its error."""
    prog = program("""
        import threading

        def fail(n):
            raise ValueError(f"thread {n} failed")

        def after(n):
            return n * 2

        t = threading.Thread(target=fail, args=(1,))
        t.start()
        t.join()
        print("main continues", after(21))
    """)
    pair = run_both(prog, tmp_path / "trace", via=via)
    assert "ValueError: thread 1 failed" in pair.plain.stderr, pair.plain
    assert_same_behaviour(pair)
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert trace.returns("fail") == [ErrorValue("ValueError: thread 1 failed")]
    assert trace.returns("after") == [42]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_daemon_threads_still_calling_recorded_code_at_exit_do_not_hold_the_process(
    program, tmp_path, via
):
    """Four daemon threads spin in recorded calls, as fast as they can, when the program
    exits with 3: the process ends as unrecorded (status 3), and the trace is complete
    and valid, with each thread's calls up to the end of the recording. (Their tens of
    thousands of calls are checked by the crate reader and counted, not loaded one by one.)"""
    prog = program("""
        import sys
        import threading

        started = threading.Semaphore(0)

        def spin(tid):
            return tid

        def loop(tid):
            n = 0
            while True:
                spin(tid)
                n += 1
                if n == 100:
                    started.release()

        def main():
            for tid in range(4):
                threading.Thread(target=loop, args=(tid,), daemon=True).start()
            for _ in range(4):
                started.acquire()
            print("main done")
            return 3

        sys.exit(main())
    """)
    options = ["--format", "binary"] if via == "cli" else ['format="binary"']
    pair = run_both(prog, tmp_path / "trace", via=via, options=options)
    assert pair.plain.returncode == 3, pair.plain
    assert_same_behaviour(pair)
    assert_recorded_whole(pair.trace_dir)
    calls = calls_by_function(pair.trace_dir)
    assert calls["main"] == 1
    assert calls["loop"] == 4
    assert calls["spin"] >= 4 * 100


THREADS_CALLING = """
    import threading

    THREADS, CALLS = 8, {calls}
    start_together = threading.Barrier(THREADS)
    results = [None] * THREADS

    def inc(tid, total):
        return total + 1

    def worker(tid):
        start_together.wait()
        total = 0
        for _ in range(CALLS):
            total = inc(tid, total)
        results[tid] = total

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(results)
"""
"""Eight threads released together, each making ``calls`` calls of ``inc``."""


@pytest.mark.timeout(120)
def test_eight_threads_calling_at_once_each_leave_every_call_in_their_own_block(program, tmp_path):
    """With locals recorded (the default), 8 threads x 1,000 calls: each thread's calls
    are all in the trace, in order, inside that thread's own worker frame."""
    prog = program(THREADS_CALLING.format(calls=1_000))
    pair = run_both(prog, tmp_path / "trace")
    assert_same_behaviour(pair)
    trace = assert_complete(pair.trace_dir, main=prog.path)
    workers = trace.calls("worker")
    assert sorted(w.args["tid"] for w in workers) == list(range(8))
    for worker in workers:
        calls = list(worker.descendants())
        assert [c.name for c in calls] == ["inc"] * 1_000
        tid = worker.args["tid"]
        assert [c.args for c in calls] == [{"tid": tid, "total": n} for n in range(1_000)]
        assert [c.return_value for c in calls] == list(range(1, 1_001))
    assert len(trace.calls("inc")) == 8 * 1_000


@pytest.mark.timeout(180)
def test_eight_threads_making_100_000_calls_each_are_all_recorded(program, tmp_path):
    """8 threads x 100,000 calls at once, recorded with ``--capture none`` into
    ``trace.bin`` (locals at this size would take gigabytes to read back): the trace is
    complete, passes the crate reader's checks, and holds exactly 800,000 calls of ``inc``."""
    prog = program(THREADS_CALLING.format(calls=100_000))
    pair = run_both(prog, tmp_path / "trace", options=["--capture", "none", "--format", "binary"])
    assert pair.plain.stdout == f"{[100_000] * 8}\n", pair.plain
    assert_same_behaviour(pair)
    summary = assert_recorded_whole(pair.trace_dir)
    assert summary["calls"] == summary["returns"] == 8 * 100_000 + 8 + 2, summary
    assert calls_by_function(pair.trace_dir) == {
        "<toplevel>": 1,
        "<module>": 1,
        "worker": 8,
        "inc": 8 * 100_000,
    }


# ---------------------------------------------------------------------------------------
# os.fork


FORK = """
    import os
    import sys

    def busy(n):
        total = 0
        for i in range(n):
            total += i
        return total

    def child_work():
        print("child", busy(1000), flush=True)
        {exit}

    def main():
        # About 40,000 events: some written, some still in the queue when it forks.
        before = [busy(50) for _ in range(100)]
        pid = os.fork()
        if pid == 0:
            child_work()
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status))
        after = [busy(20) for _ in range(50)]
        return len(before) + len(after)

    print("parent", main())
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
@pytest.mark.parametrize("exit", ["os._exit(7)", "sys.exit(0)", "sys.exit(5)"])
def test_forked_child_exits_as_unrecorded_and_leaves_the_parents_trace_whole(
    program, tmp_path, via, exit
):
    """A child forked without exec does recorded work and exits (``os._exit``, or
    ``sys.exit`` through the recorder's own ending): the parent sees the child's own status,
    outputs equal the unrecorded run's, and the parent's trace is complete with exactly
    the parent's calls, before and after the fork, none of the child's."""
    prog = program(FORK.format(exit=exit))
    pair = run_both(prog, tmp_path / "trace", via=via)
    assert pair.plain.returncode == 0, pair.plain
    # The trace first: a child writing into it must show even when outputs differ too.
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert trace.returns("main") == [150]
    assert [c.args["n"] for c in trace.calls("busy")] == [50] * 100 + [20] * 50
    assert trace.calls("child_work") == []
    assert_same_behaviour(pair)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_forked_child_that_execs_another_python_keeps_its_status(program, tmp_path, via):
    """fork + exec of a fresh (unrecorded) interpreter: its output and status 6 reach the
    parent as unrecorded, and the parent's trace is complete."""
    prog = program("""
        import os
        import sys

        def busy(n):
            return sum(range(n))

        def main():
            busy(100)
            pid = os.fork()
            if pid == 0:
                code = "print('exec child', flush=True); raise SystemExit(6)"
                os.execv(sys.executable, [sys.executable, "-c", code])
            _, status = os.waitpid(pid, 0)
            print("child exit", os.waitstatus_to_exitcode(status))
            return busy(10)

        print("parent", main())
    """)
    pair = run_both(prog, tmp_path / "trace", via=via)
    assert pair.plain.stdout == "exec child\nchild exit 6\nparent 45\n", pair.plain
    assert_same_behaviour(pair)
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert trace.returns("main") == [45]
    assert [c.args for c in trace.calls("busy")] == [{"n": 100}, {"n": 10}]


@pytest.mark.timeout(120)
def test_forked_child_killed_by_sigterm_dies_at_once_as_unrecorded(program, tmp_path):
    """SIGTERM kills an unrecorded child at once, even in the middle of a long C call.
    A child forked by a recorded program must die the same way: the CLI's SIGTERM handler
    is for the recording process, and a Python-level handler only runs between bytecodes
    (a pool worker blocked in C would never die, and ``Pool.terminate`` would hang)."""
    prog = program("""
        import itertools
        import os
        import signal
        import time

        def crunch():
            return sum(itertools.repeat(1, 10**11))  # one C call of many minutes

        def main():
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.write(w, b"x")
                crunch()
                os._exit(0)
            os.read(r, 1)
            time.sleep(0.5)  # let the child get into its C call
            os.kill(pid, signal.SIGTERM)
            for _ in range(60):  # 3 s: SIGTERM's default action takes none of it
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return f"child {os.waitstatus_to_exitcode(status)}"
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "child outlived SIGTERM"

        print(main())
    """)
    pair = run_both(prog, tmp_path / "trace")
    assert pair.plain.stdout == "child -15\n", pair.plain
    assert_same_behaviour(pair)
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert trace.returns("main") == ["child -15"]


# ---------------------------------------------------------------------------------------
# multiprocessing


POOL = """
    import multiprocessing

    def square(x):
        return x * x

    def run_pool():
        with multiprocessing.get_context("{method}").Pool(4) as pool:
            return pool.map(square, range(100))

    def main():
        for round in range({rounds}):
            results = run_pool()
            print(round, results)
        return sum(results)

    if __name__ == "__main__":
        print("total", main())
"""
"""Rounds of a pool of 4 mapping ``square`` over 100 items; each round ends with
``Pool.terminate``, which stops its workers with SIGTERM."""


@pytest.mark.timeout(150)
@pytest.mark.parametrize("via", ["cli", "api"])
@pytest.mark.parametrize(("method", "rounds"), [("fork", 3), ("spawn", 1)])
def test_multiprocessing_pool_gives_the_same_results_and_no_worker_hangs(
    program, tmp_path, via, method, rounds
):
    """Pools started by ``fork`` (workers are copies of the recorded process; three
    rounds, as a worker stuck at ``terminate`` is a race) and by ``spawn`` (fresh
    interpreters importing the program as ``__mp_main__``): results in order as
    unrecorded, no worker left hanging, and the parent's trace is complete with the
    parent's calls (workers' calls are theirs, never in it)."""
    prog = program(POOL.format(method=method, rounds=rounds))
    pair = run_both(prog, tmp_path / "trace", via=via)
    squares = [x * x for x in range(100)]
    assert pair.plain.stdout.splitlines()[-1] == f"total {sum(squares)}", pair.plain
    assert_same_behaviour(pair)
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert len(trace.calls("run_pool")) == rounds
    assert trace.returns("main") == [sum(squares)]
    assert trace.calls("square") == []
