"""How a reliability case runs, and what must hold after it.

Each case runs a program twice in child processes, as a user would: plain
(``python prog.py``) and recorded (``python -m codetracer_recorder ... prog.py``, or the
library API). Then three promises are checked:

- the program behaves the same: stdout and exit status equal, stderr equal once the
  recorder's own lines are taken out (:func:`program_stderr`);
- the trace is what the policy says: complete (:func:`assert_complete`), partial with
  the reason's code (:func:`assert_partial`), or absent with the code logged
  (:func:`assert_absent`);
- the process ended within a bound (:data:`BOUND`; a case that hangs fails with
  ``subprocess.TimeoutExpired`` instead of hanging the suite).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tracekit import Program, Run, Trace, child_env, load_trace, looks_like_a_trace

BOUND = 60.0
"""Seconds any one child process may take, recorded or not."""

_RECORDER_LINE = re.compile(
    r'^codetracer-recorder: |^\{.*"target": ?"codetracer_recorder(?:[.:][^"]*)?"|^\{"run_id":'
)
"""The recorder's own stderr lines: one-line errors and warnings, JSON log records (of
any of its targets) and JSON error trailers."""


def program_stderr(stderr: str) -> str:
    """``stderr`` without the recorder's own lines: what the program itself wrote."""
    return "".join(
        line for line in stderr.splitlines(keepends=True) if not _RECORDER_LINE.match(line)
    )


def recorder_codes(stderr: str) -> list[str]:
    """Every ``ERR_*`` code the recorder reported on ``stderr``, as one-line errors or in
    JSON log records, in order."""
    codes = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("error_code"), str):
                codes.append(record["error_code"])
        elif m := re.match(r"^codetracer-recorder: \w+: \[(ERR_[A-Z0-9_]+)\]", line):
            codes.append(m.group(1))
    return codes


# ---------------------------------------------------------------------------------------
# Running


def recorder_argv(
    program: Program, trace_dir: Path, *, via: str = "cli", options: Sequence[str] = ()
) -> list[str]:
    """The argv (after ``python``) that records ``program`` into ``trace_dir``: the CLI
    with ``options`` (flags), or, for ``via="api"``, a driver that calls ``start``/``stop``
    around ``runpy.run_path`` (``options`` are then ``key=value`` keyword arguments of
    ``start``, values parsed as JSON)."""
    if via == "cli":
        return [
            "-m",
            "codetracer_recorder",
            "--trace-dir",
            str(trace_dir),
            *options,
            str(program.path),
        ]
    assert via == "api", via
    kwargs = {k: json.loads(v) for k, v in (o.split("=", 1) for o in options)}
    return ["-c", _API_DRIVER, str(trace_dir), json.dumps(kwargs), str(program.path)]


# `python -c` code is never recorded, so the trace holds the program only. An uncaught
# exception prints Python's traceback from the program's own frames (the driver's and
# runpy's left out) and ends the process as Python would: status 1, or death by SIGINT
# for KeyboardInterrupt. SystemExit passes through unchanged.
_API_DRIVER = """\
import json, os, runpy, signal, sys, traceback
import codetracer_recorder
trace_dir, kwargs, script = sys.argv[1], json.loads(sys.argv[2]), os.path.abspath(sys.argv[3])
sys.argv = [script]
sys.path[0] = os.path.dirname(script)
try:
    with codetracer_recorder.trace(trace_dir, **kwargs):
        runpy.run_path(script, run_name="__main__")
except SystemExit:
    raise
except BaseException as exc:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)
    sys.stderr.flush()
    if isinstance(exc, KeyboardInterrupt):
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    sys.exit(1)
"""


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    timeout: float = BOUND,
    preexec_fn: Callable[[], None] | None = None,
) -> Run:
    """``python argv...`` to the end, within ``timeout`` seconds (else TimeoutExpired)."""
    full = [sys.executable, *map(str, argv)]
    proc = subprocess.run(
        full,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=child_env(env),
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )
    return Run(full, proc.returncode, proc.stdout, proc.stderr, None)


def run_until_then_signal(
    argv: Sequence[str],
    *,
    cwd: Path,
    marker: bytes,
    signum: int,
    env: Mapping[str, str] | None = None,
    timeout: float = BOUND,
) -> Run:
    """``python argv...``; once its stdout has shown ``marker``, send it ``signum``; then
    wait for it to end (within ``timeout`` seconds in all)."""
    full = [sys.executable, *map(str, argv)]
    proc = subprocess.Popen(
        full,
        cwd=cwd,
        env=child_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    try:
        assert proc.stdout is not None
        seen = b""
        while marker not in seen:
            chunk = proc.stdout.read1(4096)  # type: ignore[attr-defined]
            if not chunk:
                break
            seen += chunk
        if marker in seen:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return Run(full, proc.returncode, seen + out, err, None)


def run_measuring_peak_rss(command: Sequence[str], *, cwd: Path) -> tuple[Run, int]:
    """``command`` to its end (within :data:`BOUND` seconds), and its peak RSS (KiB), as
    GNU time reports it. Not ``os.wait4`` on a child of pytest: a child's peak includes
    the pytest image it was forked from, before it ran ``exec``."""
    rss_path = cwd / ".measured.rss"
    run_ = run(["-c", _TIMED, str(rss_path), *command], cwd=cwd)
    peak_kb = int(rss_path.read_text().split()[-1])
    rss_path.unlink()
    return run_, peak_kb


# GNU time, run from a small Python (not forked from pytest), runs the command.
_TIMED = """\
import os, sys
os.execv("/usr/bin/time", ["time", "-f", "%M", "-o", sys.argv[1], *sys.argv[2:]])
"""


@dataclass
class Pair:
    """The same program run plain and recorded; the recorded run's trace directory."""

    plain: Run
    recorded: Run
    trace_dir: Path


def run_both(
    program: Program,
    trace_dir: Path,
    *,
    via: str = "cli",
    options: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    timeout: float = BOUND,
    preexec_fn: Callable[[], None] | None = None,
) -> Pair:
    """Run ``program`` plain, then recorded into ``trace_dir`` (see :func:`recorder_argv`),
    each from the program's directory and within ``timeout`` seconds."""
    cwd = program.path.parent
    common = {"cwd": cwd, "env": env, "stdin": stdin, "timeout": timeout, "preexec_fn": preexec_fn}
    plain = run([program.path], **common)
    recorded = run(recorder_argv(program, trace_dir, via=via, options=options), **common)
    return Pair(plain, recorded, trace_dir)


# ---------------------------------------------------------------------------------------
# Promises


def assert_same_behaviour(pair: Pair, *, stdout_sorted: bool = False) -> None:
    """The recorded run's stdout, exit status and (program's) stderr equal the plain run's.
    ``stdout_sorted`` compares stdout lines as multisets, for programs whose threads or
    processes print in an order no run can promise."""
    plain, recorded = pair.plain, pair.recorded
    assert recorded.returncode == plain.returncode, (plain, recorded)
    if stdout_sorted:
        assert sorted(recorded.stdout.splitlines()) == sorted(plain.stdout.splitlines()), (
            plain,
            recorded,
        )
    else:
        assert recorded.stdout == plain.stdout, (plain, recorded)
    assert program_stderr(recorded.stderr) == program_stderr(plain.stderr), (plain, recorded)


def assert_complete(trace_dir: Path, main: Path | None = None) -> Trace:
    """A complete trace is at ``trace_dir``: it loads, validates, and is not partial."""
    metadata = json.loads((trace_dir / "trace_metadata.json").read_text(encoding="utf-8"))
    assert metadata.get("partial") is False, metadata
    return load_trace(trace_dir, main=main)


def assert_partial(trace_dir: Path, code: str) -> dict:
    """A trace marked partial is at ``trace_dir``, its reason is ``code``; returns the
    metadata. (Its events load only when the metadata says they were closed.)"""
    metadata = json.loads((trace_dir / "trace_metadata.json").read_text(encoding="utf-8"))
    assert metadata.get("partial") is True, metadata
    assert metadata.get("reason") == code, metadata
    if metadata.get("events_closed") is not False:
        load_trace(trace_dir)
    return metadata


def assert_absent(where: Path, stderr: str, code: str) -> None:
    """Nothing that looks like a trace is under ``where``, and ``code`` was reported."""
    assert looks_like_a_trace(where) == [], looks_like_a_trace(where)
    assert code in recorder_codes(stderr), stderr


def signal_status(signum: int) -> int:
    """The return code :mod:`subprocess` gives a child killed by ``signum``."""
    return -int(signum)


# ---------------------------------------------------------------------------------------
# Programs shared by cases


RSS_BOUND_MB = 150
"""Peak RSS allowed for a recording of any length: benchmarks/README.md measured at most
85 MB; a recorder that kept a run's events in memory would need gigabytes."""


def escape_times(side: int) -> str:
    """A numeric program (Mandelbrot escape times over a ``side`` × ``side`` grid): many
    line events with float locals and few calls, the recorder's most writer-bound load."""
    return f"""
    def escape_time(cr, ci, limit):
        zr = 0.0
        zi = 0.0
        n = 0
        while n < limit:
            zr2 = zr * zr
            zi2 = zi * zi
            if zr2 + zi2 > 4.0:
                break
            zi = 2.0 * zr * zi + ci
            zr = zr2 - zi2 + cr
            n += 1
        return n

    side = {side}
    total = 0
    for row in range(side):
        ci = -1.2 + 2.4 * row / side
        for column in range(side):
            cr = -2.0 + 2.6 * column / side
            total += escape_time(cr, ci, 60)
    print(total)
"""
