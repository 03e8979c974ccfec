from harness import assert_complete, assert_same_behaviour, run_both


def test_a_failing_program_behaves_the_same_recorded(program, tmp_path):
    prog = program("""
        import sys
        print("out")
        print("err", file=sys.stderr)
        def f():
            raise ValueError("x")
        f()
    """)
    for via in ("cli", "api"):
        pair = run_both(prog, tmp_path / via, via=via)
        assert_same_behaviour(pair)
        assert pair.recorded.returncode == 1
        trace = assert_complete(pair.trace_dir, main=prog.path)
        assert "f" in trace.function_names()
