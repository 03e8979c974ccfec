"""Generators and coroutines: every suspension is a Return of the yielded value and
every resumption a new Call, so the call stack stays balanced (ADR 0012)."""

from __future__ import annotations

from tracekit import ErrorValue


def test_each_yield_is_a_return_and_each_resume_a_call(program, record_any):
    prog = program("""
        def countdown(n):
            while n > 0:
                yield n
                n -= 1
            return "done"

        print(list(countdown(3)))
    """)
    run = record_any(prog)
    assert run.stdout == "[3, 2, 1]\n"
    activations = run.trace.calls("countdown")
    assert [c.return_value for c in activations] == [3, 2, 1, "done"]
    assert activations[0].args == {"n": 3}
    assert [c.args for c in activations[1:]] == [{}, {}, {}]


def test_resumed_generator_continues_with_its_locals(program, record):
    prog = program("""
        def countdown(n):
            while n > 0:
                yield n
                n -= 1

        for _ in countdown(3):
            pass
    """)
    trace = record(prog).trace
    decrement = prog.line("n -= 1")
    assert trace.steps(decrement) == 3
    assert [s.values["n"] for s in trace.line_steps(decrement)] == [3, 2, 1]
    # The decrement runs in the activation that resumed after each yield.
    resumed = trace.calls("countdown")[1:]
    assert all(any(s.line == decrement for s in c.steps) for c in resumed)


def test_sent_values_reach_the_generator(program, record):
    prog = program("""
        def accumulate():
            total = 0
            while True:
                value = yield total
                total += value

        acc = accumulate()
        next(acc)
        acc.send(5)
        print(acc.send(7))
    """)
    run = record(prog)
    assert run.stdout == "12\n"
    assert run.trace.returns("accumulate") == [0, 5, 12]


def test_exception_thrown_into_generator_is_the_argument_exception(program, record):
    prog = program("""
        def worker():
            try:
                yield "ready"
            except KeyError:
                yield "recovered"

        w = worker()
        next(w)
        print(w.throw(KeyError("stop")))
    """)
    run = record(prog)
    assert run.stdout == "recovered\n"
    first, thrown = run.trace.calls("worker")
    assert first.return_value == "ready"
    assert list(thrown.args) == ["exception"]
    assert thrown.args["exception"] == ErrorValue("KeyError: 'stop'")
    assert thrown.return_value == "recovered"


def test_generator_closed_early_runs_its_finally_and_unwinds(program, record):
    prog = program("""
        def lines():
            try:
                yield 1
                yield 2
            finally:
                print("cleanup")

        g = lines()
        next(g)
        g.close()
    """)
    run = record(prog)
    assert run.stdout == "cleanup\n"
    trace = run.trace
    activations = trace.calls("lines")
    assert activations[0].return_value == 1
    closing = activations[-1]
    assert closing.args["exception"] == ErrorValue("GeneratorExit")
    assert closing.return_value == ErrorValue("GeneratorExit")
    assert trace.steps(prog.line('print("cleanup")')) == 1


def test_abandoned_generator_leaves_the_trace_balanced(program, record):
    prog = program("""
        def naturals():
            n = 0
            while True:
                yield n
                n += 1

        for value in naturals():
            if value == 2:
                break
        print(value)
    """)
    run = record(prog)
    assert run.stdout == "2\n"
    assert run.trace.returns("naturals")[:3] == [0, 1, 2]


def test_yield_from_delegates_and_both_generators_stay_balanced(program, record):
    prog = program("""
        def inner():
            yield 1
            yield 2
            return "inner-result"

        def outer():
            result = yield from inner()
            yield result

        print(list(outer()))
    """)
    run = record(prog)
    assert run.stdout == "[1, 2, 'inner-result']\n"
    trace = run.trace
    assert trace.returns("inner") == [1, 2, "inner-result"]
    assert trace.returns("outer") == [1, 2, "inner-result", None]


def test_generator_raising_returns_the_error(program, record):
    prog = program("""
        def broken():
            yield 1
            raise ValueError("bad item")

        try:
            list(broken())
        except ValueError:
            print("handled")
    """)
    run = record(prog)
    assert run.stdout == "handled\n"
    assert run.trace.returns("broken") == [1, ErrorValue("ValueError: bad item")]


ASYNC_PROGRAM = """
    import asyncio

    async def fetch(x):
        await asyncio.sleep(0)
        return x * 2

    async def main():
        a = await fetch(1)
        b = await fetch(2)
        return a + b

    print(asyncio.run(main()))
"""


def test_coroutines_under_asyncio_run_record_arguments_and_results(program, record_any):
    run = record_any(program(ASYNC_PROGRAM))
    assert run.returncode == 0, run
    assert run.stdout == "6\n"
    trace = run.trace
    fetches = trace.calls("fetch")
    assert [c.args for c in fetches if c.args] == [{"x": 1}, {"x": 2}]
    # Each await of sleep(0) suspends fetch once: start, suspend, resume, return.
    assert [c.return_value for c in fetches] == [None, 2, None, 4]
    assert trace.returns("main")[-1] == 6


def test_every_coroutine_resumption_is_a_call_without_arguments(program, record):
    trace = record(program(ASYNC_PROGRAM)).trace
    main_activations = trace.calls("main")
    assert main_activations[0].args == {}
    assert len(main_activations) >= 3  # started, resumed after each sleep(0)
    assert all(c.args == {} for c in trace.calls("fetch")[1::2])


def test_async_generator_and_gather(program, record):
    prog = program("""
        import asyncio

        async def ticks(n):
            for i in range(n):
                await asyncio.sleep(0)
                yield i

        async def collect(n):
            return [i async for i in ticks(n)]

        async def main():
            return await asyncio.gather(collect(2), collect(3))

        print(asyncio.run(main()))
    """)
    run = record(prog)
    assert run.stdout == "[[0, 1], [0, 1, 2]]\n"
    trace = run.trace
    assert sorted(c.args["n"] for c in trace.calls("collect") if c.args) == [2, 3]
    assert [v for v in trace.returns("collect") if isinstance(v, list)] == [[0, 1], [0, 1, 2]]


def test_generator_finalized_by_del_records_its_closing_activation(program, record):
    prog = program("""
        def lines():
            try:
                yield 1
            finally:
                print("finally ran")

        def drop():
            g = lines()
            next(g)
            del g
            return "dropped"

        drop()
    """)
    run = record(prog)
    assert run.stdout == "finally ran\n"
    trace = run.trace
    activations = trace.calls("lines")
    assert len(activations) == 2, activations
    assert activations[1].args == {"exception": ErrorValue("GeneratorExit")}
    assert activations[1].parent is trace.calls("drop")[0]
    assert trace.steps(prog.line('print("finally ran")')) == 1
