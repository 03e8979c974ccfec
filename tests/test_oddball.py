"""Hard cases: deep recursion, recursion errors, functions made at run time, code
objects released after a session, decorators, functions sharing a name, and reading
locals without changing what the program sees (object lifetimes, `locals()`)."""

from __future__ import annotations

import json

from tracekit import ErrorValue, load_trace, run_python


def test_recursion_deeper_than_the_default_limit_is_recorded_whole(program, record):
    prog = program("""
        import sys
        sys.setrecursionlimit(10_000)

        def depth(n):
            return 0 if n == 0 else 1 + depth(n - 1)

        print(depth(3000))
    """)
    run = record(prog)
    assert run.returncode == 0, run
    assert run.stdout == "3000\n"
    calls = run.trace.calls("depth")
    assert len(calls) == 3001
    assert calls[0].return_value == 3000
    assert calls[-1].args == {"n": 0}


def test_recursion_error_is_caught_and_every_frame_returns_the_error(program, record):
    prog = program("""
        def down(n):
            return down(n + 1)

        try:
            down(0)
        except RecursionError:
            print("caught")
    """)
    run = record(prog)
    assert run.returncode == 0, run
    assert run.stdout == "caught\n"
    returns = run.trace.returns("down")
    assert len(returns) > 100
    assert all(isinstance(r, ErrorValue) and r.msg.startswith("RecursionError") for r in returns)


def test_mutual_recursion(program, record):
    prog = program("""
        def is_even(n):
            return True if n == 0 else is_odd(n - 1)

        def is_odd(n):
            return False if n == 0 else is_even(n - 1)

        print(is_even(5))
    """)
    run = record(prog)
    assert run.stdout == "False\n"
    trace = run.trace
    assert [c.args["n"] for c in trace.calls("is_even")] == [5, 3, 1]
    assert [c.args["n"] for c in trace.calls("is_odd")] == [4, 2, 0]
    assert set(trace.returns("is_even")) == set(trace.returns("is_odd")) == {False}


def test_decorated_functions_record_wrapper_and_wrapped(program, record):
    prog = program("""
        import functools

        def logged(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                return fn(*args, **kwargs)
            return wrapper

        @logged
        def add(a, b):
            return a + b

        print(add(2, b=3))
    """)
    run = record(prog)
    assert run.stdout == "5\n"
    trace = run.trace
    (wrapper,) = trace.calls("logged.<locals>.wrapper")
    assert wrapper.args == {"args": (2,), "kwargs": {"b": 3}}
    (add,) = trace.calls("add")
    assert add.parent is wrapper
    assert add.args == {"a": 2, "b": 3}
    assert wrapper.return_value == add.return_value == 5


def test_function_compiled_at_run_time_from_a_file_name_is_recorded(program, record):
    prog = program("""
        source = "def made(x):\\n    return x * 10\\n"
        namespace = {}
        exec(compile(source, "/virtual/made.py", "exec"), namespace)
        print(namespace["made"](4))
    """)
    run = record(prog)
    assert run.stdout == "40\n"
    assert run.trace.returns("made") == [40]
    assert "/virtual/made.py" in run.trace.paths


def test_code_objects_are_released_after_the_session(program, tmp_path):
    prog = program("""
        import gc, json, sys, weakref
        import codetracer_recorder

        def make():
            namespace = {}
            exec(compile("def temp(x):\\n    return x\\n", "/virtual/temp.py", "exec"), namespace)
            return namespace["temp"]

        codetracer_recorder.start(sys.argv[1])
        fn = make()
        fn(1)
        code = weakref.ref(fn.__code__)
        del fn
        codetracer_recorder.stop()
        gc.collect()
        print(json.dumps({"code_alive": code() is not None}))
    """)
    run = run_python([prog.path, tmp_path / "trace"], cwd=tmp_path)
    assert run.returncode == 0, run
    assert json.loads(run.stdout) == {"code_alive": False}
    # The recorder did see (and so once held) that code object.
    assert load_trace(tmp_path / "trace", main=prog.path).returns("temp") == [1]


def test_same_function_name_in_two_files_is_kept_apart(program, record):
    program("def run():\n    return 'a'\n", name="mod_a.py")
    program("def run():\n    return 'b'\n", name="mod_b.py")
    prog = program("import mod_a, mod_b\nprint(mod_a.run() + mod_b.run())\n")
    run = record(prog)
    assert run.stdout == "ab\n"
    calls = run.trace.calls("run")
    assert [(c.path.rsplit("/", 1)[-1], c.return_value) for c in calls] == [
        ("mod_a.py", "a"),
        ("mod_b.py", "b"),
    ]


def test_deleted_local_is_freed_at_once_as_without_the_recorder(program, record):
    prog = program("""
        import weakref

        class Resource:
            pass

        def use():
            r = Resource()
            alive = weakref.ref(r)
            del r; print("alive after del:", alive() is not None)
            r2 = Resource()
            alive2 = weakref.ref(r2)
            r2 = None; print("alive after rebinding:", alive2() is not None)

        use()
    """)
    plain = run_python([prog.path], cwd=prog.path.parent)
    run = record(prog)
    assert plain.stdout == "alive after del: False\nalive after rebinding: False\n"
    assert run.stdout == plain.stdout


def test_a_locals_snapshot_is_not_refreshed_behind_the_programs_back(program, record):
    prog = program("""
        def f():
            snapshot = locals()
            x = 5
            print(sorted(snapshot), x)

        f()
    """)
    plain = run_python([prog.path], cwd=prog.path.parent)
    run = record(prog)
    assert plain.stdout == "[] 5\n"
    assert run.stdout == plain.stdout
