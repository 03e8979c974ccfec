"""The recorder's structured log, from Python: records in the Rust logger's stream.

Python-side recorder messages go through :func:`log`, so they share the destination, the
level filter and the fields of the core's records (``src/logging/``): one JSON object per
line, on stderr or the policy's ``log_file``, with ``ts``, ``level``, ``target``,
``run_id``, ``trace_id`` (while a session is active), ``message``, ``error_code`` and
``error_kind`` (when one applies), ``context`` (for an error's details), ``file`` and
``line``. Named ``recorder_log`` so that it never shadows the standard ``logging``.
"""

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, TypedDict

from codetracer_recorder import _native
from codetracer_recorder.errors import UsageError

__all__ = [
    "Level",
    "LogRecordDict",
    "log",
    "run_id",
    "set_active_trace_id",
    "set_log_listener",
    "with_error_code",
]

Level = Literal["error", "warn", "info", "debug", "trace"]

TARGET = "codetracer_recorder"
"""The target of the recorder's own records (filter them with ``codetracer_recorder=debug``)."""


class LogRecordDict(TypedDict):
    """What a log listener receives: the keys of the JSON line; absent fields are None."""

    ts: str
    """UTC, RFC 3339 with microseconds (``2026-11-26T09:38:35.123456Z``)."""
    level: Level
    target: str
    run_id: str
    """One UUID per process (a forked child gets its own)."""
    trace_id: str | None
    """The active session's id (32 hex characters), None outside a session."""
    message: str
    error_code: str | None
    """The ``ERR_*`` code: the record's own, or the innermost :func:`with_error_code`'s."""
    error_kind: str | None
    context: dict[str, str]
    file: str
    line: int


def log(
    level: Level,
    message: str,
    *,
    error_code: str | None = None,
    target: str = TARGET,
    stacklevel: int = 1,
) -> None:
    """Write one record if ``level`` is enabled for ``target``; ``file`` and ``line`` are
    the caller's (``stacklevel`` frames up). Raises ``UsageError`` for an unknown level or
    code. Never writes to stdout."""
    if not _native.log_enabled(level, target):
        return
    frame = sys._getframe(stacklevel)
    _native.log(
        level,
        message,
        error_code=error_code,
        target=target,
        file=frame.f_code.co_filename,
        line=frame.f_lineno,
    )


@contextlib.contextmanager
def with_error_code(code: str) -> Iterator[None]:
    """Every record written inside (on this thread, from Python or from the core) that
    names no code of its own carries ``code``. Scopes nest; the innermost wins.

    >>> with with_error_code("ERR_IO"):
    ...     log("warn", "cannot rotate the log")       # carries error_code ERR_IO
    """
    _native.push_error_code(code)
    try:
        yield
    finally:
        _native.pop_error_code()


def set_active_trace_id(trace_id: str | None) -> None:
    """The records that follow carry ``trace_id`` (None: none). ``start`` and ``stop`` set
    and clear it; call this only to attribute records to a session of your own."""
    _native.set_active_trace_id(trace_id)


def run_id() -> str:
    """This process's run id (a UUID; a forked child gets a new one)."""
    return _native.run_id()


def set_log_listener(listener: Callable[[Mapping[str, Any]], None] | None) -> None:
    """Hand each record that is written to ``listener`` as a :class:`LogRecordDict`
    (None removes it). It runs on the thread that wrote the record, with the GIL held,
    off the per-event path (records are written on failures, detaches, session start and
    stop). A record the listener writes is not passed back to it, and an exception it
    raises becomes a warning record, never an exception in the program."""
    _native.set_log_listener(listener)


def warn_if_environment_filter_is_invalid() -> None:
    """At import: a ``CODETRACER_LOG_LEVEL`` the logger cannot read is a warning
    (``ERR_INVALID_POLICY_VALUE``) and the default filter (``warn``) stays. ``start`` and
    the CLI still raise it as the ``UsageError`` of a bad policy variable."""
    text = os.environ.get("CODETRACER_LOG_LEVEL", "")
    if not text.strip():
        return
    try:
        _native.parse_policy_value("log_level", text, "CODETRACER_LOG_LEVEL")
    except UsageError as error:
        log(
            "warn",
            f"{str(error).removeprefix('[ERR_INVALID_POLICY_VALUE] ')}; the log filter stays the default (warn)",
            error_code="ERR_INVALID_POLICY_VALUE",
        )
