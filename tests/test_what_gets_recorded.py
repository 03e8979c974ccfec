"""Which code is recorded: the program and the modules it imports from its own
directory, not the standard library, not `<string>` code; include/exclude globs on
module names and file paths change that."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

import codetracer_recorder

HELPER = """
    def double(x):
        return x * 2
"""

MAIN = """
    import json
    import helper

    def report(value):
        return json.dumps({"value": value}, sort_keys=True)

    print(report(helper.double(21)))
"""


@pytest.fixture
def app(program):
    """A program that imports a local module and calls into the standard library."""
    helper = program(HELPER, name="helper.py")
    main = program(MAIN)
    return main, helper


def stdlib_dir() -> str:
    return str(Path(sysconfig.get_paths()["stdlib"]).resolve())


def recorder_dir() -> str:
    return str(Path(codetracer_recorder.__file__).parent.resolve())


def under(paths: list[str], directory: str) -> list[str]:
    return [p for p in paths if str(Path(p).resolve()).startswith(directory + "/")]


def test_local_module_functions_are_recorded(app, record_any):
    main, helper = app
    run = record_any(main)
    assert run.stdout == '{"value": 42}\n'
    trace = run.trace
    (double,) = trace.calls("double")
    assert double.args == {"x": 21}
    assert double.return_value == 42
    assert double.path == str(helper.path.resolve())
    assert trace.steps(helper.line("return x * 2"), path=helper.path) == 1


def test_standard_library_internals_are_not_recorded(app, record):
    main, _ = app
    trace = record(main).trace
    assert trace.returns("report") == ['{"value": 42}']
    names = trace.function_names()
    assert not names & {"dumps", "encode", "iterencode", "JSONEncoder.encode"}
    assert under(trace.paths, stdlib_dir()) == []


def test_exclude_by_module_name_skips_that_module(app, record_any):
    main, helper = app
    run = record_any(main, exclude=["helper"])
    assert run.stdout == '{"value": 42}\n'
    trace = run.trace
    assert "double" not in trace.function_names()
    assert trace.steps(helper.line("return x * 2"), path=helper.path) == 0
    assert trace.returns("report") == ['{"value": 42}']


def test_exclude_by_path_glob_skips_that_file(app, record):
    main, helper = app
    trace = record(main, exclude=["*/helper.py"]).trace
    assert "double" not in trace.function_names()
    assert str(helper.path.resolve()) not in trace.stepped_paths()
    assert "report" in trace.function_names()


def test_include_records_only_the_matching_code(app, record_any):
    main, helper = app
    trace = record_any(main, include=["helper"]).trace
    assert trace.function_names() == {"double", "<module>"}
    assert trace.stepped_paths() == {str(helper.path.resolve())}


def test_include_can_bring_in_a_standard_library_module(app, record):
    main, _ = app
    trace = record(main, include=["__main__", "json", "json.*"]).trace
    names = trace.function_names()
    assert {"report", "dumps"} <= names
    (dumps,) = trace.calls("dumps")
    assert dumps.args["obj"] == {"value": 42}
    assert dumps.return_value == '{"value": 42}'
    assert "double" not in names


def test_exclude_wins_over_include(app, record):
    main, _ = app
    trace = record(main, include=["__main__", "helper"], exclude=["helper"]).trace
    assert "double" not in trace.function_names()
    assert "report" in trace.function_names()


def test_including_everything_still_never_records_the_recorder(app, record):
    main, _ = app
    run = record(main, include=["*"])
    assert run.stdout == '{"value": 42}\n'
    trace = run.trace
    assert {"report", "double", "dumps"} <= trace.function_names()
    assert under(trace.paths, recorder_dir()) == []


def test_exec_string_code_is_not_recorded_but_still_runs(program, record_any):
    prog = program("""
        source = "def hidden(x):\\n    return x + 1\\nresult = hidden(41)\\n"
        namespace = {}
        exec(source, namespace)

        def visible(value):
            return value

        print(visible(namespace["result"]))
    """)
    run = record_any(prog)
    assert run.returncode == 0, run
    assert run.stdout == "42\n"
    trace = run.trace
    assert "hidden" not in trace.function_names()
    assert trace.returns("visible") == [42]
    assert "<string>" not in trace.paths


def test_recorded_function_called_from_exec_code_is_recorded(program, record):
    prog = program("""
        def visible(value):
            return value * 3

        exec("print(visible(2))")
    """)
    run = record(prog)
    assert run.stdout == "6\n"
    assert run.trace.returns("visible") == [6]


def test_the_recorder_does_not_record_itself(program, record):
    trace = record(program("def f():\n    return 1\n\nf()\n")).trace
    assert under(trace.paths, recorder_dir()) == []
    assert trace.function_names() == {"<module>", "f"}


def test_package_imported_from_a_subdirectory_is_recorded(program, record):
    program("", name="shapes/__init__.py")
    program(
        """
        def area(w, h):
            return w * h
    """,
        name="shapes/rect.py",
    )
    prog = program("from shapes.rect import area\nprint(area(3, 4))\n")
    run = record(prog)
    assert run.stdout == "12\n"
    assert run.trace.returns("area") == [12]
