"""The Rust core of the recorder (``src/``), built by maturin as ``codetracer_recorder._native``.

Everything here is private: use the public API in ``codetracer_recorder`` instead.
All functions must be called with the GIL held (they are ordinary Python calls).
"""

from collections.abc import Sequence
from typing import Any, Literal

__version__: str
"""Version of the native module; must equal the Python package's version."""

TOOL_ID: int
"""The ``sys.monitoring`` tool id the recorder registers under."""

ERROR_CODES: list[str]
"""Every ``ERR_*`` code the recorder uses (the list in ``src/errors.rs``)."""

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
    program: str,
    args: Sequence[str],
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

    Raises ``UsageError`` (``ERR_ALREADY_TRACING``, ``ERR_TRACE_DIR_CONFLICT``,
    ``ERR_UNSUPPORTED_FORMAT``, ``ERR_INVALID_POLICY_VALUE``) or ``EnvironmentError``
    (``ERR_TRACER_INSTALL_CONFLICT`` when another tool holds the tool id,
    ``ERR_TRACE_DIR_CREATE_FAILED``).
    """

def stop_recording(exit_code: int | None = None) -> dict[str, Any]:
    """Stop recording, write the final top-level return (``exit_code``, or None),
    finish the files and rename the staging directory into place.

    Returns a summary: ``path``, ``format``, ``trace_id``, ``events`` (all events written),
    ``calls``, ``steps``, ``values``, ``bytes`` (size of the events file). Raises ``UsageError`` (``ERR_NOT_TRACING``) when
    no session is active, ``EnvironmentError`` (``ERR_IO``) when writing failed (the
    staging directory is then removed).
    """

def flush_recording() -> None:
    """Hand every buffered event to the writer and wait until it is on disk
    (in the staging directory; the trace becomes visible at stop)."""

def is_recording() -> bool:
    """True while a session is active."""

def active_trace_id() -> str | None:
    """The trace id of the active session, or None."""

def detach_after_fork() -> None:
    """Registered with ``os.register_at_fork(after_in_child=...)``: a forked child lets go
    of the parent's session without writing anything, and runs on unrecorded."""

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
