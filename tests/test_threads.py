"""Threads: every call of every thread is recorded, and the trace format (which has
no thread events) still gets one balanced stack: each thread's top-level recorded call
is one contiguous block that no other thread's frames interleave."""

from __future__ import annotations

import pytest
from tracekit import error_lines, looks_like_a_trace, run_cli

THREADS = """
    import sys
    import threading

    THREADS = int(sys.argv[1])
    CALLS = 5
    start_together = threading.Barrier(THREADS + 1)

    def work(tid, k):
        square = k * k
        return tid * 100 + square

    def worker(tid):
        start_together.wait()
        results = []
        for k in range(CALLS):
            results.append(work(tid, k))
        return sum(results)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    start_together.wait()
    mine = [work(99, k) for k in range(CALLS)]
    for t in threads:
        t.join()
    print(len(mine))
"""


@pytest.mark.parametrize("threads", [2, 4])
def test_every_call_of_every_thread_is_recorded(program, record, threads):
    run = record(program(THREADS), args=[str(threads)])
    assert run.returncode == 0, run
    trace = run.trace
    workers = trace.calls("worker")
    assert sorted(c.args["tid"] for c in workers) == list(range(threads))
    expected = {(tid, k) for tid in [*range(threads), 99] for k in range(5)}
    recorded = [(c.args["tid"], c.args["k"]) for c in trace.calls("work")]
    assert sorted(recorded) == sorted(expected)
    for worker in workers:
        tid = worker.args["tid"]
        assert worker.return_value == sum(tid * 100 + k * k for k in range(5))


@pytest.mark.parametrize("threads", [2, 4])
def test_each_threads_calls_form_one_contiguous_block(program, record, threads):
    prog = program(THREADS)
    trace = record(prog, args=[str(threads)]).trace
    body = range(prog.line("def worker(tid):"), prog.line("return sum(results)") + 1)
    for worker in trace.calls("worker"):
        stray = [s.line for s in worker.steps if not s.entry and s.line not in body]
        assert stray == [], f"lines of other frames inside worker's block: {stray}"
        tid = worker.args["tid"]
        inside = list(worker.descendants())
        assert [(c.name, c.args["tid"]) for c in inside] == [("work", tid)] * 5, (
            f"thread {tid}'s block holds calls of other threads: {inside}"
        )
        assert worker.parent is not None
        assert worker.parent.name != "worker"


def test_main_thread_calls_stay_in_the_main_threads_frames(program, record):
    trace = record(program(THREADS), args=["3"]).trace
    main_work = [c for c in trace.calls("work") if c.args["tid"] == 99]
    assert len(main_work) == 5
    assert all(c.parent is not None and c.parent.name == "<module>" for c in main_work)


def test_thread_locals_are_recorded_at_its_lines(program, record):
    prog = program(THREADS)
    trace = record(prog, args=["2"]).trace
    steps = trace.line_steps(prog.line("return tid * 100 + square"))
    seen = {(s.values["tid"], s.values["k"], s.values["square"]) for s in steps}
    assert seen == {(tid, k, k * k) for tid in (0, 1, 99) for k in range(5)}


def test_thread_that_raises_still_leaves_a_balanced_trace(program, record):
    prog = program("""
        import threading

        def fail(n):
            raise ValueError(f"thread {n} failed")

        t = threading.Thread(target=fail, args=(1,))
        t.start()
        t.join()
        print("main done")
    """)
    run = record(prog)
    assert run.returncode == 0, run
    assert run.stdout == "main done\n"
    assert "ValueError: thread 1 failed" in run.stderr
    (call,) = run.trace.calls("fail")
    assert call.return_value.msg == "ValueError: thread 1 failed"


def test_daemon_thread_still_running_at_exit_does_not_break_the_trace(program, record):
    prog = program("""
        import threading

        def spin(flag):
            while True:
                flag.wait(0.01)

        def main():
            threading.Thread(target=spin, args=(threading.Event(),), daemon=True).start()
            return "left"

        print(main())
    """)
    run = record(prog)
    assert run.returncode == 0, run
    assert run.stdout == "left\n"
    assert run.trace.returns("main") == ["left"]


def test_thread_still_running_when_the_script_ends_is_recorded(program, record):
    prog = program("""
        import threading
        import time

        def late(n):
            time.sleep(0.2)
            return n * 3

        threading.Thread(target=late, args=(5,)).start()
        print("module done")
    """)
    run = record(prog)
    assert run.returncode == 0, run
    assert run.stdout == "module done\n"
    (late,) = run.trace.calls("late")
    assert late.args == {"n": 5}
    assert late.return_value == 15


LONG_CALL = """
    import sys
    import threading

    def step(i):
        return i * 2

    def worker(n):
        total = 0
        for i in range(n):
            total += step(i)
        return total

    def main():
        t = threading.Thread(target=worker, args=(int(sys.argv[1]),))
        t.start()
        mine = [step(-1) for _ in range(3)]
        t.join()
        return sum(mine)

    print(main())
"""


@pytest.mark.parametrize("format", ["json", "binary"])
def test_a_thread_call_longer_than_a_batch_is_set_aside_and_recorded_whole(program, record, format):
    """A thread's top-level call is held back until it returns; one of ~100,000 events
    (over ten writer batches) goes to a scratch file meanwhile and joins the trace whole."""
    calls = 20_000
    run = record(program(LONG_CALL), args=[str(calls)], format=format)
    assert run.returncode == 0, run
    assert run.stdout == "-6\n"
    trace = run.trace
    (worker,) = trace.calls("worker")
    assert worker.return_value == sum(2 * i for i in range(calls))
    inside = list(worker.descendants())
    assert [c.args["i"] for c in inside] == list(range(calls)), "in order, none lost, none foreign"
    assert worker.parent is not None and worker.parent.name == "main"
    assert [c.args["i"] for c in trace.calls("step") if c.parent is not worker] == [-1] * 3


def test_a_scratch_file_that_cannot_be_written_fails_the_recording_with_err_io(program, tmp_path):
    prog = program(LONG_CALL)
    run = run_cli(
        ["--trace-dir", tmp_path / "trace", prog.path, "20000"],
        cwd=tmp_path,
        env={"CODETRACER_TEST_INJECT": "io:set_aside"},
    )
    assert run.returncode == 10, run
    assert run.stdout == "-6\n"
    assert error_lines(run.stderr) == ["ERR_IO"]
    assert looks_like_a_trace(tmp_path) == []
