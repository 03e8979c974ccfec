"""Fixtures: a clean environment, program files, and recorders (CLI, API, both formats)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from tracekit import Program, Recorder, write_program

import codetracer_recorder
from codetracer_recorder import _native

# Property tests: no example database left in the tree, no timing-based failures (the
# recorder's speed is measured by the benchmark, never by a test).
settings.register_profile("recorder", database=None, deadline=None, max_examples=200)
settings.load_profile("recorder")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorder and OpenTelemetry settings of the developer's shell do not leak in."""
    for name in list(os.environ):
        if name.startswith(("CODETRACER_", "OTEL_")):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _default_policy() -> Iterator[None]:
    """Each test starts from the built-in policy (the package applied the developer's
    CODETRACER_* variables when it was imported), and leaves none of its changes behind."""
    _native.reset_policy()
    yield
    _native.reset_policy()


@pytest.fixture(autouse=True)
def _no_session_left_behind() -> Iterator[None]:
    """A test that leaves a session running in pytest's process fails, and the session
    is stopped and the monitoring tool id freed so the next test starts clean."""
    yield
    if codetracer_recorder.is_tracing():
        codetracer_recorder.stop()
        if sys.monitoring.get_tool(_native.TOOL_ID) is not None:
            sys.monitoring.free_tool_id(_native.TOOL_ID)
        pytest.fail("the test left a recording session running")


@pytest.fixture(autouse=True)
def _every_trace_is_valid(tmp_path: Path) -> Iterator[None]:
    """Whatever a test did with them, every trace it left in its directory must load with
    the crate's reader and follow CodeTracer's rules (``trace_summary`` raises if not).
    The one exception says so itself: a partial trace whose events file was cut where
    writing failed (``events_closed: false``)."""
    yield
    for metadata in sorted(tmp_path.rglob("trace_metadata.json")):
        if json.loads(metadata.read_text(encoding="utf-8")).get("events_closed") is False:
            continue
        _native.trace_summary(str(metadata.parent))


@pytest.fixture
def program(tmp_path: Path) -> Callable[..., Program]:
    """``program(source, name="prog.py")`` writes a program file into the test's directory."""

    def make(source: str, name: str = "prog.py") -> Program:
        return write_program(tmp_path, source, name)

    return make


@pytest.fixture
def record(tmp_path: Path) -> Recorder:
    """Records a program through the CLI (``python -m codetracer_recorder``)."""
    return Recorder(tmp_path, via="cli")


@pytest.fixture(params=["cli", "api"])
def record_any(tmp_path: Path, request: pytest.FixtureRequest) -> Recorder:
    """Records a program through the CLI, then (second run) through the Python API."""
    return Recorder(tmp_path, via=request.param)


@pytest.fixture(params=["json", "binary"])
def trace_format(request: pytest.FixtureRequest) -> str:
    """Each trace format the recorder writes."""
    return str(request.param)
