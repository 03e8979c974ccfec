"""Bad input to the recorder, generated: command lines, ``CODETRACER_*`` and ``OTEL_*``
variables, filter globs and ``TRACEPARENT``. Whatever the input, it works or it is refused
as a usage error: a ``UsageError`` with an ``ERR_*`` code naming the input (in Python), or
exit status 2 with the one line ``codetracer-recorder: error: ...`` before the program
starts (on the command line). Never a traceback, never another exception type.

The parsers that run in Python are fuzzed in this process (many examples); where only a
whole run shows the behaviour, each example is a child process and there are fewer.
``tests/test_policy_configuration.py`` and ``tests/test_cli_policy_flags.py`` already fuzz
``configure_policy``, the policy variables and the policy flags one by one; here they are
mixed into whole command lines and environments instead."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from harness import BOUND, assert_complete, recorder_codes, run
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from tracekit import ONE_LINE_ERROR, looks_like_a_trace, write_program

import codetracer_recorder
from codetracer_recorder import cli
from codetracer_recorder.otel import bridge, exporters, resource, spans
from codetracer_recorder.policy import ENVIRONMENT_VARIABLES

# Text as a command line or environment can hold it: no NUL, and bytes that are not UTF-8
# arrive as lone surrogates (U+DC80-U+DCFF), as Python decodes them. Built from a list of
# characters: st.text() never yields surrogates, whatever its alphabet.
UNDECODABLE = st.sampled_from([chr(c) for c in range(0xDC80, 0xDD00)])
TEXT = st.lists(
    st.one_of(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), UNDECODABLE),
    max_size=30,
).map("".join)
# What a child process may be given as a path: relative and inside its own directory.
WORD = TEXT.filter(lambda w: not w.startswith(("/", "~")) and ".." not in w)

# Child-process properties: each example is one or more processes, so fewer examples and
# no shrinking (which would run many more); the failure message names the input.
CHILD_PHASES = (Phase.explicit, Phase.reuse, Phase.generate)

PREFIX = "codetracer-recorder: error: "

PROGRAM = """
    from pathlib import Path
    Path(__file__).with_name("ran.marker").write_text("ran")
    print("ran")
"""


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """``variables`` set in this process's environment, and removed again afterwards."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _recorder_error_lines(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not JSON records (the logs and trailers)."""
    return [line for line in stderr.splitlines() if not line.startswith("{")]


# ---------------------------------------------------------------------------------------
# Command lines

VALUED_FLAGS = [
    "--trace-dir",
    "--format",
    "--include",
    "--exclude",
    "--capture",
    "--codetracer-on-recorder-error",
    "--on-recorder-error",
    "--codetracer-log-level",
    "--log-level",
    "--codetracer-log-file",
    "--log-file",
    "--service_name",
]
SWITCHES = [
    "--codetracer-require-trace",
    "--require-trace",
    "--codetracer-keep-partial-trace",
    "--keep-partial-trace",
    "--codetracer-json-errors",
    "--json-errors",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "json",
            "binary",
            "locals",
            "args",
            "none",
            "abort",
            "disable",
            "true",
            "0",
            "YES",
            "debug",
            "off",
            "codetracer_recorder=debug,warn",
            "*",
            "prog*",
            "[",
            "{a,b",
            "**",
            "-",
            "",
        ]
    ),
    WORD,
)
OPTION = st.one_of(
    st.tuples(st.sampled_from(VALUED_FLAGS), VALUES).map(list),
    st.tuples(st.sampled_from(VALUED_FLAGS + SWITCHES), VALUES).map(lambda t: [f"{t[0]}={t[1]}"]),
    st.sampled_from(SWITCHES).map(lambda s: [s]),
)
ODD = st.sampled_from([[], [], ["--"], ["--no-such-flag"], ["-x"], ["--tr"], ["--format"]])
TARGET = st.one_of(
    st.just(["prog.py"]),
    st.just(["-m", "prog"]),
    st.just(["-m", "no_such_module_here"]),
    st.just(["-m"]),
    st.just([]),
    WORD.map(lambda w: [w]),
)
ARGV = st.builds(
    lambda options, odd, target, rest: [w for o in options for w in o] + odd + target + rest,
    st.lists(OPTION, max_size=6),
    ODD,
    TARGET,
    st.lists(WORD, max_size=3),
)


@pytest.mark.timeout(120)
@given(argv=ARGV, asks=st.sampled_from([[], ["--help"], ["-h"], ["--version"]]))
@example(argv=["--log-level", "\udcff", "prog.py"], asks=[])
def test_any_command_line_parses_or_is_refused_with_the_one_line_error(argv, asks):
    """The CLI's parser on any command line: options, or ``UsageError`` with an ``ERR_*``
    code naming the flag, or argparse's exit status 2 with ``codetracer-recorder: error:``
    last on stderr (0 for ``--help``/``--version``); never another exception."""
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            _, overrides = cli.parse_command_line(cli._parser(), [*asks, *argv])
    except codetracer_recorder.UsageError as error:
        assert error.code.startswith("ERR_"), error
        assert error.context.get("source", "").startswith("--"), error.context
        return
    except SystemExit as end:
        if end.code == 0:
            assert stdout.getvalue().startswith(("usage:", "codetracer-recorder ")), stdout
            return
        assert end.code == 2, (end.code, stderr.getvalue())
        assert stderr.getvalue().splitlines()[-1].startswith(PREFIX), stderr.getvalue()
        return
    assert set(overrides) <= set(codetracer_recorder.policy_snapshot())


POLICY_ENV = st.dictionaries(
    st.sampled_from(sorted(set(ENVIRONMENT_VARIABLES) - {"CODETRACER_LOG_FILE"})),
    st.one_of(st.sampled_from(["1", "off", "disable", "abort", "info", "warn", ""]), TEXT),
    max_size=3,
).flatmap(
    lambda env: st.one_of(
        st.just(env), WORD.map(lambda path: {**env, "CODETRACER_LOG_FILE": path or "log"})
    )
)


def _assert_cli_outcome(result, workdir: Path) -> None:
    """What the user sees of one run of the CLI (``workdir`` holds the program)."""
    assert "Traceback" not in result.stderr, result
    if (workdir / "ran.marker").exists():
        assert result.stdout == "ran\n", result
        if result.returncode != 0:
            # --require-trace with all of the program filtered out: the one error line.
            assert result.returncode == 10, result
            assert "ERR_TRACE_MISSING" in recorder_codes(result.stderr), result
            assert _recorder_error_lines(result.stderr)[-1].startswith(PREFIX), result
        traces = [m.parent for m in workdir.rglob("trace_metadata.json")]
        assert traces or result.returncode == 10, result
        for trace_dir in traces:
            assert_complete(trace_dir)
        return
    assert looks_like_a_trace(workdir) == [], result
    if result.returncode == 0:
        assert result.stdout.startswith(("usage:", "codetracer-recorder ")), result
        return
    assert result.returncode == 2, result
    assert result.stdout == "", result
    lines = _recorder_error_lines(result.stderr)
    assert lines and lines[-1].startswith(PREFIX), result
    if "[ERR_" in lines[-1]:
        assert ONE_LINE_ERROR.match(lines[-1]), result


@pytest.mark.timeout(240)
@settings(max_examples=30, phases=CHILD_PHASES)
@given(argv=ARGV, env=POLICY_ENV)
@example(argv=["--include", "\udcff", "prog.py"], env={})
@example(argv=["--exclude", "a\udcffb", "prog.py"], env={})
@example(argv=["--log-file", "log\udcff", "prog.py"], env={})
@example(argv=["prog.py"], env={"CODETRACER_LOG_FILE": "log\udcff"})
def test_any_command_line_and_policy_environment_runs_the_program_or_refuses_it(
    tmp_path_factory, argv, env
):
    """The whole CLI in a child process, on any command line and ``CODETRACER_*``
    environment: the program runs (printing what it prints, a complete trace written,
    status 0, or 10 when ``--require-trace`` found nothing of it recorded), or ``--help``
    and ``--version`` answer, or it is refused: status 2, the error last on stderr, the
    program never started and no trace left; never a traceback."""
    workdir = tmp_path_factory.mktemp("argv")
    write_program(workdir, PROGRAM)
    result = run(["-m", "codetracer_recorder", *argv], cwd=workdir, env=env, timeout=BOUND)
    _assert_cli_outcome(result, workdir)


# ---------------------------------------------------------------------------------------
# Filter globs

GLOB = st.lists(
    st.one_of(
        st.sampled_from("*?[]{},!^-\\/.ab"),
        UNDECODABLE,
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    ),
    max_size=12,
).map("".join)

# Each glob is given to start() as an include (everything else excluded, so nothing is
# recorded) and as an exclude, in one child process per batch of globs.
GLOB_DRIVER = """\
import json, sys, tempfile
import codetracer_recorder
outcomes = []
with tempfile.TemporaryDirectory() as scratch:
    for i, glob in enumerate(json.loads(sys.argv[1])):
        for option in ("include", "exclude"):
            globs = {"include": [glob], "exclude": ["*"]} if option == "include" else {"exclude": [glob]}
            try:
                codetracer_recorder.start(f"{scratch}/{option}-{i}", **globs)
                codetracer_recorder.stop()
                outcomes.append([glob, option, "ok"])
            except codetracer_recorder.RecorderError as error:
                outcomes.append([glob, option, type(error).__name__, error.code, str(error)])
            except Exception as error:
                outcomes.append([glob, option, "raised " + type(error).__name__, "", str(error)])
print(json.dumps(outcomes))
"""


@pytest.mark.timeout(120)
@settings(max_examples=6, phases=CHILD_PHASES)
@given(globs=st.lists(GLOB, min_size=1, max_size=20))
@example(globs=["\udcff", "[", "{a,b", "***", "a\\"])
def test_any_include_or_exclude_glob_starts_recording_or_is_a_usage_error(tmp_path_factory, globs):
    """``start(include=[glob])`` and ``start(exclude=[glob])`` with any text as the glob
    (unclosed classes and braces, escapes, undecodable bytes): the session starts, or
    ``UsageError`` ``ERR_INVALID_POLICY_VALUE`` names the option."""
    workdir = tmp_path_factory.mktemp("globs")
    result = run(["-c", GLOB_DRIVER, json.dumps(globs)], cwd=workdir, timeout=BOUND)
    assert result.returncode == 0 and result.stderr == "", result
    refused = []
    for glob, option, outcome, *error in json.loads(result.stdout):
        if outcome == "ok":
            continue
        code, message = error
        if outcome != "UsageError" or code != "ERR_INVALID_POLICY_VALUE" or option not in message:
            refused.append((glob, option, outcome, code, message))
    assert refused == []


# ---------------------------------------------------------------------------------------
# OpenTelemetry variables, read in this process

SIGNALS = exporters.SIGNALS
EXPORTER = st.one_of(
    st.sampled_from(["otlp", "otlp_proto_grpc", "otlp_proto_http", "console", "none"]),
    st.lists(st.sampled_from(["otlp", "console", "none", " ", "zipkin"]), max_size=3).map(",".join),
    TEXT,
)
PROTOCOL = st.one_of(st.sampled_from(["grpc", "http/protobuf", "http/json", " grpc "]), TEXT)


@pytest.mark.timeout(120)
@given(
    variables=st.fixed_dictionaries(
        {},
        optional={
            **{exporters.variable(s): EXPORTER for s in SIGNALS},
            "OTEL_EXPORTER_OTLP_PROTOCOL": PROTOCOL,
            **{f"OTEL_EXPORTER_OTLP_{s.upper()}_PROTOCOL": PROTOCOL for s in SIGNALS},
        },
    )
)
def test_exporter_and_protocol_variables_name_known_ones_or_are_refused_by_name(variables):
    """``OTEL_<SIGNAL>_EXPORTER`` and ``OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL`` with any
    text: the exporters and protocol they name, or ``UsageError``
    ``ERR_INVALID_POLICY_VALUE`` whose ``source`` is the variable."""
    with _environment(variables):
        for signal in SIGNALS:
            for parse, known in (
                (exporters.names, exporters.EXPORTER_NAMES),
                (exporters.protocol, exporters.PROTOCOLS),
            ):
                try:
                    parsed = parse(signal)
                except codetracer_recorder.UsageError as error:
                    assert error.code == "ERR_INVALID_POLICY_VALUE"
                    assert error.context["source"] in variables
                    assert error.context["source"] in str(error)
                    continue
                assert set([parsed] if isinstance(parsed, str) else parsed) <= set(known)


OTLP_VALUE = st.one_of(
    st.sampled_from(
        [
            "http://127.0.0.1:9",
            "http://[::1",
            "localhost:4317",
            "a=b,c",
            "k=%zz",
            "1e9",
            "nan",
            "-5",
            "x",
            "gzip",
            "zip",
            "maybe",
            "/nonexistent.pem",
        ]
    ),
    TEXT,
)
OTLP_SETTINGS = [
    f"OTEL_EXPORTER_OTLP_{part}{name}"
    for part in ("", "TRACES_", "METRICS_", "LOGS_")
    for name in ("ENDPOINT", "HEADERS", "TIMEOUT", "COMPRESSION", "INSECURE", "CERTIFICATE")
]


@pytest.mark.timeout(120)
@given(
    chosen=st.sampled_from(["otlp", "otlp_proto_grpc", "otlp_proto_http"]),
    variables=st.dictionaries(st.sampled_from(OTLP_SETTINGS), OTLP_VALUE, max_size=4),
)
@example(chosen="otlp", variables={"OTEL_EXPORTER_OTLP_TIMEOUT": "x"})
@example(chosen="otlp", variables={"OTEL_EXPORTER_OTLP_ENDPOINT": "\udcff"})
@example(chosen="otlp", variables={"OTEL_EXPORTER_OTLP_COMPRESSION": "zip"})
def test_otlp_exporters_build_from_any_otlp_variables_or_are_refused(chosen, variables):
    """The OTLP exporters, built as a session starts, from any ``OTEL_EXPORTER_OTLP_*``
    endpoint, headers, timeout, compression, insecure flag and certificate: exporters, or
    ``UsageError`` ``ERR_INVALID_POLICY_VALUE`` naming an ``OTEL_*`` variable; never the
    exporter's own ``ValueError`` (which the CLI would print as a traceback)."""
    wanted = {exporters.variable(s): chosen for s in SIGNALS}
    with _environment({**wanted, **variables}):
        for signal in SIGNALS:
            try:
                built = exporters.build(signal, 0.5)
            except codetracer_recorder.UsageError as error:
                assert error.code == "ERR_INVALID_POLICY_VALUE"
                assert "OTEL_" in str(error)
                continue
            assert len(built) == 1
            for exporter in built:
                exporter.shutdown()


@pytest.mark.timeout(120)
@given(text=st.one_of(st.sampled_from(["inf", "-inf", "1e309", "nan", "-0", "1e18"]), TEXT))
@example(text="inf")
def test_the_flush_bound_read_from_any_text_is_a_wait_python_accepts(text):
    """``CODETRACER_OTEL_FLUSH_TIMEOUT`` with any text: the bound the bridge uses is a
    finite, non-negative number of seconds that a thread wait accepts (the flush at exit
    waits that long), whatever the text says."""
    with _environment({bridge.FLUSH_TIMEOUT_ENV: text}):
        bound = bridge.flush_timeout()
    assert math.isfinite(bound) and bound >= 0, bound
    assert threading.Lock().acquire(timeout=bound)


HEX = st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=34)
TRACEPARENT = st.one_of(
    st.builds(lambda *parts: "-".join(parts), HEX, HEX, HEX, HEX),
    st.just("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    TEXT,
)


@pytest.mark.timeout(120)
@given(
    variables=st.fixed_dictionaries(
        {}, optional={"TRACEPARENT": TRACEPARENT, "TRACESTATE": st.one_of(TEXT, HEX)}
    )
)
def test_any_traceparent_gives_a_recording_span_of_that_trace_or_a_root_span(variables):
    """The recording span under any ``TRACEPARENT``/``TRACESTATE``: a child of the trace
    they name when it is valid, else a root span whose trace id is the recording's; the
    span always starts and ends."""
    tracer = spans.recorder_tracer(TracerProvider(shutdown_on_exit=False))
    recording_id = "4bf92f3577b34da6a3ce929d0e0e4737"
    with _environment(variables):
        span = spans.begin(tracer, recording_id, time.time_ns(), "/trace", "json", {})
    span.end()
    trace_id = format(span.get_span_context().trace_id, "032x")
    if span.parent is None:
        assert trace_id == recording_id
    else:
        assert span.parent.is_remote
        assert format(span.parent.trace_id, "032x") == trace_id
        assert trace_id in variables["TRACEPARENT"].lower()


@pytest.mark.timeout(120)
@given(
    variables=st.fixed_dictionaries(
        {},
        optional={
            "OTEL_SERVICE_NAME": TEXT,
            "OTEL_RESOURCE_ATTRIBUTES": st.one_of(
                TEXT,
                st.lists(st.tuples(TEXT, TEXT).map("=".join), max_size=4).map(",".join),
            ),
        },
    )
)
def test_any_service_name_and_resource_attributes_give_the_recorders_resource(variables):
    """``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` with any text: the
    recorder's Resource is built, keeps its own attributes, and names the service given."""
    with _environment(variables):
        attributes = dict(resource.recorder_resource().attributes)
        # As the process reads it back (bytes that form UTF-8 decode as such).
        service = os.environ.get("OTEL_SERVICE_NAME")
    assert attributes[resource.RECORDER_NAME] == resource.NAME
    assert attributes[resource.RUN_ID] == resource.run_id()
    if service:
        assert attributes["service.name"] == service


# ---------------------------------------------------------------------------------------
# OpenTelemetry variables, in a whole run

OTEL_ENV = st.fixed_dictionaries(
    {
        # Short, so an unreachable collector costs little; the property above fuzzes it.
        bridge.FLUSH_TIMEOUT_ENV: st.just("0.3"),
    },
    optional={
        **{exporters.variable(s): EXPORTER for s in SIGNALS},
        "OTEL_EXPORTER_OTLP_PROTOCOL": PROTOCOL,
        "OTEL_EXPORTER_OTLP_ENDPOINT": st.one_of(st.just("http://127.0.0.1:9"), OTLP_VALUE),
        "OTEL_EXPORTER_OTLP_HEADERS": OTLP_VALUE,
        "OTEL_EXPORTER_OTLP_TIMEOUT": OTLP_VALUE,
        "OTEL_SERVICE_NAME": TEXT,
        "OTEL_RESOURCE_ATTRIBUTES": TEXT,
        "OTEL_SDK_DISABLED": st.one_of(st.sampled_from(["true", "TRUE", "false"]), TEXT),
        "TRACEPARENT": TRACEPARENT,
        "TRACESTATE": TEXT,
    },
)


@pytest.mark.timeout(240)
@settings(max_examples=12, phases=CHILD_PHASES)
@given(env=OTEL_ENV)
@example(
    env={
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "x",
        bridge.FLUSH_TIMEOUT_ENV: "0.3",
    }
)
@example(env={"OTEL_TRACES_EXPORTER": "console", bridge.FLUSH_TIMEOUT_ENV: "inf"})
def test_any_otel_environment_leaves_the_program_untouched_or_refuses_to_start(
    tmp_path_factory, env
):
    """The CLI under any ``OTEL_*`` environment (exporters, protocol, endpoint, headers,
    timeout, service and resource, ``OTEL_SDK_DISABLED``, ``TRACEPARENT``) and flush bound:
    the program runs as it does plain (same stdout, status 0) and its trace is complete,
    within the bound; or the recorder refuses before it starts (status 2, an
    ``ERR_INVALID_POLICY_VALUE`` line naming the variable). Never a traceback."""
    workdir = tmp_path_factory.mktemp("otel")
    write_program(workdir, PROGRAM)
    trace_dir = workdir / "trace"
    result = run(
        ["-m", "codetracer_recorder", "--trace-dir", trace_dir, "prog.py"],
        cwd=workdir,
        env=env,
        timeout=BOUND,
    )
    assert "Traceback" not in result.stderr, result
    if (workdir / "ran.marker").exists():
        assert (result.returncode, result.stdout) == (0, "ran\n"), result
        assert_complete(trace_dir)
        return
    assert result.returncode == 2 and result.stdout == "", result
    match = ONE_LINE_ERROR.match(_recorder_error_lines(result.stderr)[-1])
    assert match and match.group(1) == "ERR_INVALID_POLICY_VALUE", result
    assert any(name in match.group(0) for name in env), result
    assert looks_like_a_trace(workdir) == [], result
