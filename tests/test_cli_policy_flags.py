"""Story 3: the CLI steers the policy with `--codetracer-*` flags (and the upstream
recorder's spellings), wired through `configure_policy`; flags beat `CODETRACER_*`
variables, which beat the defaults; without flags the environment still applies. A bad
value is one clear line and exit status 2, and the program does not start. The upstream
module name, `python -m codetracer_python_recorder`, runs the same command."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tracekit import DEFAULT_POLICY, ONE_LINE_ERROR, run_cli

import codetracer_recorder
from codetracer_recorder import cli
from codetracer_recorder.policy import FIELDS

DEFAULTS = DEFAULT_POLICY

# The program reports the policy in force while it runs (the CLI runs it in-process).
SHOW_POLICY = """
import json, sys
import codetracer_recorder

def work():
    return 1

work()
print(json.dumps({"policy": codetracer_recorder.policy_snapshot(), "argv": sys.argv[1:]}))
"""

MARKER = """
from pathlib import Path
Path(__file__).with_name("ran.marker").write_text("the script ran")
"""


def policy_in_force(program, tmp_path, flags, env=None, args=()):
    prog = program(SHOW_POLICY)
    run = run_cli(
        [*flags, "--trace-dir", tmp_path / "trace", prog.path, *args],
        cwd=tmp_path,
        env=env,
        trace_dir=tmp_path / "trace",
    )
    assert run.returncode == 0, run
    assert run.trace.returns("work") == [1]
    return json.loads(run.stdout)


def test_without_flags_or_variables_the_defaults_apply(program, tmp_path):
    assert policy_in_force(program, tmp_path, [])["policy"] == DEFAULTS


@pytest.mark.parametrize("spelling", ["flag", "upstream_flag"])
def test_every_flag_sets_its_field(program, tmp_path, spelling):
    flag = {f["name"]: f[spelling] for f in FIELDS}
    flags = [
        flag["on_recorder_error"], "disable",
        flag["require_trace"],
        flag["keep_partial_trace"],
        f"{flag['log_level']}=codetracer_recorder=debug",
        flag["log_file"], "logs/recorder.log",
        flag["json_errors"],
    ]  # fmt: skip
    assert policy_in_force(program, tmp_path, flags)["policy"] == {
        "on_recorder_error": "disable",
        "require_trace": True,
        "keep_partial_trace": True,
        "log_level": "codetracer_recorder=debug",
        "log_file": str(tmp_path / "logs" / "recorder.log"),
        "json_errors": True,
    }


def test_switches_take_an_explicit_value_after_an_equals_sign(program, tmp_path):
    flags = [
        "--codetracer-require-trace=yes",
        "--keep-partial-trace=0",
        "--codetracer-json-errors=ON",
        "--codetracer-on-recorder-error=disable",
    ]
    assert policy_in_force(program, tmp_path, flags)["policy"] == {
        **DEFAULTS,
        "require_trace": True,
        "on_recorder_error": "disable",
        "json_errors": True,
    }


def test_a_switch_alone_before_the_script_does_not_take_the_script_as_its_value(program, tmp_path):
    prog = program(SHOW_POLICY)
    trace_dir = tmp_path / "trace-out"
    run = run_cli(["--require-trace", prog.path, "x"], cwd=tmp_path, trace_dir=trace_dir)
    assert run.returncode == 0, run
    report = json.loads(run.stdout)
    assert report["policy"]["require_trace"] is True
    assert report["argv"] == ["x"]


def test_without_flags_the_environment_applies(program, tmp_path):
    env = {
        "CODETRACER_ON_RECORDER_ERROR": "disable",
        "CODETRACER_KEEP_PARTIAL_TRACE": "yes",
        "CODETRACER_LOG_LEVEL": "debug",
    }
    assert policy_in_force(program, tmp_path, [], env=env)["policy"] == {
        **DEFAULTS,
        "on_recorder_error": "disable",
        "keep_partial_trace": True,
        "log_level": "debug",
    }


def test_flags_beat_the_environment_which_beats_the_defaults(program, tmp_path):
    env = {
        "CODETRACER_ON_RECORDER_ERROR": "disable",
        "CODETRACER_KEEP_PARTIAL_TRACE": "1",
        "CODETRACER_JSON_ERRORS": "true",
        "CODETRACER_LOG_LEVEL": "warn",
    }
    flags = ["--codetracer-on-recorder-error", "abort", "--keep-partial-trace=false"]
    assert policy_in_force(program, tmp_path, flags, env=env)["policy"] == {
        **DEFAULTS,
        "on_recorder_error": "abort",  # flag over variable
        "keep_partial_trace": False,  # flag over variable
        "json_errors": True,  # variable over default
        "log_level": "warn",  # variable over default
    }


def test_flags_after_the_script_belong_to_the_program(program, tmp_path):
    report = policy_in_force(
        program, tmp_path, [], args=["--require-trace", "--on-recorder-error=disable"]
    )
    assert report["policy"] == DEFAULTS
    assert report["argv"] == ["--require-trace", "--on-recorder-error=disable"]


def test_the_upstream_module_name_runs_the_same_command(program, tmp_path):
    prog = program(SHOW_POLICY)
    trace_dir = tmp_path / "trace"
    run = run_cli(
        ["--on-recorder-error=disable", "--trace-dir", trace_dir, prog.path],
        cwd=tmp_path,
        trace_dir=trace_dir,
        module="codetracer_python_recorder",
    )
    assert run.returncode == 0, run
    assert json.loads(run.stdout)["policy"]["on_recorder_error"] == "disable"
    assert run.trace.returns("work") == [1]
    help_run = run_cli(["--help"], cwd=tmp_path, module="codetracer_python_recorder")
    for field in FIELDS:
        assert field["flag"] in help_run.stdout and field["upstream_flag"] in help_run.stdout


BAD_FLAGS = [
    (
        ["--codetracer-on-recorder-error", "explode"],
        "--codetracer-on-recorder-error",
        "explode",
        "abort, disable",
    ),
    (["--on-recorder-error=Abort!"], "--on-recorder-error", "Abort!", "abort, disable"),
    (["--codetracer-require-trace=maybe"], "--codetracer-require-trace", "maybe", "yes/no"),
    (["--keep-partial-trace="], "--keep-partial-trace", "", "yes/no"),
    (["--json-errors=2"], "--json-errors", "2", "yes/no"),
    (["--codetracer-log-level", "loud"], "--codetracer-log-level", "loud", "debug"),
    (["--log-level=a=b=c"], "--log-level", "a=b=c", "debug"),
    (["--codetracer-log-file="], "--codetracer-log-file", "", "a file path"),
]


@pytest.mark.parametrize(("flags", "named", "value", "accepted"), BAD_FLAGS)
def test_a_bad_flag_value_is_one_line_naming_it_and_the_program_does_not_start(
    program, tmp_path, flags, named, value, accepted
):
    prog = program(MARKER)
    run = run_cli([*flags, "--trace-dir", tmp_path / "trace", prog.path], cwd=tmp_path)
    assert_rejected(run, prog, named, value, accepted)


BAD_VARIABLES = [
    ("CODETRACER_ON_RECORDER_ERROR", "ignore", "abort, disable"),
    ("CODETRACER_REQUIRE_TRACE", "sure", "yes/no"),
    ("CODETRACER_KEEP_PARTIAL_TRACE", "2", "yes/no"),
    ("CODETRACER_JSON_ERRORS", "enabled", "yes/no"),
    ("CODETRACER_LOG_LEVEL", "verbose", "debug"),
]


@pytest.mark.parametrize(("variable", "value", "accepted"), BAD_VARIABLES)
def test_a_bad_variable_is_one_line_naming_it_and_the_program_does_not_start(
    program, tmp_path, variable, value, accepted
):
    prog = program(MARKER)
    run = run_cli(
        ["--trace-dir", tmp_path / "trace", prog.path], cwd=tmp_path, env={variable: value}
    )
    assert_rejected(run, prog, variable, value, accepted)


def test_a_bad_variable_is_reported_even_when_a_flag_sets_the_same_field(program, tmp_path):
    prog = program(MARKER)
    run = run_cli(
        ["--require-trace", "--trace-dir", tmp_path / "trace", prog.path],
        cwd=tmp_path,
        env={"CODETRACER_REQUIRE_TRACE": "sure"},
    )
    assert_rejected(run, prog, "CODETRACER_REQUIRE_TRACE", "sure", "yes/no")


def assert_rejected(run, prog, named: str, value: str, accepted: str) -> None:
    assert run.returncode == 2, run
    assert run.stdout == ""
    # A bad CODETRACER_LOG_LEVEL is also the logger's warning at import (a JSON record).
    (line,) = [line for line in run.stderr.splitlines() if not line.startswith("{")]
    match = ONE_LINE_ERROR.match(line)
    assert match and match.group(1) == "ERR_INVALID_POLICY_VALUE", line
    assert f" for {named};" in line, line
    assert json.dumps(value) in line, line
    assert accepted in line, line
    assert not prog.path.with_name("ran.marker").exists(), "the program ran"
    assert sorted(p.name for p in prog.path.parent.iterdir()) == ["prog.py"]


# Property-based: any text given to any policy flag is accepted or a UsageError.

POLICY_FLAGS = [field[key] for field in FIELDS for key in ("flag", "upstream_flag")]


@given(
    flags=st.lists(
        st.tuples(st.sampled_from(POLICY_FLAGS), st.text(max_size=30)), min_size=1, max_size=4
    )
)
def test_policy_flags_are_accepted_or_a_usage_error(flags):
    argv = [f"{flag}={text}" for flag, text in flags]
    try:
        options, overrides = cli.parse_command_line(cli._parser(), [*argv, "prog.py", "--x"])
    except codetracer_recorder.UsageError as error:
        assert error.code == "ERR_INVALID_POLICY_VALUE"
        assert error.context["source"] in {flag for flag, _ in flags}
        return
    assert options.target == ["prog.py", "--x"]
    assert set(overrides) <= set(DEFAULTS)
    codetracer_recorder.configure_policy(**overrides)  # what the CLI hands to start()
    codetracer_recorder.policy.reset_policy()
