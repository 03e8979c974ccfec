"""Damaged trace directories given to every tool of ours that reads one:
``python -m codetracer_recorder.summary DIR``, ``_native.trace_summary(DIR)`` (the checker
behind it and behind every test) and ``_native.trace_events_json(DIR)`` (the raw event
loader). Each damage is refused clearly: ``UsageError`` ``ERR_TRACE_INVALID``, and for
the summary command exit status 2 with one line
``python -m codetracer_recorder.summary: error: DIR: [ERR_TRACE_INVALID] ...``. Never a
Python traceback, never a Rust panic (or its message on stderr), never a hang. A damaged
byte the reader does not use may go unnoticed, but then it reads the very same trace: a
damaged trace is never read as a different one.

The readers run in a child process (a hang inside the Rust reader could not be
interrupted in pytest's own), one process for a whole batch of damaged copies, each copy
within :data:`CASE_BOUND` seconds; the process is restarted after a copy that hangs."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import BOUND, run
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from tracekit import child_env, write_program

CASE_BOUND = 2.0
"""Seconds the three readers together may take on one damaged copy of the small trace
below (they take milliseconds)."""

SUMMARY_ERROR = r"^python -m codetracer_recorder\.summary: error: .*: \[ERR_TRACE_INVALID\] \S"

PROGRAM = """
    def square(x):
        return x * x

    total = sum(square(i) for i in range(3))
    print(total)
"""

# Runs the three readers on each directory named on stdin ("index<TAB>path" lines) and
# prints one JSON line per directory. What reaches file descriptor 2 (a Rust panic's
# message) goes to a file per directory, so each copy's stray output is its own.
READ_DRIVER = """\
import contextlib, hashlib, io, json, os, sys
from codetracer_recorder import _native, summary
from codetracer_recorder.errors import RecorderError

def attempt(call):
    try:
        return ["ok", call()]
    except RecorderError as error:
        return [type(error).__name__, error.code]
    except BaseException as error:
        return ["raised " + type(error).__name__, str(error)]

logs = sys.argv[1]
sys.stdin.reconfigure(errors="surrogateescape")
for line in sys.stdin:
    index, directory = line.rstrip("\\n").split("\\t", 1)
    fd = os.open(os.path.join(logs, index), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 2)
    os.close(fd)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = attempt(lambda: summary.main([directory]))
    events = attempt(lambda: hashlib.sha256(_native.trace_events_json(directory).encode()).hexdigest())
    print(json.dumps({
        "summary": attempt(lambda: _native.trace_summary(directory)),
        "events": events,
        "cli": [status, out.getvalue(), err.getvalue()],
    }), flush=True)
"""


def _pump(stream, into: queue.Queue[str]) -> None:
    """Every line of ``stream`` into the queue, until it ends."""
    for line in stream:
        into.put(line)


def _read(directories: list[Path], scratch: Path) -> list[dict]:
    """What the readers make of each directory; ``{"hang": True}`` for one whose reading
    took longer than :data:`CASE_BOUND` (the reading process is then restarted after it).
    Each outcome has ``stray``: what reached stderr outside the summary command's own
    error line."""
    logs = scratch / "stderr"
    logs.mkdir(exist_ok=True)
    outcomes: list[dict] = []
    while len(outcomes) < len(directories):
        start = len(outcomes)
        proc = subprocess.Popen(
            [sys.executable, "-c", READ_DRIVER, str(logs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
            encoding="utf-8",
            errors="surrogateescape",
        )
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(proc.stdout, lines))
        reader.start()
        assert proc.stdin is not None
        proc.stdin.write("".join(f"{i}\t{d}\n" for i, d in enumerate(directories) if i >= start))
        proc.stdin.close()
        for index in range(start, len(directories)):
            try:
                outcome = json.loads(lines.get(timeout=CASE_BOUND))
            except queue.Empty:
                outcomes.append({"hang": True})
                proc.kill()
                break
            outcome["stray"] = (logs / str(index)).read_text(errors="replace")
            outcomes.append(outcome)
        proc.wait(timeout=BOUND)
        reader.join()
        proc.stdout.close()
    return outcomes


def _refused(outcome: dict) -> bool:
    """Every reader refused the copy cleanly (see the module docstring); the event loader,
    which checks no rules, may also load what it can parse."""
    status, out, err = outcome["cli"]
    return (
        outcome["summary"] == ["UsageError", "ERR_TRACE_INVALID"]
        and (outcome["events"][0] == "ok" or outcome["events"] == outcome["summary"])
        and status == ["ok", 2]
        and out == ""
        and len(err.splitlines()) == 1
        and re.match(SUMMARY_ERROR, err) is not None
        and outcome["stray"] == ""
    )


def _same_as(original: dict) -> Callable[[dict], bool]:
    """Whether an outcome is the original trace read again, unchanged."""

    def counts(outcome: dict) -> object:
        summary = outcome["summary"]
        return summary if summary[0] != "ok" else {**summary[1], "bytes": None}

    def same(outcome: dict) -> bool:
        return (
            counts(outcome) == counts(original)
            and outcome["events"] == original["events"]
            and outcome["cli"][0] == ["ok", 0]
            and outcome["stray"] == ""
        )

    return same


def _described(outcome: dict) -> str:
    """One line on what went wrong with a copy."""
    if outcome.get("hang"):
        return f"no answer within {CASE_BOUND} s"
    stray = outcome["stray"].strip().splitlines()
    return (
        f"trace_summary {outcome['summary'][:2]}, events {outcome['events'][0]}, "
        f"summary command {outcome['cli'][0]} {outcome['cli'][2].strip()[-60:]!r}, "
        f"stderr {stray[:2]}"
    )


def _assert_all(labels: list[str], outcomes: list[dict], accepted: Callable[[dict], bool]):
    wrong = [
        f"{label}: {_described(outcome)}"
        for label, outcome in zip(labels, outcomes, strict=True)
        if outcome.get("hang") or not accepted(outcome)
    ]
    assert wrong == [], f"{len(wrong)} of {len(labels)} damaged copies:\n" + "\n".join(wrong)


def _assert_refused_or_unchanged(labels: list[str], outcomes: list[dict], original: dict):
    same = _same_as(original)
    _assert_all(labels, outcomes, lambda outcome: _refused(outcome) or same(outcome))


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, Path]:
    """A small program recorded once in each format: the traces the tests damage."""
    workdir = tmp_path_factory.mktemp("originals")
    prog = write_program(workdir, PROGRAM)
    made = {}
    for trace_format in ("json", "binary"):
        trace_dir = workdir / trace_format
        result = run(
            [
                "-m",
                "codetracer_recorder",
                "--trace-dir",
                trace_dir,
                "--format",
                trace_format,
                prog.path,
            ],
            cwd=workdir,
        )
        assert result.returncode == 0, result
        made[trace_format] = trace_dir
    return made


@pytest.fixture(scope="module")
def originals(traces, tmp_path_factory) -> dict[str, dict]:
    """What the readers make of the undamaged traces: accepted, nothing on stderr."""
    read = _read(list(traces.values()), tmp_path_factory.mktemp("read-originals"))
    for outcome in read:
        assert outcome["summary"][0] == "ok" and outcome["cli"][0] == ["ok", 0], outcome
        assert outcome["stray"] == "", outcome
    return dict(zip(traces, read, strict=True))


def _damaged_copies(
    original: Path, where: Path, file: str, damages: list[Callable[[bytes], bytes]]
) -> list[Path]:
    """One copy of the trace ``original`` per damage, with ``file`` rewritten by it."""
    data = (original / file).read_bytes()
    copies = []
    for i, damage in enumerate(damages):
        copy = where / f"copy-{i}"
        shutil.copytree(original, copy)
        (copy / file).write_bytes(damage(data))
        copies.append(copy)
    return copies


@pytest.mark.timeout(240)
@settings(max_examples=6, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(data=st.data())
def test_trace_json_cut_anywhere_is_refused(traces, originals, tmp_path_factory, data):
    """``trace.json`` cut at any offset (up to 60 offsets per example): every reader
    refuses the copy, or reads the original trace (a cut after the closing bracket)."""
    size = (traces["json"] / "trace.json").stat().st_size
    cuts = data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=60, unique=True))
    where = tmp_path_factory.mktemp("json-cuts")
    copies = _damaged_copies(
        traces["json"], where, "trace.json", [lambda b, n=n: b[:n] for n in cuts]
    )
    outcomes = _read(copies, where)
    _assert_refused_or_unchanged([f"cut at {n}" for n in cuts], outcomes, originals["json"])


@pytest.mark.timeout(240)
def test_trace_bin_cut_at_every_offset_is_refused(traces, originals, tmp_path_factory):
    """``trace.bin`` (header, zstd frames, seek table) cut at each of its offsets: every
    reader refuses the copy, within the bound, without a panic."""
    where = tmp_path_factory.mktemp("bin-cuts")
    size = (traces["binary"] / "trace.bin").stat().st_size
    copies = _damaged_copies(
        traces["binary"], where, "trace.bin", [lambda b, n=n: b[:n] for n in range(size)]
    )
    outcomes = _read(copies, where)
    _assert_refused_or_unchanged(
        [f"cut at {n}" for n in range(size)], outcomes, originals["binary"]
    )


def _flip(n: int) -> Callable[[bytes], bytes]:
    return lambda b: b[:n] + bytes([b[n] ^ 0xFF]) + b[n + 1 :]


@pytest.mark.timeout(240)
def test_trace_bin_with_any_byte_flipped_is_refused_or_read_unchanged(
    traces, originals, tmp_path_factory
):
    """``trace.bin`` with one byte inverted, for each of its bytes: every reader refuses
    the copy (``ERR_TRACE_INVALID``, no panic message, within the bound), or the byte is
    one the reader does not use and it reads the original events; never other events."""
    where = tmp_path_factory.mktemp("bin-flips")
    size = (traces["binary"] / "trace.bin").stat().st_size
    copies = _damaged_copies(traces["binary"], where, "trace.bin", [_flip(n) for n in range(size)])
    outcomes = _read(copies, where)
    _assert_refused_or_unchanged(
        [f"byte {n} flipped" for n in range(size)], outcomes, originals["binary"]
    )


def _events_json(events: list) -> bytes:
    return ("[\n" + ",\n".join(json.dumps(e) for e in events) + "\n]\n").encode()


def _reordered(change: Callable[[list], list]) -> Callable[[bytes], bytes]:
    """A damage that rewrites the event list of ``trace.json`` (still valid JSON)."""
    return lambda data: _events_json(change(json.loads(data)))


def _first(kind: str) -> Callable[[list], int]:
    return lambda events: next(i for i, e in enumerate(events) if isinstance(e, dict) and kind in e)


def _calls(events: list) -> list[int]:
    """Where the Call events are (the first is the top-level one)."""
    return [i for i, e in enumerate(events) if isinstance(e, dict) and "Call" in e]


EVENT_DAMAGES: dict[str, Callable[[bytes], bytes]] = {
    "garbage": lambda _: bytes(range(256)) * 4,
    "empty": lambda _: b"",
    "invalid UTF-8 in a string": lambda b: b.replace(b"prog.py", b"prog\xff.py", 1),
    "not an array": lambda _: b'{"Path": "/p.py"}',
    "nested 100,000 deep": lambda _: b"[" * 100_000 + b"]" * 100_000,
    "an unknown event": lambda b: b.replace(b"[\n", b'[\n{"Teleport": {}},\n', 1),
    "a huge id": lambda b: b.replace(b'"function_id":0', b'"function_id":18446744073709551615', 1),
    "no top-level Return": _reordered(lambda e: e[:-1]),
    "an event after the top-level Return": _reordered(lambda e: [*e, e[_first("Step")(e)]]),
    "a Return too many": _reordered(lambda e: [*e[:-1], e[-1], e[-1]]),
    "a Call without its Step": _reordered(
        lambda e: [x for i, x in enumerate(e) if i != _calls(e)[1] - 1]
    ),
    "a value of a type not yet interned": _reordered(
        lambda e: [x for x in e if not (isinstance(x, dict) and "Type" in x)]
    ),
    "a step in a path not yet interned": _reordered(
        lambda e: [x for x in e if not (isinstance(x, dict) and "Path" in x)]
    ),
}


@pytest.mark.timeout(120)
def test_trace_json_that_is_garbage_or_breaks_the_rules_is_refused(traces, tmp_path_factory):
    """``trace.json`` replaced by garbage bytes, emptied, made invalid UTF-8, not an
    array, nested 100,000 deep, or valid JSON that breaks CodeTracer's rules (an unknown
    event, an id out of range, no final Return, an event after it, a Call without its
    Step, a type or a path used before it is interned): every reader refuses it."""
    where = tmp_path_factory.mktemp("json-damages")
    copies = _damaged_copies(traces["json"], where, "trace.json", list(EVENT_DAMAGES.values()))
    outcomes = _read(copies, where)
    _assert_all(list(EVENT_DAMAGES), outcomes, _refused)


def _replace(name: str, content: bytes | None) -> Callable[[Path], None]:
    """A damage of the directory: ``name`` removed (``None``) or rewritten."""

    def damage(directory: Path) -> None:
        (directory / name).unlink()
        if content is not None:
            (directory / name).write_bytes(content)

    return damage


def _make_dir(name: str) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        (directory / name).unlink()
        (directory / name).mkdir()

    return damage


def _loop(name: str) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        (directory / name).unlink()
        (directory / name).symlink_to(name)

    return damage


def _emptied(directory: Path) -> None:
    for entry in directory.iterdir():
        entry.unlink()


DIRECTORY_DAMAGES: dict[str, Callable[[Path], None]] = {
    "an empty directory": _emptied,
    "no trace_metadata.json": _replace("trace_metadata.json", None),
    "trace_metadata.json not JSON": _replace("trace_metadata.json", b"{not json"),
    "trace_metadata.json empty": _replace("trace_metadata.json", b""),
    "trace_metadata.json of the wrong types": _replace(
        "trace_metadata.json", b'{"workdir": 3, "program": [], "args": {"a": 1}}'
    ),
    "trace_metadata.json null": _replace("trace_metadata.json", b"null"),
    "trace_metadata.json invalid UTF-8": _replace("trace_metadata.json", b'{"program": "\xff"}'),
    "trace_metadata.json a directory": _make_dir("trace_metadata.json"),
    "no trace_paths.json": _replace("trace_paths.json", None),
    "trace_paths.json not a list": _replace("trace_paths.json", b'{"0": "/p.py"}'),
    "trace_paths.json one path too many": _replace("trace_paths.json", b'["/a.py", "/b.py"]'),
    "trace_paths.json of numbers": _replace("trace_paths.json", b"[1]"),
    "trace_paths.json a symlink to itself": _loop("trace_paths.json"),
    "no events file": _replace("trace.json", None),
    "trace.json a directory": _make_dir("trace.json"),
    "trace.json a symlink to itself": _loop("trace.json"),
    "trace.bin next to a missing trace.json": lambda d: (
        _replace("trace.json", None)(d),
        (d / "trace.bin").write_bytes(b"\xc0\xde\x72\xac\xe2\x01\x00\x00"),
    ),
}


@pytest.mark.timeout(120)
def test_broken_metadata_paths_or_files_are_refused(traces, tmp_path_factory):
    """A trace directory emptied, or with ``trace_metadata.json`` or ``trace_paths.json``
    missing, not JSON, of the wrong shape, invalid UTF-8, a directory or a symlink loop,
    or with its events file missing, a directory or a loop: every reader refuses it. The
    summary command, given them all at once, says so in one line each and exits 2."""
    where = tmp_path_factory.mktemp("dir-damages")
    copies = []
    for i, damage in enumerate(DIRECTORY_DAMAGES.values()):
        copy = where / f"copy-{i}"
        shutil.copytree(traces["json"], copy)
        damage(copy)
        copies.append(copy)
    outcomes = _read(copies, where)
    _assert_all(list(DIRECTORY_DAMAGES), outcomes, _refused)
    result = run(["-m", "codetracer_recorder.summary", *copies], cwd=where, timeout=BOUND)
    assert result.returncode == 2, result
    assert result.stdout == "", result
    lines = result.stderr.splitlines()
    assert len(lines) == len(copies), result
    assert all(re.match(SUMMARY_ERROR, line) for line in lines), result


@pytest.mark.timeout(120)
def test_a_file_or_a_missing_path_given_as_the_trace_dir_is_refused(traces, tmp_path):
    """A regular file, a path that does not exist, and a path whose name is not UTF-8,
    given as the trace directory: refused in one line each, exit status 2; and a good
    trace given with them is still summarised."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a trace")
    missing = tmp_path / "missing"
    undecodable = Path(os.fsdecode(bytes(tmp_path) + b"/missing\xff"))
    outcomes = _read([a_file, missing, undecodable], tmp_path)
    _assert_all(["a file", "missing", "an undecodable name"], outcomes, _refused)
    result = run(
        ["-m", "codetracer_recorder.summary", a_file, traces["json"], missing, undecodable],
        cwd=tmp_path,
        timeout=BOUND,
    )
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 3, result
    assert all(re.match(SUMMARY_ERROR, line) for line in lines), result
    assert result.stdout.startswith(f"{traces['json']}\n"), result
    assert "  events " in result.stdout, result
