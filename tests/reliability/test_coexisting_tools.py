"""Other ``sys.monitoring`` tools active at the same time as the recorder: coverage.py's
sysmon core measuring a recorded run, and a program that runs a monitoring tool of its
own. Each tool keeps seeing what it sees without the other: coverage reports the same
lines, the program counts the same events, and the trace is the same as without them."""

from __future__ import annotations

import json

import pytest
from coverage import CoverageData
from harness import Pair, assert_complete, assert_same_behaviour, recorder_argv, run, run_both


def _executed_lines(data_file, *programs) -> dict[str, list[int]]:
    """The lines coverage.py recorded as executed in each of ``programs``, by file name."""
    data = CoverageData(basename=str(data_file))
    data.read()
    return {p.path.name: sorted(data.lines(str(p.path)) or []) for p in programs}


@pytest.mark.timeout(90)
def test_coverage_sysmon_around_the_recorder_reports_the_same_lines_and_trace(program, tmp_path):
    """``COVERAGE_CORE=sysmon python -m coverage run -m codetracer_recorder prog.py``:
    both tools hold a ``sys.monitoring`` tool id (1 and 3) at once. The program behaves
    as plain; the trace is event for event the one recorded without coverage; coverage
    reports as executed exactly the lines it reports without the recorder (of the
    program and of the module it imports), which are the lines that ran."""
    helper = program(
        """
        class Shape:
            def __init__(self, sides):
                self.sides = sides

            def describe(self):
                if self.sides == 3:
                    return "triangle"
                return f"{self.sides}-gon"

        def never_called():
            return "unreached"
        """,
        name="shapes.py",
    )
    prog = program("""
        from shapes import Shape

        def sides(limit):
            for n in range(3, limit):
                yield n

        def classify(n):
            try:
                if n % 4 == 1:
                    raise ValueError(n)
                return Shape(n).describe()
            except ValueError:
                return "odd"

        def unused():
            return "never"

        print([classify(n) for n in sides(7)])
    """)
    env = {"COVERAGE_CORE": "sysmon", "COVERAGE_DEBUG_FILE": str(tmp_path / "coverage-debug")}
    cwd = prog.path.parent

    def coverage_run(data_file, argv):
        options = ["--debug=sys", f"--data-file={data_file}"]
        return run(["-m", "coverage", "run", *options, *argv], cwd=cwd, env=env)

    plain = run([prog.path], cwd=cwd)
    recorded_alone = run(recorder_argv(prog, tmp_path / "trace-alone"), cwd=cwd)
    covered_alone = coverage_run(tmp_path / "cov-alone", [prog.path])
    both = coverage_run(tmp_path / "cov-both", recorder_argv(prog, tmp_path / "trace-both"))
    debug = (tmp_path / "coverage-debug").read_text(encoding="utf-8")
    assert debug.count("core: SysMonitor") == 2, debug

    assert_same_behaviour(Pair(plain, both, tmp_path / "trace-both"))
    assert_same_behaviour(Pair(plain, covered_alone, tmp_path / "cov-alone"))
    alone = assert_complete(tmp_path / "trace-alone", main=prog.path)
    with_coverage = assert_complete(tmp_path / "trace-both", main=prog.path)
    assert recorded_alone.returncode == 0, recorded_alone
    assert with_coverage.events == alone.events
    classified = [c.return_value for c in with_coverage.calls("classify")]
    assert classified == ["triangle", "4-gon", "odd", "6-gon"]

    lines = _executed_lines(tmp_path / "cov-both", prog, helper)
    assert lines == _executed_lines(tmp_path / "cov-alone", prog, helper)
    assert prog.line('return "never"') not in lines["prog.py"]
    assert prog.line('return "odd"') in lines["prog.py"]
    assert helper.line('return "unreached"') not in lines["shapes.py"]
    assert helper.line('return f"{self.sides}-gon"') in lines["shapes.py"]


# A program that runs two monitoring tools of its own: one counts every start, return and
# line of its functions; the other notes each function's first call and then switches
# that call site off with DISABLE, as a sampling profiler would, until the program calls
# restart_events() to sample again. Their callbacks are the program's own functions.
OWN_TOOLS = """
    import json
    import sys

    mon = sys.monitoring
    E = mon.events
    COUNTER, SAMPLER = 2, 4
    counts = {}
    first_calls = []

    def count(event, code):
        if code.co_filename == __file__:
            key = f"{event} {code.co_name}"
            counts[key] = counts.get(key, 0) + 1

    def on_start(code, offset):
        count("start", code)

    def on_return(code, offset, value):
        count("return", code)

    def on_line(code, line):
        count("line", code)

    def on_first_call(code, offset):
        if code.co_filename == __file__:
            first_calls.append(code.co_name)
        return mon.DISABLE

    def work(n):
        total = 0
        for i in range(n):
            total += i
        return total

    mon.use_tool_id(COUNTER, "counter")
    mon.register_callback(COUNTER, E.PY_START, on_start)
    mon.register_callback(COUNTER, E.PY_RETURN, on_return)
    mon.register_callback(COUNTER, E.LINE, on_line)
    mon.set_events(COUNTER, E.PY_START | E.PY_RETURN)
    mon.set_local_events(COUNTER, work.__code__, E.LINE)
    mon.use_tool_id(SAMPLER, "sampler")
    mon.register_callback(SAMPLER, E.PY_START, on_first_call)
    mon.set_events(SAMPLER, E.PY_START)

    results = [work(n) for n in range(5)]
    print(json.dumps(results))
    mon.restart_events()
    results += [work(n) for n in range(3)]
    print(json.dumps(results))

    mon.set_local_events(COUNTER, work.__code__, 0)
    for tool in (COUNTER, SAMPLER):
        mon.set_events(tool, 0)
        mon.free_tool_id(tool)
    print(sorted(counts.items()))
    print(first_calls)
"""


@pytest.mark.parametrize("via", ["cli", "api"])
@pytest.mark.timeout(60)
def test_the_programs_own_monitoring_tools_count_the_same_events_recorded(program, tmp_path, via):
    """The program runs monitoring tools of its own (ids 2 and 4) while it is recorded,
    one returning DISABLE and later calling ``restart_events()``: it counts the same
    starts, returns, lines and first calls as plain. The trace is complete, holds every
    call of ``work``, and not the tools' callbacks (code run as a monitoring callback
    fires no events), nor the standard library after ``restart_events()`` re-enabled
    what the recorder had switched off."""
    prog = program(OWN_TOOLS)
    pair = run_both(prog, tmp_path / "trace", via=via)
    assert_same_behaviour(pair)
    assert pair.plain.returncode == 0, pair
    assert "'start work', 8" in pair.plain.stdout
    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert [c.args["n"] for c in trace.calls("work")] == [0, 1, 2, 3, 4, 0, 1, 2]
    assert trace.function_names() == {"<module>", "work"}
    assert trace.stepped_paths() == {str(prog.path)}
    assert json.loads(pair.recorded.stdout.splitlines()[1]) == [0, 0, 1, 3, 6, 0, 0, 1]


@pytest.mark.timeout(60)
def test_starting_the_recorder_leaves_other_tools_disabled_events_off(program, tmp_path):
    """A program whose own tool has switched a call site off (DISABLE) starts the
    recorder itself through the library, and stops it. Its tool must not see that site
    again: ``first calls: ['work']`` as when the program does not record. (The recorder
    must not re-enable other tools' events when it starts, e.g. by calling
    ``sys.monitoring.restart_events()``, which does so for every tool.)"""
    prog = program("""
        import sys
        import codetracer_recorder

        mon = sys.monitoring
        first_calls = []

        def on_first_call(code, offset):
            if code.co_filename == __file__:
                first_calls.append(code.co_name)
            return mon.DISABLE

        mon.use_tool_id(2, "first-calls")
        mon.register_callback(2, mon.events.PY_START, on_first_call)
        mon.set_events(2, mon.events.PY_START)

        def work(n):
            return n * 2

        work(1)
        if len(sys.argv) > 1:
            with codetracer_recorder.trace(sys.argv[1]):
                work(2)
        else:
            work(2)
        work(3)
        mon.set_events(2, 0)
        mon.free_tool_id(2)
        print("first calls:", first_calls)
    """)
    trace_dir = tmp_path / "trace"
    cwd = prog.path.parent
    pair = Pair(run([prog.path], cwd=cwd), run([prog.path, trace_dir], cwd=cwd), trace_dir)
    assert pair.plain.stdout == "first calls: ['work']\n", pair
    assert_same_behaviour(pair)
    trace = assert_complete(trace_dir, main=prog.path)
    assert [c.args for c in trace.calls("work")] == [{"n": 2}]
