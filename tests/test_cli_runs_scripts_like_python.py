"""`python -m codetracer_recorder script.py args...` behaves like `python script.py
args...`: same output byte for byte, same argv, same exit status; and it records."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tracekit import CHILD_TIMEOUT, child_env, load_trace, run_cli, run_python

import codetracer_recorder

NOISY = """
    import atexit
    import sys

    atexit.register(print, "bye from atexit")
    print("hello", "wörld", __name__)
    sys.stdout.write("no newline, ")
    sys.stdout.flush()
    print("to stderr", file=sys.stderr)
    sys.stderr.write("ünïcode on stderr\\n")
    for i in range(3):
        print(i, end=";")
    data = sys.stdin.read()
    print("\\nread:", data.upper())
    sys.stdout.buffer.write(b"raw bytes \\xff\\n")
"""


def test_stdout_and_stderr_are_byte_identical_to_an_untraced_run(program, record):
    prog = program(NOISY)
    plain = run_python([prog.path], cwd=prog.path.parent, stdin=b"some input\n")
    traced = record(prog, stdin=b"some input\n")
    assert plain.returncode == 0, plain
    assert traced.returncode == 0, traced
    assert traced.out == plain.out
    assert traced.err == plain.err
    assert traced.trace.exit_status == 0


def test_script_sees_its_own_argv_name_and_file(program, record):
    prog = program("""
        import json, sys
        print(json.dumps({"argv": sys.argv, "name": __name__, "file": __file__}))
    """)
    # Arguments after the script belong to it, even when they look like recorder flags.
    args = ["plain", "two words", "--format", "xml", "--trace-dir", "/nope", "-m", "--help"]
    plain = run_python([prog.path, *args], cwd=prog.path.parent)
    traced = record(prog, args=args)
    assert traced.returncode == 0, traced
    assert json.loads(traced.stdout) == json.loads(plain.stdout)
    assert json.loads(traced.stdout)["argv"][1:] == args
    assert traced.trace.metadata["args"] == args


def test_script_imports_modules_next_to_it_from_any_working_directory(program, tmp_path):
    program("def greet():\n    return 'hi'\n", name="app/greeting.py")
    prog = program("import greeting\nprint(greeting.greet())\n", name="app/main.py")
    trace_dir = tmp_path / "out"
    run = run_cli(
        ["--trace-dir", trace_dir, "app/main.py"], cwd=tmp_path, trace_dir=trace_dir, main=prog.path
    )
    assert run.returncode == 0, run
    assert run.stdout == "hi\n"
    assert run.trace.returns("greet") == ["hi"]


@pytest.mark.parametrize("status", [0, 1, 7, 255])
def test_exit_status_of_the_script_is_the_exit_status_of_the_cli(program, record, status):
    run = record(program(f"import sys\nsys.exit({status})\n"))
    assert run.returncode == status, run
    assert run.trace.exit_status == status


def test_recording_starts_with_the_scripts_own_code(program, record):
    prog = program("def f():\n    return 1\n\nf()\n")
    trace = record(prog).trace
    first = trace.calls()[0]
    assert first.name == "<module>"
    assert first.path == str(prog.path.resolve())
    assert first.parent is trace.toplevel
    assert trace.stepped_paths() == {str(prog.path.resolve())}


def test_dash_m_runs_a_package_module_as_main(program, tmp_path):
    program("", name="pkg/__init__.py")
    tool = program(
        """
        import sys

        def main(argv):
            print("tool", __name__, argv)
            return len(argv)

        if __name__ == "__main__":
            sys.exit(main(sys.argv[1:]))
    """,
        name="pkg/tool.py",
    )
    plain = run_python(["-m", "pkg.tool", "x", "y", "z"], cwd=tmp_path)
    trace_dir = tmp_path / "out"
    run = run_cli(
        ["--trace-dir", trace_dir, "-m", "pkg.tool", "x", "y", "z"],
        cwd=tmp_path,
        trace_dir=trace_dir,
        main=tool.path,
    )
    assert plain.returncode == 3
    assert run.returncode == 3, run
    assert run.out == plain.out == b"tool __main__ ['x', 'y', 'z']\n"
    trace = run.trace
    (main,) = trace.calls("main")
    assert main.args == {"argv": ["x", "y", "z"]}
    assert main.return_value == 3
    assert main.path == str(tool.path.resolve())
    assert trace.exit_status == 3


def test_dash_m_script_sees_the_same_argv_as_under_python(program, tmp_path):
    program("", name="pkg/__init__.py")
    program("import sys\nprint(sys.argv)\n", name="pkg/show.py")
    plain = run_python(["-m", "pkg.show", "a"], cwd=tmp_path)
    run = run_cli(
        ["--trace-dir", tmp_path / "out", "-m", "pkg.show", "a"],
        cwd=tmp_path,
        trace_dir=tmp_path / "out",
    )
    assert run.returncode == 0, run
    assert run.out == plain.out


def test_default_trace_dir_is_trace_out_in_the_working_directory(program, tmp_path):
    prog = program("def f():\n    return 4\n\nf()\n")
    run = run_cli([prog.path.name], cwd=tmp_path, trace_dir=tmp_path / "trace-out", main=prog.path)
    assert run.returncode == 0, run
    assert run.trace.returns("f") == [4]


def test_relative_trace_dir_is_relative_to_the_working_directory(program, tmp_path):
    prog = program("x = 1\n")
    run = run_cli(
        ["--trace-dir", "traces/run1", prog.path.name],
        cwd=tmp_path,
        trace_dir=tmp_path / "traces" / "run1",
        main=prog.path,
    )
    assert run.returncode == 0, run
    assert run.trace.exit_status == 0


def test_trace_lands_in_the_directory_named_at_start_even_if_the_script_chdirs(program, tmp_path):
    prog = program("""
        import os
        os.makedirs("elsewhere", exist_ok=True)
        os.chdir("elsewhere")

        def f():
            return os.getcwd()

        f()
    """)
    run = run_cli(
        ["--trace-dir", "traces", prog.path.name],
        cwd=tmp_path,
        trace_dir=tmp_path / "traces",
        main=prog.path,
    )
    assert run.returncode == 0, run
    assert run.trace.returns("f") == [str(tmp_path / "elsewhere")]
    assert not (tmp_path / "elsewhere" / "traces").exists()


def test_main_module_features_work_as_under_python(program, record):
    prog = program('''
        """Module doc."""
        import dataclasses, inspect, multiprocessing, sys, warnings

        @dataclasses.dataclass
        class Point:
            x: int

        def square(v):
            return v * v

        warnings.warn("careful")
        print(__doc__, Point(1), sys.modules["__main__"].__name__, __spec__)
        print(inspect.getsource(square).splitlines()[0])
        if __name__ == "__main__":
            # Spawned children import the script again, by its path, as __mp_main__.
            multiprocessing.set_start_method("spawn")
            with multiprocessing.Pool(1) as pool:
                print(pool.map(square, [1, 2, 3]))
    ''')
    plain = run_python([prog.path], cwd=prog.path.parent)
    run = record(prog)
    assert plain.returncode == 0, plain
    assert run.returncode == 0, run
    assert run.out == plain.out
    assert run.err == plain.err
    assert b"[1, 4, 9]" in run.out
    # The children are other processes: this trace holds the parent's run only.
    assert len(run.trace.calls("<module>")) == 1
    assert run.trace.calls("square") == []


def test_classes_of_the_script_pickle_as_main(program, record):
    prog = program("""
        import pickle

        class Box:
            def __init__(self, value):
                self.value = value

        box = pickle.loads(pickle.dumps(Box(3)))
        print(box.value, type(box).__module__)
    """)
    run = record(prog)
    assert run.returncode == 0, run
    assert run.stdout == "3 __main__\n"
    assert [c.args["value"] for c in run.trace.calls("Box.__init__")] == [3]


def test_version_prints_the_package_version(tmp_path):
    run = run_cli(["--version"], cwd=tmp_path)
    assert run.returncode == 0, run
    assert codetracer_recorder.__version__ in run.stdout
    assert re.search(r"\d+\.\d+\.\d+", run.stdout)
    assert list(tmp_path.iterdir()) == []


def test_help_describes_the_options(tmp_path):
    run = run_cli(["--help"], cwd=tmp_path)
    assert run.returncode == 0, run
    for option in ("--trace-dir", "--format", "--include", "--exclude", "--capture", "-m"):
        assert option in run.stdout
    assert list(tmp_path.iterdir()) == []


def test_console_script_records_like_python_dash_m(program, tmp_path):
    prog = program("print('via console script')\n")
    script = Path(sys.executable).with_name("codetracer-recorder")
    proc = subprocess.run(
        [script, "--trace-dir", tmp_path / "out", prog.path],
        cwd=tmp_path,
        capture_output=True,
        env=child_env(),
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"via console script\n"
    assert load_trace(tmp_path / "out").exit_status == 0


def test_binary_format_flag_writes_trace_bin(program, record):
    trace = record(program("x = 1\n"), format="binary").trace
    assert (trace.directory / "trace.bin").is_file()
    assert trace.metadata["format"] == "binary"
