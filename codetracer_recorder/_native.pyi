"""The Rust core of the recorder (``src/``), built by maturin as ``codetracer_recorder._native``.

Everything here is private: use the public API in ``codetracer_recorder`` instead.
All functions must be called with the GIL held (they are ordinary Python calls).
"""

import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

from codetracer_recorder.policy import PolicyField, PolicySnapshot

__version__: str
"""Version of the native module; must equal the Python package's version."""

TOOL_ID: int
"""The ``sys.monitoring`` tool id the recorder registers under."""

ERROR_CODES: dict[str, str]
"""Every ``ERR_*`` code the recorder uses (the list in ``src/errors.rs``), in order, with the
``kind`` an error of that code has by default."""

POLICY_FIELDS: tuple[PolicyField, ...]
"""The policy fields of ``src/policy.rs``: name, environment variable, CLI flags, kind,
accepted values and help; the CLI and the documentation are built from it."""

FAULT_INJECTION: bool
"""True in the test build (cargo feature ``fault-injection``, ``make test``): then
``CODETRACER_TEST_INJECT=KIND:SITE[@N]`` makes a site fail at session start, see
``src/fault_injection.rs``. False in release builds, which ignore the variable."""

class RecorderError(Exception):
    """Base of every error the recorder raises. ``str(error)`` is ``"[ERR_CODE] message"``.

    Attributes are filled from the Rust ``RecorderError``:
    ``code`` (a stable ``ERR_*`` string), ``kind`` (``"usage"``, ``"environment"``,
    ``"target"`` or ``"internal"``) and ``context`` (a ``dict[str, str]``).
    """

    code: str
    kind: str
    context: dict[str, str]

class UsageError(RecorderError):
    """The caller asked for something invalid (bad path, format, option, second start)."""

class EnvironmentError(RecorderError):
    """The machine got in the way (I/O failure, tool id taken, disk full).

    The recorder's own class, not Python's builtin ``EnvironmentError`` (an alias of
    ``OSError``)."""

class TargetError(RecorderError):
    """The recorded program did something the recorder could not follow."""

class InternalError(RecorderError):
    """A bug in the recorder (including a caught Rust panic, code ``ERR_PANIC``)."""

def start_recording(
    trace_dir: str,
    *,
    format: Literal["json", "binary"],
    program: object,
    args: object,
    include: Sequence[str],
    exclude: Sequence[str],
    skip_prefixes: Sequence[str],
    never_prefixes: Sequence[str],
    capture: Literal["locals", "args", "none"],
) -> str:
    """Register the sys.monitoring callbacks and start writing a trace into a staging
    directory next to ``trace_dir``. Returns the session's ``trace_id`` (32 hex chars).

    ``include``/``exclude`` are globs matched against module names and file paths;
    ``skip_prefixes`` are path prefixes skipped unless ``include`` names them (the
    standard library); ``never_prefixes`` are never recorded (the recorder itself,
    OpenTelemetry). ``capture`` chooses what values are
    recorded: locals at every step (default), only arguments and return values, or none.
    ``program`` and ``args`` (the program's ``sys.argv``) must be str; anything else is the
    program's doing and raises ``TargetError`` (``ERR_TARGET_ARGS``). The session follows a
    copy of the current policy. A session that detached under ``disable`` and was never
    stopped is finished first.

    Raises ``UsageError`` (``ERR_ALREADY_TRACING``, ``ERR_TRACE_DIR_CONFLICT``,
    ``ERR_UNSUPPORTED_FORMAT``, ``ERR_INVALID_POLICY_VALUE``) or ``EnvironmentError``
    (``ERR_TRACER_INSTALL_CONFLICT`` when another tool holds the tool id,
    ``ERR_TRACE_DIR_CREATE_FAILED``).
    """

def stop_recording(exit_code: int | None = None) -> dict[str, Any]:
    """Stop recording, write the final top-level return (``exit_code``, or None),
    finish the files and rename the staging directory into place.

    Returns a summary: ``path`` (None when no trace was left), ``format``, ``trace_id``,
    ``events`` (all events written), ``calls``, ``steps``, ``values``, ``bytes`` (size of
    the events file), ``partial`` (the trace at ``path`` is what a failed session wrote,
    kept by ``keep_partial_trace``) and ``error`` (under ``on_recorder_error=disable``, the
    failure as a ``RecorderError`` instance, not raised; else None).

    Raises ``UsageError`` (``ERR_NOT_TRACING``) when no session is active; under
    ``abort``, the session's failure (``EnvironmentError`` ``ERR_IO`` when writing failed,
    ``InternalError`` ``ERR_PANIC`` for a caught panic, …), with ``partial_trace`` in its
    context when a partial trace was kept; with ``require_trace``, ``EnvironmentError``
    ``ERR_TRACE_MISSING`` (or ``ERR_TRACE_INCOMPLETE``) under either policy.
    """

def flush_recording() -> None:
    """Hand every buffered event to the writer and wait until it is on disk
    (in the staging directory; the trace becomes visible at stop). Under ``abort``, raises
    the session's failure; under ``disable``, a detached session has nothing to flush."""

def is_recording() -> bool:
    """True while a session is recording: False before ``start``, after ``stop``, and once
    a session detached after a failure under ``on_recorder_error=disable``."""

def active_trace_id() -> str | None:
    """The trace id of the active session, or None."""

def pause_for_fork() -> None:
    """Before ``os.fork()``: the active session's writer thread writes what is queued and
    stops, so the process forks with no thread of the recorder's; it starts again with
    the parent's next batch."""

def detach_after_fork() -> None:
    """Registered with ``os.register_at_fork(after_in_child=...)``: a forked child lets go
    of the parent's session without writing anything, and runs on unrecorded."""

def configure_policy(
    *,
    on_recorder_error: Literal["abort", "disable"] | str | None = None,
    require_trace: bool | str | None = None,
    keep_partial_trace: bool | str | None = None,
    log_level: str | None = None,
    log_file: str | os.PathLike[str] | None = None,
    json_errors: bool | str | None = None,
) -> None:
    """Update the global policy (``src/policy.rs``); ``None`` leaves a field unchanged.

    Switches take a bool or the text of the environment variables (``1``/``0``,
    ``true``/``false``, ``yes``/``no``, ``on``/``off``, any case). ``log_level`` is a level
    (``error``, ``warn``, ``info``, ``debug``, ``trace``, ``off``) or ``target=level``
    directives separated by commas; ``log_file`` a path (kept absolute). Every value is
    checked before any is applied: an unknown field or a bad value raises ``UsageError``
    (``ERR_INVALID_POLICY_VALUE``) naming the field, the value and what is accepted, and
    changes nothing. A running session keeps the policy it started with.
    """

def configure_policy_from_env() -> None:
    """Apply the ``CODETRACER_*`` policy variables that are set (an empty one counts as
    unset): ``CODETRACER_ON_RECORDER_ERROR``, ``CODETRACER_REQUIRE_TRACE``,
    ``CODETRACER_KEEP_PARTIAL_TRACE``, ``CODETRACER_JSON_ERRORS``, ``CODETRACER_LOG_LEVEL``,
    ``CODETRACER_LOG_FILE``, read as :func:`configure_policy` reads text. A bad value raises
    ``UsageError`` (``ERR_INVALID_POLICY_VALUE``) naming the variable, and changes nothing."""

def policy_snapshot() -> PolicySnapshot:
    """The current policy, every field."""

def reset_policy() -> None:
    """Back to the built-in defaults (``abort``, every switch off, no log filter or file)."""

def parse_policy_value(field: str, text: str, source: str) -> bool | str:
    """What ``text`` means for the policy field ``field``, as :func:`configure_policy`
    takes it (a bool for a switch, else a str; a ``log_file`` made absolute). Raises
    ``UsageError`` (``ERR_INVALID_POLICY_VALUE``) naming ``source`` (a CLI flag)."""

def trace_summary(trace_dir: str) -> dict[str, Any]:
    """Load a trace directory with the ``runtime_tracing`` crate's own reader, check
    CodeTracer's ordering rules (ids interned before use, a Step before each
    non-top-level Call, a balanced stack ending with the top-level Return) and return
    counts: ``format``, ``events``, ``calls``, ``returns``, ``steps``, ``values``,
    ``functions``, ``paths`` (the number of source paths), ``bytes`` (size of the events
    file), ``program``. Raises ``UsageError``
    (``ERR_TRACE_INVALID``) for a missing, corrupt or rule-breaking trace.
    """

def trace_events_json(trace_dir: str) -> str:
    """The trace's events, loaded with the crate's reader (json or binary), as one JSON
    array in the ``trace.json`` shape. For tests and tools that inspect traces."""

# ---- logging, trailers, metrics (src/logging/, src/metrics.rs) -------------------------

def log(
    level: str,
    message: str,
    *,
    error_code: str | None = None,
    target: str = "codetracer_recorder",
    file: str = "",
    line: int = 0,
) -> None:
    """Write one record into the recorder's JSON log (``src/logging/mod.rs``) if ``level``
    (``error``, ``warn``, ``info``, ``debug``, ``trace``) is enabled for ``target``. Without
    ``error_code`` the innermost :func:`push_error_code` scope's code applies. Raises
    ``UsageError`` for an unknown level or code. Use ``codetracer_recorder.recorder_log.log``."""

def log_enabled(level: str, target: str = "codetracer_recorder") -> bool:
    """Whether a record of ``level`` from ``target`` would be written (check before
    building an expensive message)."""

def push_error_code(code: str) -> None:
    """Enter a ``with_error_code`` scope on this thread (``src/logging/scope.rs``)."""

def pop_error_code() -> None:
    """Leave the innermost ``with_error_code`` scope of this thread."""

def set_active_trace_id(trace_id: str | None) -> None:
    """The ``trace_id`` the following records carry (``start``/``stop`` set and clear it)."""

def run_id() -> str:
    """This process's run id: a UUID, new in a forked child."""

def set_log_listener(listener: Callable[[dict[str, Any]], object] | None) -> None:
    """Call ``listener`` with each record written, as a dict with the JSON line's keys
    (``src/logging/listener.rs``); None removes it. Called on the writing thread with the
    GIL, never for a record the listener itself writes; its exceptions become warnings."""

def set_trailer_writer(writer: str | os.PathLike[str] | Callable[[str], object] | None) -> None:
    """Test hook: send the ``json_errors`` trailers to a file (appended) or a callable
    (called with each line, no newline) instead of stderr; None restores stderr."""

def write_trailer(error: RecorderError) -> bool:
    """Write the trailer of ``error`` (raised in Python, e.g. by the CLI) when
    ``json_errors`` is on and none was written for it yet. True if written."""

def install_metrics(sink: object | None) -> None:
    """Install a metrics sink (an object with ``record_dropped_event``, ``record_detach``
    and ``record_panic``), or remove it with None (``src/metrics.rs``)."""

def metrics_snapshot() -> dict[str, dict[Any, int]]:
    """The exact totals: ``dropped_events`` (by reason), ``detaches`` (by ``(reason,
    error_code)``) and ``panics`` (by site)."""
