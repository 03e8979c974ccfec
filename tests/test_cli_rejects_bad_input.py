"""Bad input to the CLI: exit status 2, one line on stderr naming the `ERR_*` code,
the script never runs, and no trace (or staging directory) is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from tracekit import ONE_LINE_ERROR, Program, run_cli

SCRIPT = """
    from pathlib import Path
    Path(__file__).with_name("ran.marker").write_text("the script ran")
    print("script output")
"""


@pytest.fixture
def script(program) -> Program:
    """A script that leaves a marker file next to itself when it runs."""
    return program(SCRIPT)


def assert_rejected(run, code: str, script: Program) -> None:
    assert run.returncode == 2, run
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{run.stderr}"
    match = ONE_LINE_ERROR.match(lines[0])
    assert match, f"not a recorder error line: {lines[0]!r}"
    assert match.group(1) == code
    assert not script.path.with_name("ran.marker").exists(), "the script ran"


def entries(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_trace_dir_that_is_a_file_is_a_conflict(script, tmp_path):
    target = tmp_path / "out" / "not-a-dir"
    target.parent.mkdir()
    target.write_text("keep me")
    run = run_cli(["--trace-dir", target, script.path], cwd=tmp_path)
    assert_rejected(run, "ERR_TRACE_DIR_CONFLICT", script)
    assert str(target) in run.stderr or target.name in run.stderr
    assert target.read_text() == "keep me"
    assert entries(target.parent) == {"not-a-dir"}


def test_directory_with_other_content_is_never_replaced(script, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "important.txt").write_text("keep me")
    run = run_cli(["--trace-dir", project, script.path], cwd=tmp_path)
    assert_rejected(run, "ERR_TRACE_DIR_CONFLICT", script)
    assert entries(project) == {"important.txt"}
    assert (project / "important.txt").read_text() == "keep me"


def test_working_directory_as_trace_dir_is_never_replaced(script, tmp_path):
    run = run_cli(["--trace-dir", ".", script.path], cwd=script.path.parent)
    assert_rejected(run, "ERR_TRACE_DIR_CONFLICT", script)
    assert script.path.exists()


def test_unknown_module_is_unreadable(script, tmp_path):
    run = run_cli(["--trace-dir", tmp_path / "trace", "-m", "no_such_module_here"], cwd=tmp_path)
    assert_rejected(run, "ERR_TARGET_UNREADABLE", script)
    assert "no_such_module_here" in run.stderr
    assert not (tmp_path / "trace").exists()


def test_trace_dir_inside_a_file_is_rejected(script, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    run = run_cli(["--trace-dir", blocker / "trace", script.path], cwd=tmp_path)
    assert run.returncode == 2, run
    assert ONE_LINE_ERROR.match(run.stderr.strip()), run.stderr
    assert not script.path.with_name("ran.marker").exists()


def test_unknown_format_is_rejected(script, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    run = run_cli(["--trace-dir", out / "trace", "--format", "xml", script.path], cwd=tmp_path)
    assert_rejected(run, "ERR_UNSUPPORTED_FORMAT", script)
    assert "xml" in run.stderr
    assert entries(out) == set()


def test_missing_script_is_unreadable(script, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    missing = tmp_path / "no_such_script.py"
    run = run_cli(["--trace-dir", out / "trace", missing], cwd=tmp_path)
    assert_rejected(run, "ERR_TARGET_UNREADABLE", script)
    assert "no_such_script.py" in run.stderr
    assert entries(out) == set()


def test_directory_as_script_is_unreadable(script, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    folder = tmp_path / "folder"
    folder.mkdir()
    run = run_cli(["--trace-dir", out / "trace", folder], cwd=tmp_path)
    assert_rejected(run, "ERR_TARGET_UNREADABLE", script)
    assert entries(out) == set()


def test_no_script_is_a_usage_error(tmp_path):
    run = run_cli([], cwd=tmp_path)
    assert run.returncode == 2, run
    assert "usage" in run.stderr.lower()
    assert run.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_unknown_option_is_a_usage_error(script, tmp_path):
    run = run_cli(["--no-such-option", script.path], cwd=tmp_path)
    assert run.returncode == 2, run
    assert "--no-such-option" in run.stderr
    assert not script.path.with_name("ran.marker").exists()


def test_invalid_glob_is_rejected_before_the_script_runs(script, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    run = run_cli(["--trace-dir", out / "trace", "--include", "[", script.path], cwd=tmp_path)
    assert run.returncode == 2, run
    match = ONE_LINE_ERROR.match(run.stderr.strip())
    assert match, run.stderr
    assert match.group(1) == "ERR_INVALID_POLICY_VALUE"
    assert not script.path.with_name("ran.marker").exists()
    assert entries(out) == set()


def test_a_good_run_still_works_after_the_checks(script, tmp_path):
    trace_dir = tmp_path / "trace"
    run = run_cli(["--trace-dir", trace_dir, script.path], cwd=tmp_path, trace_dir=trace_dir)
    assert run.returncode == 0, run
    assert run.stdout == "script output\n"
    assert script.path.with_name("ran.marker").exists()
    assert run.trace.exit_status == 0
