"""A recorded program shows its calls with arguments and return values, every line
that ran, and the locals at each line: recursion, classes, closures, comprehensions."""

from __future__ import annotations

import re
from pathlib import Path

import codetracer_recorder

FACTORIAL = """
    def fact(n):
        if n <= 1:
            return 1
        return n * fact(n - 1)

    print(fact(3))
"""


def test_recursive_factorial_calls_and_returns(program, record_any, trace_format):
    run = record_any(program(FACTORIAL), format=trace_format)
    assert run.returncode == 0, run
    assert run.stdout == "6\n"
    calls = run.trace.calls("fact")
    assert [c.args for c in calls] == [{"n": 3}, {"n": 2}, {"n": 1}]
    assert [c.return_value for c in calls] == [6, 2, 1]


def test_recursive_calls_nest_inside_each_other(program, record):
    trace = record(program(FACTORIAL)).trace
    outer, middle, inner = trace.calls("fact")
    assert middle.parent is outer
    assert inner.parent is middle
    assert inner.children == []


def test_module_code_is_recorded_as_a_call_of_module(program, record):
    trace = record(program(FACTORIAL)).trace
    (module,) = trace.calls("<module>")
    assert trace.calls("fact")[0].parent is module
    assert module.return_value is None


def test_loop_line_runs_ten_times(program, record):
    prog = program("""
        def total(n):
            s = 0
            for i in range(n):
                s += i
            return s

        total(10)
    """)
    trace = record(prog).trace
    assert trace.steps(prog.line("s += i")) == 10
    assert trace.steps(prog.line("s = 0")) == 1
    assert trace.steps(prog.line("return s")) == 1


def test_locals_are_recorded_at_each_line(program, record):
    prog = program("""
        def total(n):
            s = 0
            for i in range(n):
                s += i
            return s

        total(10)
    """)
    trace = record(prog).trace
    assert trace.locals_at(prog.line("return s")) == {"n": 10, "s": 45, "i": 9}
    body = prog.line("s += i")
    assert trace.locals_at(body, nth=0) == {"n": 10, "s": 0, "i": 0}
    assert trace.locals_at(body, nth=3) == {"n": 10, "s": 3, "i": 3}


def test_steps_belong_to_the_frame_that_ran_them(program, record):
    prog = program("""
        def inner(x):
            return x + 1

        def outer():
            y = inner(1)
            return y

        outer()
    """)
    trace = record(prog).trace
    (inner,) = trace.calls("inner")
    (outer,) = trace.calls("outer")
    assert [s.line for s in inner.steps if not s.entry] == [prog.line("return x + 1")]
    outer_lines = [s.line for s in outer.steps if not s.entry]
    assert outer_lines == [prog.line("y = inner(1)"), prog.line("return y")]


def test_all_kinds_of_arguments_are_recorded_by_name(program, record):
    prog = program("""
        def mix(a, b=2, *rest, key, flag=False, **extra):
            return a

        mix(1, 3, 4, 5, key="k", colour="red")
    """)
    (call,) = record(prog).trace.calls("mix")
    assert call.args == {
        "a": 1,
        "b": 3,
        "rest": (4, 5),
        "key": "k",
        "flag": False,
        "extra": {"colour": "red"},
    }


def test_class_methods_are_named_by_their_qualified_name(program, record):
    prog = program("""
        class Account:
            def __init__(self, owner, balance=0):
                self.owner = owner
                self.balance = balance

            def deposit(self, amount):
                self.balance += amount
                return self.balance

            @classmethod
            def empty(cls, owner):
                return cls(owner)

            @staticmethod
            def fee(amount):
                return amount // 10

            @property
            def rich(self):
                return self.balance > 100

        acct = Account.empty("ann")
        acct.deposit(50)
        acct.deposit(70)
        print(acct.rich, Account.fee(70))
    """)
    run = record(prog)
    assert run.stdout == "True 7\n"
    trace = run.trace
    assert [(c.args["amount"], c.return_value) for c in trace.calls("Account.deposit")] == [
        (50, 50),
        (70, 120),
    ]
    (init,) = trace.calls("Account.__init__")
    assert (init.args["owner"], init.args["balance"]) == ("ann", 0)
    assert trace.calls("Account.empty")[0].args["owner"] == "ann"
    assert trace.returns("Account.fee") == [7]
    assert trace.returns("Account.rich") == [True]


def test_self_is_recorded_as_the_object_with_its_attributes(program, record):
    prog = program("""
        class Account:
            def __init__(self, owner):
                self.owner = owner
                self.balance = 5

            def show(self):
                return self.balance

        Account("ann").show()
    """)
    (show,) = record(prog).trace.calls("Account.show")
    me = show.args["self"]
    assert me.type == "Account"
    assert me.attrs == {"owner": "ann", "balance": 5}


def test_closure_calls_see_their_arguments_and_results(program, record):
    prog = program("""
        def make_counter(start):
            count = start
            def increment(step):
                nonlocal count
                count += step
                return count
            return increment

        counter = make_counter(10)
        counter(1)
        counter(5)
    """)
    trace = record(prog).trace
    assert trace.calls("make_counter")[0].args == {"start": 10}
    increments = trace.calls("make_counter.<locals>.increment")
    assert [c.args for c in increments] == [{"step": 1}, {"step": 5}]
    assert [c.return_value for c in increments] == [11, 16]


def test_closure_returned_function_is_recorded_by_name(program, record):
    prog = program("""
        def make_adder(k):
            def add(x):
                return x + k
            return add

        make_adder(2)(3)
    """)
    trace = record(prog).trace
    (made,) = trace.returns("make_adder")
    assert "make_adder.<locals>.add" in made
    assert trace.returns("make_adder.<locals>.add") == [5]


def test_comprehensions_produce_their_values(program, record):
    prog = program("""
        def build(n):
            squares = [i * i for i in range(n)]
            evens = {i for i in squares if i % 2 == 0}
            index = {i: i * i for i in range(n)}
            return squares, evens, index

        build(4)
    """)
    trace = record(prog).trace
    (result,) = trace.returns("build")
    assert result == ([0, 1, 4, 9], {0, 4}, {0: 0, 1: 1, 2: 4, 3: 9})
    assert trace.locals_at(prog.line("return squares"))["squares"] == [0, 1, 4, 9]


def test_generator_expression_yields_each_item_as_a_return(program, record):
    prog = program("""
        def sum_squares(data):
            return sum(x * x for x in data)

        sum_squares([1, 2, 3])
    """)
    trace = record(prog).trace
    assert trace.returns("sum_squares") == [14]
    assert trace.returns("sum_squares.<locals>.<genexpr>") == [1, 4, 9, None]


def test_lambdas_are_recorded_once_per_call(program, record):
    prog = program("""
        pairs = [("b", 2), ("a", 1), ("c", 3)]
        ordered = sorted(pairs, key=lambda p: p[1])
        print(ordered)
    """)
    trace = record(prog).trace
    lambdas = trace.calls("<lambda>")
    assert [c.args["p"] for c in lambdas] == [("b", 2), ("a", 1), ("c", 3)]
    assert [c.return_value for c in lambdas] == [2, 1, 3]


def test_metadata_names_program_args_recorder_and_exit_status(program, record, tmp_path):
    prog = program("import sys\nsys.exit(len(sys.argv) - 1)\n")
    run = record(prog, args=["a", "b c"])
    assert run.returncode == 2, run
    meta = run.trace.metadata
    assert Path(meta["program"]).name == "prog.py"
    assert meta["args"] == ["a", "b c"]
    assert Path(meta["workdir"]).resolve() == tmp_path.resolve()
    assert "codetracer" in meta["recorder"]["name"]
    assert meta["recorder"]["version"] == codetracer_recorder.__version__
    assert meta["exit_code"] == 2
    assert meta["format"] == "json"
    assert re.fullmatch(r"[0-9a-f]{32}", meta["trace_id"])


def test_each_recording_gets_its_own_trace_id(program, record):
    prog = program("x = 1\n")
    first, second = record(prog).trace, record(prog).trace
    assert first.metadata["trace_id"] != second.metadata["trace_id"]


def test_trace_paths_name_the_recorded_files(program, record):
    prog = program(FACTORIAL)
    trace = record(prog).trace
    assert str(prog.path.resolve()) in {str(Path(p).resolve()) for p in trace.paths}
    assert trace.stepped_paths() == {str(prog.path.resolve())}
