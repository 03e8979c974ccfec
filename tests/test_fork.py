"""A forked child lets go of its parent's recording: it neither writes into the parent's
trace nor waits for the parent's writer thread, so it never hangs, and the parent's
trace stays complete and balanced."""

from __future__ import annotations

FORK = """
    import os

    def busy(n):
        total = 0
        for i in range(n):
            total += i
        return total

    def child_work():
        # Far more events than the writer queue holds, so a child still feeding the
        # parent's (absent) writer thread would block forever.
        return sum(busy(50) for _ in range(20_000))

    def main():
        pid = os.fork()
        if pid == 0:
            child_work()
            os._exit(7)
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status))
        return busy(10)

    main()
"""


def test_forked_child_runs_unrecorded_and_parent_trace_is_complete(program, record):
    run = record(program(FORK))
    assert run.returncode == 0, run.stderr
    assert run.stdout == "child exit 7\n"
    trace = run.trace
    assert [c.return_value for c in trace.calls("main")] == [45]
    assert trace.calls("child_work") == []
    assert [c.args for c in trace.calls("busy")] == [{"n": 10}]
