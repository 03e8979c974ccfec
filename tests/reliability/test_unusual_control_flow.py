"""Programs whose control flow is unusual: a thousand asyncio tasks, recursion to the
limit, generators closed early or dropped, code made by exec/eval, C functions calling
back into Python, and thread pools. Each runs plain and recorded through the CLI (and the
library where that differs); the program behaves the same, the trace is complete and
balanced, and it holds what the case is about."""

from __future__ import annotations

import itertools
import re

import pytest
from harness import (
    Pair,
    assert_complete,
    assert_same_behaviour,
    program_stderr,
    recorder_argv,
    run,
    run_both,
)
from tracekit import ErrorValue, Trace


def _run_and_check(prog, tmp_path, *, via: str = "cli") -> tuple[Pair, Trace]:
    """Run ``prog`` plain and recorded; the promises every case shares: the same
    behaviour and a complete, valid trace (each run within the harness's bound)."""
    pair = run_both(prog, tmp_path / f"trace-{via}", via=via)
    assert_same_behaviour(pair)
    return pair, assert_complete(pair.trace_dir, main=prog.path)


# ---------------------------------------------------------------------------------------
# asyncio


@pytest.mark.timeout(60)
def test_a_thousand_asyncio_tasks_are_all_recorded_each_balanced(program, tmp_path):
    """asyncio.gather of 1,000 coroutines that each suspend three times: the output is
    the same, and every coroutine's start, three resumptions and result are in the trace
    (the validator checks that each suspension returned and each resumption was a call)."""
    prog = program("""
        import asyncio

        async def worker(i):
            total = i
            for step in range(3):
                await asyncio.sleep(0)
                total += step
            return total

        async def main():
            results = await asyncio.gather(*(worker(i) for i in range(1000)))
            print(len(results), sum(results))

        asyncio.run(main())
    """)
    pair, trace = _run_and_check(prog, tmp_path)
    assert pair.recorded.stdout == "1000 502500\n"
    activations = trace.calls("worker")
    assert len(activations) == 4 * 1000
    starts = [c for c in activations if c.args]
    assert sorted(c.args["i"] for c in starts) == list(range(1000))
    results = [c.return_value for c in activations if c.return_value is not None]
    assert sorted(results) == [i + 3 for i in range(1000)]


# ---------------------------------------------------------------------------------------
# Recursion


def _frames_under_the_program(program, tmp_path, via: str) -> int:
    """How many more frames sit under the program's module frame when it runs recorded
    (the runner's: runpy, the CLI or the API driver) than under ``python prog.py``."""
    probe = program(
        """
        import sys
        frame, depth = sys._getframe(), 0
        while frame is not None:
            depth += 1
            frame = frame.f_back
        print(depth)
        """,
        name="depth_probe.py",
    )
    plain = run([probe.path], cwd=probe.path.parent)
    recorded = run(recorder_argv(probe, tmp_path / "probe-trace", via=via), cwd=tmp_path)
    assert plain.returncode == recorded.returncode == 0, (plain, recorded)
    return int(recorded.stdout) - int(plain.stdout)


_REPEATED = re.compile(r"\[Previous line repeated (\d+) more times\]")


@pytest.mark.timeout(60)
def test_uncaught_recursion_error_prints_the_same_traceback_and_exits_1(program, tmp_path):
    """Unbounded recursion, uncaught: status 1 and Python's traceback, the same but for
    the count of repeated frames, which is smaller by exactly the frames the runner keeps
    under the program (runpy and the CLI, as under ``python -m pdb`` or ``coverage run``):
    the recorder's callbacks are C and take none of the recursion limit. The trace holds
    every frame the traceback counts, each returning the RecursionError."""
    prog = program("""
        def down(n):
            return down(n + 1)

        down(0)
    """)
    runner_frames = _frames_under_the_program(program, tmp_path, "cli")
    pair = run_both(prog, tmp_path / "trace")
    plain, recorded = pair.plain, pair.recorded
    assert plain.returncode == recorded.returncode == 1, pair
    assert plain.stdout == recorded.stdout == ""
    plain_err, recorded_err = program_stderr(plain.stderr), program_stderr(recorded.stderr)
    assert _REPEATED.sub("[…]", recorded_err) == _REPEATED.sub("[…]", plain_err), pair
    assert recorded_err.rstrip().endswith("RecursionError: maximum recursion depth exceeded")
    plain_repeats = int(_REPEATED.search(plain_err).group(1))
    recorded_repeats = int(_REPEATED.search(recorded_err).group(1))
    assert plain_repeats - recorded_repeats == runner_frames

    trace = assert_complete(pair.trace_dir, main=prog.path)
    assert trace.exit_status == 1
    returns = trace.returns("down")
    # The traceback prints the first three `down` frames, then counts the rest.
    assert len(returns) == 3 + recorded_repeats
    assert set(returns) == {ErrorValue("RecursionError: maximum recursion depth exceeded")}


@pytest.mark.parametrize("via", ["cli", "api"])
@pytest.mark.timeout(60)
def test_caught_recursion_error_is_reached_at_the_same_stack_depth(program, tmp_path, via):
    """Recursion to the limit, caught, prints how deep it got. Recorded it gets as far as
    plain, counted from the bottom of the stack: the depth from the program's first
    frame is smaller by the runner's frames only (see the uncaught case). Every frame
    the program entered is in the trace, each returning the RecursionError."""
    prog = program("""
        deepest = 0

        def down(n):
            global deepest
            deepest = n
            down(n + 1)

        try:
            down(1)
        except RecursionError as error:
            print("caught at depth", deepest, error)
    """)
    runner_frames = _frames_under_the_program(program, tmp_path, via)
    pair = run_both(prog, tmp_path / "trace", via=via)
    plain, recorded = pair.plain, pair.recorded
    assert plain.returncode == recorded.returncode == 0, pair
    assert program_stderr(recorded.stderr) == program_stderr(plain.stderr) == "", pair
    line = re.compile(r"caught at depth (\d+) maximum recursion depth exceeded\n")
    plain_depth = int(line.fullmatch(plain.stdout).group(1))
    recorded_depth = int(line.fullmatch(recorded.stdout).group(1))
    assert plain_depth - recorded_depth == runner_frames

    trace = assert_complete(pair.trace_dir, main=prog.path)
    calls = trace.calls("down")
    assert [c.args["n"] for c in calls] == list(range(1, recorded_depth + 1))
    assert {c.return_value for c in calls} == {
        ErrorValue("RecursionError: maximum recursion depth exceeded")
    }


@pytest.mark.timeout(60)
def test_recursion_9000_deep_under_a_raised_limit_is_recorded_as_one_chain(program, tmp_path):
    """``sys.setrecursionlimit(10_000)`` and recursion 9,000 deep: it completes recorded as
    plain, and the trace nests all 9,001 calls, each the child of the one before."""
    prog = program("""
        import sys
        sys.setrecursionlimit(10_000)

        def depth(n):
            return 0 if n == 0 else 1 + depth(n - 1)

        print(depth(9000))
    """)
    pair, trace = _run_and_check(prog, tmp_path)
    assert pair.recorded.stdout == "9000\n"
    calls = trace.calls("depth")
    assert [c.args["n"] for c in calls] == list(range(9000, -1, -1))
    assert [c.return_value for c in calls] == list(range(9000, -1, -1))
    assert calls[0].parent.name == "<module>"
    assert all(inner.parent is outer for outer, inner in itertools.pairwise(calls))


# ---------------------------------------------------------------------------------------
# Generators


@pytest.mark.timeout(60)
def test_generators_closed_dropped_thrown_into_or_returning_in_a_with_stay_balanced(
    program, tmp_path
):
    """Generators left early: closed mid-iteration, dropped in a reference cycle and
    collected by gc, thrown into, returning from inside a ``with``, and one still
    suspended when the program ends. Their ``finally`` blocks and ``__exit__`` print the
    same recorded as plain (the last after the atexit handler, as Python does), and each
    ending is recorded where it happened: the closing activation receives GeneratorExit
    as its ``exception`` argument and returns it, as a child of the frame that closed or
    collected the generator."""
    prog = program("""
        import atexit
        import gc

        class Resource:
            def __enter__(self):
                print("enter")
                return self

            def __exit__(self, *exc_info):
                print("exit")
                return False

        def numbers(label):
            try:
                n = 0
                while True:
                    yield n
                    n += 1
            finally:
                print("finally of", label)

        def first_big(items):
            with Resource():
                for item in items:
                    if item > 1:
                        return item
                    yield item

        def resilient():
            while True:
                try:
                    yield "ok"
                except ValueError as error:
                    print("recovered from", error)

        def closed_early():
            gen = numbers("closed")
            print(next(gen), next(gen))
            gen.close()
            print("after close")

        def dropped_in_a_cycle():
            holder = [numbers("collected")]
            holder.append(holder)
            print(next(holder[0]))
            del holder
            gc.collect()
            print("after collect")

        def thrown_into():
            gen = resilient()
            print(next(gen))
            print(gen.throw(ValueError("bad input")))
            gen.close()

        closed_early()
        dropped_in_a_cycle()
        print(list(first_big([0, 1, 2, 3])))
        thrown_into()
        left_suspended = numbers("left at exit")
        next(left_suspended)
        atexit.register(print, "atexit handler")
    """)
    pair, trace = _run_and_check(prog, tmp_path)
    assert pair.recorded.stdout.splitlines() == [
        "0 1",
        "finally of closed",
        "after close",
        "0",
        "finally of collected",
        "after collect",
        "enter",
        "exit",
        "[0, 1]",
        "ok",
        "recovered from bad input",
        "ok",
        "atexit handler",
        "finally of left at exit",
    ]
    exit_ = ErrorValue("GeneratorExit")

    def activations(name, caller):
        return [(c.args, c.return_value) for c in trace.calls(name) if c.parent.name == caller]

    assert activations("numbers", "closed_early") == [
        ({"label": "closed"}, 0),
        ({}, 1),
        ({"exception": exit_}, exit_),
    ]
    assert activations("numbers", "dropped_in_a_cycle") == [
        ({"label": "collected"}, 0),
        ({"exception": exit_}, exit_),
    ]
    assert trace.returns("first_big") == [0, 1, 2]
    (exit_call,) = trace.calls("Resource.__exit__")
    assert exit_call.parent is trace.calls("first_big")[-1]
    assert activations("resilient", "thrown_into") == [
        ({}, "ok"),
        ({"exception": ErrorValue("ValueError: bad input")}, "ok"),
        ({"exception": exit_}, exit_),
    ]
    # The generator still suspended at the end is finalised after the recording ended.
    assert activations("numbers", "<module>") == [({"label": "left at exit"}, 0)]
    assert trace.steps(prog.line('print("finally of", label)')) == 2


# ---------------------------------------------------------------------------------------
# exec, eval, compile


@pytest.mark.timeout(60)
def test_code_made_by_exec_and_eval_is_recorded_only_when_it_names_a_file(program, tmp_path):
    """Code from exec and eval of strings (file name ``<string>``, or any ``<...>``
    name) is not recorded, as README's "What is recorded" says: a recorded function it
    calls appears as a child of the nearest recorded frame, the one that called exec or
    eval. Code compiled with a made-up file name (``templates/made_up.py``, which does
    not exist) is recorded under that name, its module code and its functions alike."""
    prog = program("""
        def double(x):
            return 2 * x

        namespace = {"double": double}
        source = "def from_exec(y):\\n    return double(y) + 1\\n\\nresult = from_exec(4)\\n"
        exec(source, namespace)
        print(namespace["result"])
        print(eval("double(5) + 1"))
        square = eval("lambda v: double(v) * v")
        print(square(3))
        template = "def templated(z):\\n    return double(z) * 3\\n"
        exec(compile(template, "templates/made_up.py", "exec"), namespace)
        print(namespace["templated"](2))
        stringly = compile("def stringly():\\n    return double(7)\\n", "<string>", "exec")
        exec(stringly, namespace)
        print(namespace["stringly"]())
        generated = compile("def generated():\\n    return double(8)\\n", "<generated>", "exec")
        exec(generated, namespace)
        print(namespace["generated"]())
    """)
    pair, trace = _run_and_check(prog, tmp_path)
    assert pair.recorded.stdout == "9\n11\n18\n12\n14\n16\n"
    assert trace.function_names() == {"<module>", "double", "templated"}
    assert [(c.args["x"], c.parent.name) for c in trace.calls("double")] == [
        (4, "<module>"),
        (5, "<module>"),
        (3, "<module>"),
        (2, "templated"),
        (7, "<module>"),
        (8, "<module>"),
    ]
    # The path is the made-up name as given, relative to the program's working directory.
    assert trace.paths == [str(prog.path), "templates/made_up.py"]
    made_up_path = (tmp_path / "templates" / "made_up.py").resolve()
    made_up_module = [c for c in trace.calls("<module>") if c.path == str(made_up_path)]
    assert len(made_up_module) == 1
    assert made_up_module[0].parent.path == trace.main_path
    (templated,) = trace.calls("templated")
    assert (templated.path, templated.args, templated.return_value) == (
        str(made_up_path),
        {"z": 2},
        12,
    )
    assert trace.steps(2, path=made_up_path) == 1


# ---------------------------------------------------------------------------------------
# C code calling back into Python


@pytest.mark.parametrize("via", ["cli", "api"])
@pytest.mark.timeout(60)
def test_callbacks_from_c_functions_nest_under_the_frame_that_called_c(program, tmp_path, via):
    """Recorded functions called by C code (sorted's key, map and filter, json's hooks,
    functools.reduce, re.sub's replacement, ``__hash__``/``__eq__`` of a dict lookup,
    ``__del__`` and weakref callbacks run by gc, a key that raises through sorted) are
    each recorded as a child of the Python frame that called the C function. An atexit
    handler runs after the program's code ends, so after the recording: its output is
    the same and it is not in the trace."""
    prog = program("""
        import atexit
        import functools
        import gc
        import json
        import re
        import weakref

        def key(x):
            return -x

        def double(x):
            return 2 * x

        def odd(x):
            return x % 2 == 1

        def upper_keys(d):
            return {k.upper(): v for k, v in d.items()}

        def as_list(o):
            return sorted(o)

        def add(a, b):
            return a + b

        def shout(match):
            return match.group(0).upper()

        def explode(x):
            return 1 / 0

        class Key:
            def __init__(self, v):
                self.v = v

            def __eq__(self, other):
                return self.v == other.v

            def __hash__(self):
                return hash(self.v)

        class Finalised:
            def __del__(self):
                print("finalised")

        def on_dead(ref):
            print("weakref callback")

        def goodbye():
            print("atexit handler")

        def use_c_functions():
            print(sorted([3, 1, 2], key=key))
            print(list(map(double, filter(odd, range(5)))))
            print(json.loads('{"a": 1}', object_hook=upper_keys))
            print(json.dumps({1, 2}, default=as_list))
            print(functools.reduce(add, [1, 2, 3]))
            print(re.sub(r"[a-z]+", shout, "ab 12 cd"))
            print({Key(1): "one"}[Key(1)])
            try:
                sorted([1, 2], key=explode)
            except ZeroDivisionError:
                print("key raised")

        def collect_garbage():
            cycle = Finalised()
            cycle.self = cycle
            watched = Finalised()
            watcher = weakref.ref(watched, on_dead)
            del cycle, watched
            gc.collect()
            return watcher() is None

        atexit.register(goodbye)
        use_c_functions()
        print(collect_garbage())
    """)
    pair, trace = _run_and_check(prog, tmp_path, via=via)
    assert pair.recorded.stdout.splitlines() == [
        "[3, 2, 1]",
        "[2, 6]",
        "{'A': 1}",
        "[1, 2]",
        "6",
        "AB 12 CD",
        "one",
        "key raised",
        "finalised",
        "weakref callback",
        "finalised",
        "True",
        "atexit handler",
    ]

    def called_from(caller):
        return [(c.name, c.return_value) for c in trace.calls() if c.parent.name == caller]

    assert [call for call in called_from("use_c_functions") if call[0] != "Key.__init__"] == [
        ("key", -3),
        ("key", -1),
        ("key", -2),
        ("odd", False),
        ("odd", True),
        ("double", 2),
        ("odd", False),
        ("odd", True),
        ("double", 6),
        ("odd", False),
        ("upper_keys", {"A": 1}),
        ("as_list", [1, 2]),
        ("add", 3),
        ("add", 6),
        ("shout", "AB"),
        ("shout", "CD"),
        ("Key.__hash__", 1),
        ("Key.__hash__", 1),
        ("Key.__eq__", True),
        ("explode", ErrorValue("ZeroDivisionError: division by zero")),
    ]
    assert called_from("collect_garbage") == [
        ("Finalised.__del__", None),
        ("on_dead", None),
        ("Finalised.__del__", None),
    ]
    assert "goodbye" not in trace.function_names()


# ---------------------------------------------------------------------------------------
# Thread pools


@pytest.mark.timeout(60)
def test_thread_pool_calls_are_all_recorded_also_those_left_running_at_exit(program, tmp_path):
    """concurrent.futures thread pools running recorded functions: 200 tasks mapped on
    4 workers, then 60 submitted to a pool the program never waits for (the interpreter
    finishes them at exit, before the trace is finished). Every task is in the trace with
    its argument and result, each with its own nested call."""
    prog = program("""
        import concurrent.futures

        def square(n):
            return n * n

        def task(n):
            return square(n) + 1

        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(task, range(200)))
        print(sum(results))

        unwaited = concurrent.futures.ThreadPoolExecutor(max_workers=2)
        futures = [unwaited.submit(task, n) for n in range(200, 260)]
        print("submitted", len(futures))
    """)
    pair, trace = _run_and_check(prog, tmp_path)
    assert pair.recorded.stdout == f"{sum(n * n + 1 for n in range(200))}\nsubmitted 60\n"
    tasks = trace.calls("task")
    assert sorted((c.args["n"], c.return_value) for c in tasks) == [
        (n, n * n + 1) for n in range(260)
    ]
    for task in tasks:
        assert [(c.name, c.args, c.return_value) for c in task.children] == [
            ("square", task.args, task.args["n"] ** 2)
        ]
