"""Story 2: embedders configure the recorder policy centrally, through `configure_policy`,
`policy_snapshot` and `configure_policy_from_env`; the environment applies when the package
is imported, and `start()` (also as `TraceSession.start`) refreshes the policy from the
environment, then applies its explicit overrides, before tracing begins."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tracekit import DEFAULT_POLICY, run_python

import codetracer_recorder
from codetracer_recorder import _native
from codetracer_recorder.policy import ENVIRONMENT_VARIABLES, FIELDS

DEFAULTS = DEFAULT_POLICY
SWITCHES = ["require_trace", "keep_partial_trace", "json_errors"]
TRUE_TEXT = ["1", "true", "yes", "on", "TRUE", "Yes", "On"]
FALSE_TEXT = ["0", "false", "no", "off", "FALSE", "No", "oFF"]
ENV = {field["name"]: field["env"] for field in FIELDS}


def test_the_policy_starts_at_its_defaults():
    assert codetracer_recorder.policy_snapshot() == DEFAULTS


def test_the_table_names_each_field_once_with_its_variable_and_flags():
    assert [f["name"] for f in FIELDS] == list(DEFAULTS)
    assert ENVIRONMENT_VARIABLES == {
        "CODETRACER_ON_RECORDER_ERROR": "on_recorder_error",
        "CODETRACER_REQUIRE_TRACE": "require_trace",
        "CODETRACER_KEEP_PARTIAL_TRACE": "keep_partial_trace",
        "CODETRACER_LOG_LEVEL": "log_level",
        "CODETRACER_LOG_FILE": "log_file",
        "CODETRACER_JSON_ERRORS": "json_errors",
    }
    for field in FIELDS:
        assert field["flag"] == "--codetracer-" + field["name"].replace("_", "-")
        assert field["upstream_flag"] == "--" + field["name"].replace("_", "-")


def test_the_readme_policy_reference_lists_every_field_variable_and_flag():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    reference = readme.split("\n## Policy\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in reference.splitlines() if line.startswith("| `")]
    for field in FIELDS:
        (row,) = [r for r in rows if r.startswith(f"| `{field['name']}` |")]
        for name in (field["env"], field["flag"], field["upstream_flag"]):
            assert f"`{name}`" in row, (name, row)


def test_configure_policy_sets_every_field(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    codetracer_recorder.configure_policy(
        on_recorder_error="disable",
        require_trace=True,
        keep_partial_trace=True,
        log_level="codetracer_recorder=debug,warn",
        log_file="logs/recorder.log",
        json_errors=True,
    )
    assert codetracer_recorder.policy_snapshot() == {
        "on_recorder_error": "disable",
        "require_trace": True,
        "keep_partial_trace": True,
        "log_level": "codetracer_recorder=debug,warn",
        "log_file": str(tmp_path / "logs" / "recorder.log"),
        "json_errors": True,
    }


def test_none_leaves_a_field_unchanged_and_other_fields_stay():
    codetracer_recorder.configure_policy(on_recorder_error="disable", require_trace=True)
    codetracer_recorder.configure_policy(on_recorder_error=None, keep_partial_trace=True)
    codetracer_recorder.configure_policy()
    assert codetracer_recorder.policy_snapshot() == {
        **DEFAULTS,
        "on_recorder_error": "disable",
        "require_trace": True,
        "keep_partial_trace": True,
    }


@pytest.mark.parametrize("field", SWITCHES)
def test_switches_take_bools_and_the_usual_spellings(field):
    for value in [True, *TRUE_TEXT]:
        codetracer_recorder.configure_policy(**{field: value})
        assert codetracer_recorder.policy_snapshot()[field] is True, value
        codetracer_recorder.configure_policy(**{field: False})
    for value in [False, *FALSE_TEXT]:
        codetracer_recorder.configure_policy(**{field: True})
        codetracer_recorder.configure_policy(**{field: value})
        assert codetracer_recorder.policy_snapshot()[field] is False, value


def test_choices_and_levels_ignore_case_and_log_file_takes_a_path_object(tmp_path):
    codetracer_recorder.configure_policy(
        on_recorder_error="DISABLE", log_level="Info", log_file=tmp_path / "r.log"
    )
    snapshot = codetracer_recorder.policy_snapshot()
    assert snapshot["on_recorder_error"] == "disable"
    assert snapshot["log_level"] == "info"
    assert snapshot["log_file"] == str(tmp_path / "r.log")


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("on_recorder_error", "explode", "abort, disable"),
        ("require_trace", "maybe", "yes/no"),
        ("keep_partial_trace", 1, "yes/no"),
        ("json_errors", "", "yes/no"),
        ("log_level", "loud", "debug"),
        ("log_level", "mod=verbose", "debug"),
        ("log_file", "", "a file path"),
        ("log_file", 42, "a file path"),
        ("on_recorder_error", True, "abort, disable"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_field_value_and_accepted_values(
    field, value, accepted
):
    codetracer_recorder.configure_policy(on_recorder_error="disable")
    good = {"require_trace": True} if field != "require_trace" else {"json_errors": True}
    with pytest.raises(codetracer_recorder.UsageError) as info:
        codetracer_recorder.configure_policy(**good, **{field: value})
    error = info.value
    assert error.code == "ERR_INVALID_POLICY_VALUE"
    assert error.context["field"] == field
    assert field in str(error)
    shown = value if isinstance(value, str) else repr(value)
    assert error.context["value"] == shown
    assert json.dumps(shown) in str(error), "the value is quoted in the message"
    assert accepted in error.context["accepted"] and accepted in str(error)
    # Nothing was applied, not even the good keyword given with it.
    assert codetracer_recorder.policy_snapshot() == {**DEFAULTS, "on_recorder_error": "disable"}


def test_an_unknown_field_is_a_usage_error_listing_the_fields():
    with pytest.raises(codetracer_recorder.UsageError) as info:
        codetracer_recorder.configure_policy(verbosity="high")
    assert info.value.code == "ERR_INVALID_POLICY_VALUE"
    assert "verbosity" in str(info.value)
    assert "on_recorder_error" in info.value.context["accepted"]


# Environment variables (in-process: configure_policy_from_env reads this process's env).


def test_configure_policy_from_env_reads_every_variable(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODETRACER_ON_RECORDER_ERROR", "disable")
    monkeypatch.setenv("CODETRACER_REQUIRE_TRACE", "yes")
    monkeypatch.setenv("CODETRACER_KEEP_PARTIAL_TRACE", "ON")
    monkeypatch.setenv("CODETRACER_JSON_ERRORS", "1")
    monkeypatch.setenv("CODETRACER_LOG_LEVEL", "debug")
    monkeypatch.setenv("CODETRACER_LOG_FILE", "recorder.log")
    codetracer_recorder.configure_policy_from_env()
    assert codetracer_recorder.policy_snapshot() == {
        "on_recorder_error": "disable",
        "require_trace": True,
        "keep_partial_trace": True,
        "log_level": "debug",
        "log_file": str(tmp_path / "recorder.log"),
        "json_errors": True,
    }


@pytest.mark.parametrize("field", SWITCHES)
def test_boolean_variables_take_the_usual_spellings(monkeypatch, field):
    for text in TRUE_TEXT:
        codetracer_recorder.configure_policy(**{field: False})
        monkeypatch.setenv(ENV[field], text)
        codetracer_recorder.configure_policy_from_env()
        assert codetracer_recorder.policy_snapshot()[field] is True, text
    for text in FALSE_TEXT:
        codetracer_recorder.configure_policy(**{field: True})
        monkeypatch.setenv(ENV[field], text)
        codetracer_recorder.configure_policy_from_env()
        assert codetracer_recorder.policy_snapshot()[field] is False, text


def test_only_variables_that_are_set_change_the_policy(monkeypatch):
    codetracer_recorder.configure_policy(on_recorder_error="disable", log_level="trace")
    monkeypatch.setenv("CODETRACER_REQUIRE_TRACE", "true")
    monkeypatch.setenv("CODETRACER_LOG_LEVEL", "")  # empty counts as unset
    codetracer_recorder.configure_policy_from_env()
    assert codetracer_recorder.policy_snapshot() == {
        **DEFAULTS,
        "on_recorder_error": "disable",
        "log_level": "trace",
        "require_trace": True,
    }


def test_a_bad_variable_is_a_usage_error_naming_it_and_nothing_is_applied(monkeypatch):
    monkeypatch.setenv("CODETRACER_ON_RECORDER_ERROR", "disable")
    monkeypatch.setenv("CODETRACER_KEEP_PARTIAL_TRACE", "sometimes")
    with pytest.raises(codetracer_recorder.UsageError) as info:
        codetracer_recorder.configure_policy_from_env()
    assert info.value.code == "ERR_INVALID_POLICY_VALUE"
    assert info.value.context["source"] == "CODETRACER_KEEP_PARTIAL_TRACE"
    assert info.value.context["value"] == "sometimes"
    assert "CODETRACER_KEEP_PARTIAL_TRACE" in str(info.value)
    assert "sometimes" in str(info.value) and "yes/no" in str(info.value)
    assert codetracer_recorder.policy_snapshot() == DEFAULTS


def test_a_variable_that_is_not_utf8_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("CODETRACER_LOG_LEVEL", "info\udcff")  # the byte 0xff
    with pytest.raises(codetracer_recorder.UsageError) as info:
        codetracer_recorder.configure_policy_from_env()
    assert info.value.context["source"] == "CODETRACER_LOG_LEVEL"


# Importing the package, and start() (each in a child process: the policy is process-wide).

SHOW_POLICY = (
    "import json, codetracer_recorder; print(json.dumps(codetracer_recorder.policy_snapshot()))"
)


def test_importing_the_package_applies_the_environment(tmp_path):
    run = run_python(
        ["-c", SHOW_POLICY],
        cwd=tmp_path,
        env={"CODETRACER_ON_RECORDER_ERROR": "disable", "CODETRACER_JSON_ERRORS": "yes"},
    )
    assert run.returncode == 0, run
    assert json.loads(run.stdout) == {
        **DEFAULTS,
        "on_recorder_error": "disable",
        "json_errors": True,
    }


def test_a_bad_variable_does_not_break_the_import_but_start_raises_it(program, tmp_path):
    prog = program("""
        import json, sys
        import codetracer_recorder
        snapshot = codetracer_recorder.policy_snapshot()
        try:
            codetracer_recorder.start(sys.argv[1])
        except codetracer_recorder.UsageError as exc:
            error = {"code": exc.code, "context": exc.context}
        print(json.dumps({"snapshot": snapshot, "error": error,
                          "tracing": codetracer_recorder.is_tracing()}))
    """)
    run = run_python(
        [prog.path, tmp_path / "trace"],
        cwd=tmp_path,
        env={"CODETRACER_REQUIRE_TRACE": "maybe", "CODETRACER_ON_RECORDER_ERROR": "disable"},
    )
    assert run.returncode == 0, run
    report = json.loads(run.stdout)
    assert report["snapshot"] == DEFAULTS, "a bad environment applies nothing"
    assert report["error"]["code"] == "ERR_INVALID_POLICY_VALUE"
    assert report["error"]["context"]["source"] == "CODETRACER_REQUIRE_TRACE"
    assert report["tracing"] is False
    assert not (tmp_path / "trace").exists()


START_LAYERS = """
import json, os, sys
import codetracer_recorder
from codetracer_recorder import TraceSession

def work():
    return 1

# Set after import: start() must read the environment again.
os.environ["CODETRACER_ON_RECORDER_ERROR"] = "disable"
# Set in code, but the environment says otherwise: start() refreshes from it.
codetracer_recorder.configure_policy(require_trace=False, log_level="error")
start = TraceSession.start if sys.argv[2] == "TraceSession.start" else codetracer_recorder.start
session = start(sys.argv[1], policy={"keep_partial_trace": False, "json_errors": "on"})
during = codetracer_recorder.policy_snapshot()
work()
session.stop()
print(json.dumps({"during": during, "type": type(session).__name__}))
"""


@pytest.mark.parametrize("entry", ["start", "TraceSession.start"])
def test_start_refreshes_from_the_environment_then_applies_its_overrides(program, tmp_path, entry):
    prog = program(START_LAYERS)
    run = run_python(
        [prog.path, tmp_path / "trace", entry],
        cwd=tmp_path,
        env={"CODETRACER_REQUIRE_TRACE": "1", "CODETRACER_KEEP_PARTIAL_TRACE": "1"},
    )
    assert run.returncode == 0, run
    report = json.loads(run.stdout)
    assert report["type"] == "TraceSession"
    assert report["during"] == {
        "on_recorder_error": "disable",  # the environment, read at start
        "require_trace": True,  # the environment over configure_policy
        "keep_partial_trace": False,  # the override over the environment
        "log_level": "error",  # set in code, untouched by an unset variable
        "log_file": None,
        "json_errors": True,  # the override
    }


def test_a_bad_override_is_a_usage_error_and_nothing_starts(tmp_path):
    with pytest.raises(codetracer_recorder.UsageError) as info:
        codetracer_recorder.start(tmp_path / "trace", policy={"require_trace": "perhaps"})
    assert info.value.context["field"] == "require_trace"
    with pytest.raises(codetracer_recorder.UsageError):
        codetracer_recorder.start(tmp_path / "trace", policy=["require_trace"])  # type: ignore[arg-type]
    assert codetracer_recorder.is_tracing() is False
    assert list(tmp_path.iterdir()) == []


def test_a_running_session_keeps_the_policy_it_started_with(program, tmp_path):
    """Switching to `disable` mid-session does not change the running session: it still
    aborts (stop raises), as the policy said when it started."""
    assert _native.FAULT_INJECTION, "needs the test build (make test)"
    prog = program("""
        import json, sys
        import codetracer_recorder

        def work():
            return sum(range(10))

        codetracer_recorder.start(sys.argv[1])
        codetracer_recorder.configure_policy(on_recorder_error="disable")
        work()
        try:
            codetracer_recorder.stop()
            code = None
        except codetracer_recorder.RecorderError as exc:
            code = exc.code
        print(json.dumps({"code": code}))
    """)
    run = run_python(
        [prog.path, tmp_path / "trace"],
        cwd=tmp_path,
        env={"CODETRACER_TEST_INJECT": "panic:on_line"},
    )
    assert run.returncode == 0, run
    assert json.loads(run.stdout) == {"code": "ERR_PANIC"}


# Property-based: whatever the input, the parsers accept it or raise UsageError.

ANY_TEXT = st.text(max_size=40)
ENV_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
        st.sampled_from([chr(c) for c in range(0xDC80, 0xDD00)]),  # undecodable bytes
    ),
    max_size=40,
)
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    ANY_TEXT,
    st.binary(max_size=10),
    st.lists(ANY_TEXT, max_size=3),
    st.builds(Path, ANY_TEXT.filter(lambda t: "\x00" not in t)),
)
FIELD_NAMES = st.one_of(st.sampled_from(list(DEFAULTS)), st.text(min_size=1, max_size=20))


@given(fields=st.dictionaries(FIELD_NAMES, ANY_VALUE, max_size=4))
def test_configure_policy_accepts_or_raises_usage_error(fields):
    _native.reset_policy()
    before = codetracer_recorder.policy_snapshot()
    try:
        codetracer_recorder.configure_policy(**fields)
    except codetracer_recorder.UsageError as error:
        assert error.code == "ERR_INVALID_POLICY_VALUE"
        assert codetracer_recorder.policy_snapshot() == before, "a refused call changes nothing"
        return
    after = codetracer_recorder.policy_snapshot()
    for name, value in fields.items():
        if value is None:
            assert after[name] == before[name]
        elif isinstance(value, bool):
            assert after[name] is value


@given(variables=st.dictionaries(st.sampled_from(sorted(ENVIRONMENT_VARIABLES)), ENV_TEXT))
def test_configure_policy_from_env_accepts_or_raises_usage_error(variables):
    _native.reset_policy()
    saved = {name: os.environ.get(name) for name in ENVIRONMENT_VARIABLES}
    try:
        os.environ.update(variables)
        try:
            codetracer_recorder.configure_policy_from_env()
        except codetracer_recorder.UsageError as error:
            assert error.code == "ERR_INVALID_POLICY_VALUE"
            assert error.context["source"] in variables
            assert codetracer_recorder.policy_snapshot() == DEFAULTS
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
