"""A recording session: start the native recorder, stop it, and the object that stands for it."""

import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypedDict, Unpack, get_args

from codetracer_recorder import _native
from codetracer_recorder.default_skips import default_skip_prefixes, internal_prefixes
from codetracer_recorder.errors import RecorderError, usage_error
from codetracer_recorder.otel import bridge as telemetry
from codetracer_recorder.policy import configure_policy, configure_policy_from_env

Format = Literal["json", "binary"]
"""``json`` writes ``trace.json``; ``binary`` writes the smaller ``trace.bin``."""

Capture = Literal["locals", "args", "none"]
"""Which values are recorded: locals at every step, only arguments and return values, or none."""

FORMATS: tuple[str, ...] = get_args(Format)
CAPTURES: tuple[str, ...] = get_args(Capture)


# The recorder's writer thread stops across a fork, so the process forks single-threaded
# (as Python wants: it warns otherwise) and the child gets no writer in mid-write. A
# forked child must not write into its parent's trace: it detaches.
os.register_at_fork(before=_native.pause_for_fork, after_in_child=_native.detach_after_fork)


class StartOptions(TypedDict, total=False):
    """The keyword arguments of :func:`start`, so :func:`trace` takes exactly the same ones."""

    format: Format
    include: Iterable[str]
    exclude: Iterable[str]
    capture: Capture
    program: str | None
    args: Sequence[str] | None
    policy: Mapping[str, object] | None
    otel: bool


class TraceSession:
    """One recording, from :func:`start` until it stops; a context manager that stops it.

    ``path`` is the final trace directory: it appears there (atomically) when the session
    stops. ``summary`` is None until then, and afterwards the counts the recorder wrote.
    """

    @classmethod
    def start(cls, path: str | os.PathLike[str], **options: Unpack[StartOptions]) -> "TraceSession":
        """Start recording; the same as :func:`start` (it refreshes the policy from the
        environment, then applies ``policy``, before tracing begins)."""
        return start(path, **options)

    def __init__(
        self,
        path: Path,
        format: Format,
        trace_id: str,
        otel_bridge: telemetry.Bridge | None = None,
    ) -> None:
        self.path = path
        self.format = format
        self.trace_id = trace_id
        self.summary: dict[str, Any] | None = None
        self._otel = otel_bridge
        self._pid = os.getpid()

    def __repr__(self) -> str:
        state = "recording" if _active is self else "stopped"
        return f"<TraceSession {self.trace_id} {self.format} {str(self.path)!r} {state}>"

    def stop(self, exit_code: int | None = None) -> dict[str, Any]:
        """Stop recording and move the trace into place; ``exit_code`` becomes the program's
        final return value. Stopping again is a no-op that returns the same summary.

        After a failure while recording, ``on_recorder_error`` decides: ``abort`` raises
        the error here, ``disable`` returns the summary with the error in ``summary["error"]``
        (see :func:`stop`)."""
        global _active
        if self.summary is not None:
            return self.summary
        if self._pid != os.getpid():
            return self._summary_in_forked_child()
        if _active is not self:
            raise usage_error(
                "ERR_NOT_TRACING",
                f"trace {self.trace_id} is no longer recording",
                trace_id=self.trace_id,
            )
        bridge = self._otel
        try:
            self.summary = _native.stop_recording(exit_code)
        except RecorderError as error:
            telemetry.session_stopped(bridge, self.trace_id, None, error)
            raise
        finally:
            # A failed stop ends the session too (the native side removes the staging
            # directory): stopping this object again must not stop a later session.
            _active = None
        telemetry.session_stopped(bridge, self.trace_id, self.summary, None)
        return self.summary

    def _summary_in_forked_child(self) -> dict[str, Any]:
        """In a child forked while this session recorded, nothing was recorded (the child
        detached at the fork) and the trace is the parent's to finish: stopping changes
        nothing, and says so with no trace and no counts."""
        global _active
        if _active is self:
            _active = None
        self.summary = {
            "path": None,
            "format": self.format,
            "trace_id": self.trace_id,
            **dict.fromkeys(("events", "calls", "steps", "values", "bytes"), 0),
            "partial": False,
            "error": None,
        }
        return self.summary

    def flush(self) -> None:
        """Write every buffered event to the staging directory; nothing to do once stopped."""
        if _active is self:
            _native.flush_recording()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


_active: TraceSession | None = None
"""The session :func:`start` returned, until it stops; lets :func:`stop` fill its summary."""


def start(
    path: str | os.PathLike[str],
    *,
    format: Format = "json",
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    capture: Capture = "locals",
    program: str | None = None,
    args: Sequence[str] | None = None,
    policy: Mapping[str, object] | None = None,
    otel: bool = True,
) -> TraceSession:
    """Start recording this process into the trace directory ``path``.

    ``include``/``exclude`` are globs over module names (``mypkg.*``) and file paths
    (``*/vendor/*``); by default the standard library, the recorder and OpenTelemetry are
    skipped. ``program`` and ``args`` go into the trace metadata and default to ``sys.argv``.
    Before tracing begins the policy is refreshed from the ``CODETRACER_*`` environment
    variables, then ``policy`` (the keywords of :func:`configure_policy`) is applied over
    it; the session keeps that policy until it stops.
    ``otel=False`` keeps this session out of OpenTelemetry (as ``OTEL_SDK_DISABLED=true``
    does for all); otherwise it is reported as ``codetracer_recorder.otel`` describes.
    Raises ``UsageError`` for a bad option or policy value (``ERR_INVALID_POLICY_VALUE``)
    or when a session is already active (``ERR_ALREADY_TRACING``), and ``TargetError``
    (``ERR_TARGET_ARGS``) when the program's ``sys.argv`` holds something other than str.
    """
    global _active
    if format not in FORMATS:
        raise usage_error(
            "ERR_UNSUPPORTED_FORMAT",
            f"unsupported trace format {format!r}; use one of: {', '.join(FORMATS)}",
            format=format,
        )
    if capture not in CAPTURES:
        raise usage_error(
            "ERR_INVALID_POLICY_VALUE",
            f"invalid capture {capture!r}; use one of: {', '.join(CAPTURES)}",
            option="capture",
            value=capture,
        )
    if not isinstance(path, str | os.PathLike):
        raise usage_error(
            "ERR_INVALID_POLICY_VALUE",
            f"the trace directory must be a path, not {type(path).__name__}",
            option="path",
        )
    _check_metadata(program, args)
    _apply_policy(policy)
    trace_dir = Path(os.path.abspath(path))
    bridge = _otel_bridge(otel)
    start_ns = time.time_ns()
    try:
        trace_id = _native.start_recording(
            str(trace_dir),
            format=format,
            program=_default_program() if program is None else program,
            args=sys.argv[1:] if args is None else list(args),
            include=_globs("include", include),
            exclude=_globs("exclude", exclude),
            skip_prefixes=default_skip_prefixes(),
            never_prefixes=internal_prefixes() + telemetry.never_prefixes(bridge),
            capture=capture,
        )
    except RecorderError:
        telemetry.session_not_started(bridge)
        raise
    _active = TraceSession(trace_dir, format, trace_id, bridge)
    telemetry.session_started(bridge, trace_id, start_ns, str(trace_dir), format)
    return _active


def _otel_bridge(enabled: bool) -> "telemetry.Bridge | None":
    """The OpenTelemetry providers the session reports to; a bad ``OTEL_*_EXPORTER``
    is a ``UsageError`` raised before recording starts."""
    if not isinstance(enabled, bool):
        raise usage_error(
            "ERR_INVALID_POLICY_VALUE", f"otel takes a bool, not {enabled!r}", option="otel"
        )
    return telemetry.session_bridge(enabled)


def trace(path: str | os.PathLike[str], **options: Unpack[StartOptions]) -> TraceSession:
    """:func:`start` for a ``with`` statement: the session stops when the block ends, also
    when the block raises (the exception propagates)."""
    return start(path, **options)


def stop(*, exit_code: int | None = None) -> dict[str, Any]:
    """Stop the active session and return its summary (``path``, ``format``, ``trace_id``,
    ``events``, ``calls``, ``steps``, ``values``, ``bytes``, ``partial``, ``error``).
    Raises ``UsageError`` (``ERR_NOT_TRACING``) when nothing is recording.

    A failure while recording or while finishing the trace goes by the policy: under
    ``abort`` it is raised here; under ``disable`` it is returned as ``summary["error"]``
    (a ``RecorderError`` instance, not raised). ``path`` is then the partial trace kept by
    ``keep_partial_trace`` (``partial`` is True), or None when nothing was kept. With
    ``require_trace``, a session that wrote no complete trace raises under either."""
    if _active is not None:
        return _active.stop(exit_code)
    return _native.stop_recording(exit_code)


def flush() -> None:
    """Write every buffered event of the active session to disk (its staging directory)."""
    _native.flush_recording()


def is_tracing() -> bool:
    """True while a session is recording."""
    return _native.is_recording()


def _default_program() -> str:
    """``sys.argv[0]`` as an absolute path when it names a file (a script, ``python -m``'s
    module file), else as it is (``-c``), or the interpreter when there is none (a REPL)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if not isinstance(argv0, str):
        return argv0  # type: ignore[return-value]  # the core reports it (ERR_TARGET_ARGS)
    if os.path.isfile(argv0):
        return os.path.abspath(argv0)
    return argv0 or sys.executable


def _check_metadata(program: object, args: object) -> None:
    """``program`` and ``args`` given by the caller are str (those taken from ``sys.argv``
    are checked by the core, which reports a program's odd ``sys.argv`` as a TargetError)."""
    given = [] if args is None else args
    if isinstance(given, str) or not isinstance(given, Sequence):
        raise usage_error(
            "ERR_INVALID_POLICY_VALUE",
            f"args takes a list of str, not a {type(args).__name__}",
            option="args",
        )
    for option, value in (("program", program), *((f"args[{i}]", a) for i, a in enumerate(given))):
        if value is not None and not isinstance(value, str):
            raise usage_error(
                "ERR_INVALID_POLICY_VALUE",
                f"{option} must be a str, not {type(value).__name__}",
                option=option,
            )


def _apply_policy(policy: Mapping[str, object] | None) -> None:
    """The environment's policy, then ``policy`` over it (flags of the CLI, overrides of
    an embedder): the layering of ``src/policy.rs``."""
    configure_policy_from_env()
    if policy is None:
        return
    if not isinstance(policy, Mapping) or not all(isinstance(key, str) for key in policy):
        raise usage_error(
            "ERR_INVALID_POLICY_VALUE",
            f"policy takes a mapping of field names to values, not a {type(policy).__name__}",
            option="policy",
        )
    configure_policy(**policy)


def _globs(option: str, globs: Iterable[str]) -> list[str]:
    """The globs as a list; a bare string is refused, as iterating it would give characters."""
    if isinstance(globs, str):
        raise usage_error(
            "ERR_INVALID_POLICY_VALUE",
            f"{option} takes a list of globs, not the string {globs!r}; write [{globs!r}]",
            option=option,
            value=globs,
        )
    listed = list(globs)
    for glob in listed:
        if not isinstance(glob, str):
            raise usage_error(
                "ERR_INVALID_POLICY_VALUE",
                f"{option} takes globs (str), not {type(glob).__name__}",
                option=option,
            )
    return listed
