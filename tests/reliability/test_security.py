"""Security (issue 8 §7): what the recorder writes is private to its owner whatever the
umask, its staging names cannot be guessed, a symlink planted where it writes (the trace
path, the log file) is never written through, and secrets the program holds under
secret-looking names appear in none of its outputs: not the trace, the log, the error
trailers, stderr, nor the telemetry a real Collector receives."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import (
    assert_complete,
    assert_partial,
    assert_same_behaviour,
    recorder_argv,
    recorder_codes,
    run,
    run_both,
)

from codetracer_recorder import _native

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))

from collector import Collector, free_port  # found through the path set just above


@pytest.fixture(autouse=True)
def _test_build() -> None:
    assert _native.FAULT_INJECTION, "needs the test build (CODETRACER_TEST_INJECT): make test"


def umask(mask: int) -> Callable[[], None]:
    """A ``preexec_fn`` that gives the child ``mask`` as its umask."""

    def apply() -> None:
        os.umask(mask)

    return apply


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


WORK = """
    def square(n):
        return n * n

    def work(count):
        total = 0
        for i in range(count):
            total += square(i)
        return total

    print(work(5_000))
"""

PARTIAL = {"CODETRACER_TEST_INJECT": "io:writer@2"}
"""The trace writer's second batch fails with EIO (WORK's 65,000 events make four)."""
KEEP_PARTIAL = ["--codetracer-on-recorder-error", "disable", "--codetracer-keep-partial-trace"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["umask-022", "umask-000"])
@pytest.mark.parametrize("kind", ["json", "binary", "partial"])
def test_trace_directory_is_0700_its_files_and_the_log_file_0600_whatever_the_umask(
    program, tmp_path, mask, kind
):
    """A trace (complete in either format, or partial after a write failure) is a 0700
    directory of 0600 files, and a new log file is 0600, even under umask 000: another
    user of the machine reads none of the recorded values."""
    prog = program(WORK)
    log_file = tmp_path / "recorder.log"
    options = ["--codetracer-log-file", str(log_file), "--codetracer-log-level", "info"]
    if kind == "partial":
        options += KEEP_PARTIAL
    else:
        options += ["--format", kind]
    pair = run_both(
        prog,
        tmp_path / "trace",
        options=options,
        env=PARTIAL if kind == "partial" else None,
        preexec_fn=umask(mask),
    )
    assert_same_behaviour(pair)
    if kind == "partial":
        assert_partial(pair.trace_dir, "ERR_IO")
    else:
        assert_complete(pair.trace_dir, main=prog.path)
    files = sorted(pair.trace_dir.iterdir())
    assert {f.name for f in files} >= {"trace_metadata.json", "trace_paths.json"}
    assert mode(pair.trace_dir) == 0o700
    assert {f.name: oct(mode(f)) for f in files} == {f.name: oct(0o600) for f in files}
    assert mode(log_file) == 0o600


STAGING_PROBE = """
    import json
    import os
    from pathlib import Path

    here = Path(__file__).parent
    staged = {
        name: [oct(os.lstat(here / name).st_mode), os.lstat(here / name).st_uid]
        for name in os.listdir(here)
        if ".staging-" in name
    }
    (here / "staged.json").write_text(json.dumps(staged))
    print("probed")
"""

STAGING_NAME = re.compile(r"^\.trace\.staging-([0-9a-f]+)$")


@pytest.mark.timeout(60)
def test_each_run_stages_under_a_new_unguessable_private_name(program, tmp_path):
    """While the program runs, its trace is staged beside the target under a name with
    at least 64 random bits, new for every run (so another user cannot plant a symlink
    there in advance), as a directory (not a link) of the recorder's user, mode 0700."""
    prog = program(STAGING_PROBE)
    seen = []
    for _ in range(2):
        pair = run_both(prog, tmp_path / "trace")
        assert_same_behaviour(pair)
        assert_complete(pair.trace_dir, main=prog.path)
        ((name, (st_mode, uid)),) = json.loads((tmp_path / "staged.json").read_text()).items()
        match = STAGING_NAME.match(name)
        assert match, name
        assert len(match.group(1)) >= 16, f"{name}: fewer than 64 random bits"
        assert stat.S_ISDIR(int(st_mode, 8)) and stat.S_IMODE(int(st_mode, 8)) == 0o700
        assert uid == os.getuid()
        seen.append(match.group(1))
    assert seen[0] != seen[1]


def snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``directory``: its mode and its bytes."""
    return {
        str(p.relative_to(directory)): (p.lstat().st_mode, p.read_bytes())
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize("points_to", ["an empty directory", "an earlier trace", "nothing"])
def test_a_symlink_planted_at_the_trace_path_is_refused_and_never_followed(
    program, tmp_path, points_to
):
    """Someone plants a symlink at the trace path (in a shared directory) to a place of
    their choice. The recorder refuses the path as it refuses a file there
    (ERR_TRACE_DIR_CONFLICT, exit 2, the program not started) rather than follow it:
    the link and what it points to are untouched, and nothing is staged beside it."""
    prog = program("print('ran')")
    victim = tmp_path / "victim"
    victim.mkdir()
    elsewhere = victim / "target"
    if points_to == "an empty directory":
        elsewhere.mkdir()
    elif points_to == "an earlier trace":
        run(recorder_argv(prog, elsewhere), cwd=tmp_path)
        assert_complete(elsewhere, main=prog.path)
    before = snapshot(victim)
    shared = tmp_path / "shared"
    shared.mkdir()
    link = shared / "trace"
    link.symlink_to(elsewhere)

    pair = run_both(prog, link)
    assert pair.plain.stdout == "ran\n"
    assert (pair.recorded.returncode, pair.recorded.stdout) == (2, ""), pair.recorded
    assert recorder_codes(pair.recorded.stderr) == ["ERR_TRACE_DIR_CONFLICT"], pair.recorded
    assert link.is_symlink() and os.readlink(link) == str(elsewhere)
    assert sorted(p.name for p in shared.iterdir()) == ["trace"]
    assert snapshot(victim) == before
    assert elsewhere.exists() == (points_to != "nothing")


@pytest.mark.timeout(60)
def test_a_trace_under_a_planted_parent_symlink_stays_private(program, tmp_path):
    """Someone plants a symlink where the trace path's parent would be, to a directory
    that everyone can write and read. The path resolves through it as any path does,
    but what lands there is the owner's alone: the trace is a 0700 directory of 0600
    files, and nothing else (no staging, no moved-aside trace) is left beside it."""
    prog = program(WORK)
    open_dir = tmp_path / "world-writable"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "traces").symlink_to(open_dir)
    pair = run_both(prog, tmp_path / "shared" / "traces" / "run")
    assert_same_behaviour(pair)
    assert_complete(pair.trace_dir, main=prog.path)
    assert [p.name for p in open_dir.iterdir()] == ["run"]
    trace = open_dir / "run"
    assert mode(trace) == 0o700
    assert {oct(mode(f)) for f in trace.iterdir()} == {oct(0o600)}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("points_to", ["an existing file", "nothing"])
def test_a_symlink_planted_at_the_log_file_is_not_followed_and_the_log_goes_to_stderr(
    program, tmp_path, points_to
):
    """Someone plants a symlink at the log file's path, to a file of the victim's or to
    one they want created. The recorder opens the log with O_NOFOLLOW: the link and its
    target are untouched (nothing is created there), the log falls back to stderr with
    an ERR_IO warning naming the path, and the program and its trace are unaffected."""
    prog = program(WORK)
    victim = tmp_path / "victim"
    victim.mkdir()
    target = victim / "profile"
    if points_to == "an existing file":
        target.write_text("export PATH=/usr/bin\n")
        target.chmod(0o644)
    before = snapshot(victim)
    link = tmp_path / "recorder.log"
    link.symlink_to(target)
    pair = run_both(
        prog,
        tmp_path / "trace",
        options=["--codetracer-log-file", str(link), "--codetracer-log-level", "info"],
    )
    assert_same_behaviour(pair)
    assert_complete(pair.trace_dir, main=prog.path)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert snapshot(victim) == before, "the target was neither written nor created"
    warnings = [
        json.loads(line)
        for line in pair.recorded.stderr.splitlines()
        if line.startswith("{") and '"ERR_IO"' in line
    ]
    assert [(w["level"], w["context"]["path"]) for w in warnings] == [("warn", str(link))]
    assert recorder_codes(pair.recorded.stderr) == ["ERR_IO"], pair.recorded
    assert "recording stopped" in pair.recorded.stderr, "every later record is on stderr"


SECRETS_PROGRAM = """
    import json
    from pathlib import Path

    class Client:
        def __init__(self, name, api_key):
            self.name = name
            self.api_key = api_key

    def login(user, password, *, token=None, **extra):
        session_token = token
        return len(password) + len(session_token) + len(extra)

    def connect(client, headers):
        return client.name, len(headers)

    config = json.loads(Path(__file__).with_name("secrets.json").read_text())
    password = config["db"]["password"]
    client = Client("svc", config["api_key"])
    headers = {"Authorization": "Bearer " + config["auth_token"], "Accept": "json"}
    token = config["auth_token"]
    print("login", login("app", password, token=token, client_secret=config["secret"]))
    print("connect", connect(client, headers))

    def work(count):  # events for three batches of the trace writer
        total = 0
        for i in range(count):
            total += i * i
        return total

    print(work(10_000))
"""


@pytest.mark.timeout(120)
def test_planted_secrets_appear_in_no_output_of_the_recorder(program, tmp_path):
    """A program holds unique planted secrets in a local, an argument, a keyword-only
    argument, ``**kwargs``, an attribute and (nested) dict keys named password, api_key,
    token, secret, Authorization; the OTLP exporters send a planted bearer token
    (``OTEL_EXPORTER_OTLP_HEADERS``, where the README says credentials go). The
    recording runs with everything that writes: a debug log in a file, JSON error
    trailers, spans, logs and metrics to a real Collector (metrics to a dead endpoint, so
    an export failure is reported too) and an injected write failure that keeps a
    partial trace. No planted string is in the program's stdout or stderr, the log, the
    trailers, the trace files, or anything the Collector received or logged."""
    secrets = {
        name: f"planted-{name}-{uuid.uuid4().hex}"
        for name in ("db_password", "api_key", "auth_token", "secret", "bearer")
    }
    (tmp_path / "secrets.json").write_text(
        json.dumps(
            {
                "db": {"user": "app", "password": secrets["db_password"]},
                "api_key": secrets["api_key"],
                "auth_token": secrets["auth_token"],
                "secret": secrets["secret"],
            }
        )
    )
    prog = program(SECRETS_PROGRAM)
    log_file = tmp_path / "recorder.log"
    out = tmp_path / "collector-out"
    out.mkdir()
    collector = Collector(out)
    try:
        options = [
            *("--traces_exporter", "otlp", "--logs_exporter", "otlp"),
            *("--metrics_exporter", "otlp", "--exporter_otlp_protocol", "http/protobuf"),
            *("--exporter_otlp_endpoint", collector.endpoint("http/protobuf")),
            *("--otel_flush_timeout", "2", "--codetracer-log-level", "debug"),
            *("--codetracer-log-file", str(log_file), "--codetracer-json-errors"),
            *KEEP_PARTIAL,
        ]
        env = {
            # The third batch fails: the first two, with the secrets' values, are on disk.
            "CODETRACER_TEST_INJECT": "io:writer@3",
            "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {secrets['bearer']}",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"http://127.0.0.1:{free_port()}/v1/metrics",
        }
        pair = run_both(prog, tmp_path / "trace", options=options, env=env)
        assert_same_behaviour(pair)
        assert_partial(pair.trace_dir, "ERR_IO")
        collector.wait_until(
            "the recording span and the write failure's log record",
            lambda: (
                True
                if any(s["name"] == "codetracer.recording" for s in collector.spans())
                and any(r.attrs.get("error.type") == "ERR_IO" for r in collector.log_records())
                else None
            ),
        )
    finally:
        collector.stop()

    log_text = log_file.read_text()
    assert {"ERR_IO", "ERR_OTEL_EXPORT"} <= set(recorder_codes(log_text)), log_text
    trailers = [
        json.loads(line)
        for line in pair.recorded.stderr.splitlines()
        if line.startswith('{"run_id"')
    ]
    assert [t["error_code"] for t in trailers] == ["ERR_IO"], pair.recorded
    trace_text = (pair.trace_dir / "trace.json").read_text()
    assert '"<redacted>"' in trace_text

    outputs = {
        "stdout": pair.recorded.out,
        "stderr": pair.recorded.err,
        **{
            str(p.relative_to(tmp_path)): p.read_bytes()
            for p in sorted(tmp_path.rglob("*"))
            if p.is_file() and p.name != "secrets.json"
        },
    }
    assert {
        "recorder.log",
        "trace/trace.json",
        "trace/trace_metadata.json",
        "trace/trace_paths.json",
        "collector-out/traces.jsonl",
        "collector-out/logs.jsonl",
        "collector-out/collector.log",
    } <= outputs.keys()
    leaks = {
        where: [name for name, value in secrets.items() if value.encode() in data]
        for where, data in outputs.items()
    }
    assert {where: names for where, names in leaks.items() if names} == {}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
@pytest.mark.parametrize(
    "header", ["authorization: Bearer {}", 'authorization=Bearer "{}"'], ids=["colon", "quotes"]
)
def test_a_malformed_otlp_credential_header_is_reported_without_its_value(
    program, tmp_path, protocol, header
):
    """A credential in ``OTEL_EXPORTER_OTLP_HEADERS`` that the exporters cannot parse (a
    colon for ``=``, quotes around the value: easy slips) is ignored by them; the
    recorder says so in its one ERR_OTEL_EXPORT warning, without the header's text (the
    README: credentials are never logged). The credential appears nowhere, the program's
    stderr is its own, and the trace is complete."""
    planted = f"planted-{uuid.uuid4().hex}"
    prog = program(WORK)
    log_file = tmp_path / "recorder.log"
    options = [
        *("--traces_exporter", "otlp", "--logs_exporter", "otlp", "--metrics_exporter", "otlp"),
        *("--exporter_otlp_protocol", protocol, "--otel_flush_timeout", "1"),
        *("--exporter_otlp_endpoint", f"http://127.0.0.1:{free_port()}"),
        *("--codetracer-log-file", str(log_file)),
    ]
    env = {"OTEL_EXPORTER_OTLP_HEADERS": header.format(planted)}
    pair = run_both(prog, tmp_path / "trace", options=options, env=env)
    assert_same_behaviour(pair)
    assert_complete(pair.trace_dir, main=prog.path)
    log_text = log_file.read_text()
    (warning,) = [json.loads(line) for line in log_text.splitlines()]
    assert warning["error_code"] == "ERR_OTEL_EXPORT"
    assert "header" in warning["message"].lower()
    outputs = {
        "stdout": pair.recorded.out,
        "stderr": pair.recorded.err,
        **{
            str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
        },
    }
    assert [where for where, data in outputs.items() if planted.encode() in data] == []
