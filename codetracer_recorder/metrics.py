"""Health counters of the recorder, and the sink a host installs to receive them.

The core always keeps exact totals (:func:`metrics_snapshot`); a host that wants each
occurrence as it happens installs a sink with :func:`install_metrics`. Reasons:

- ``record_dropped_event(reason)``: a code object not recorded, counted once at its first
  call: ``synthetic_filename`` (``<string>`` from ``exec``, ``<frozen …>``),
  ``unreadable_filename`` (no file name), ``excluded`` (an ``--exclude`` glob),
  ``not_included`` (``--include`` globs given, none matched), ``default_skip`` (the
  standard library). ``redacted`` (a secret-looking value recorded as ``<redacted>``) is
  counted per value in the totals only: no sink is called on the per-event path.
- ``record_detach(reason, error_code)``: recording stopped after a failure; ``reason`` is
  the policy that decided (``abort`` or ``disable``), ``error_code`` the failure's code.
- ``record_panic(site)``: a Rust panic caught at ``site`` (a ``sys.monitoring`` callback
  such as ``on_line``, or an API entry such as ``start_recording``).
"""

from typing import Protocol, TypedDict, runtime_checkable

from codetracer_recorder import _native

__all__ = ["MetricsSnapshot", "RecorderMetrics", "install_metrics", "metrics_snapshot"]


@runtime_checkable
class RecorderMetrics(Protocol):
    """What :func:`install_metrics` takes: any object with these three methods.

    Each is called on the thread where the event happened, often inside a
    ``sys.monitoring`` callback with the GIL held: be quick and do not block. A call made
    while the sink is already running on that thread is skipped (no re-entrancy); an
    exception it raises is logged as a warning and never reaches the program.
    """

    def record_dropped_event(self, reason: str) -> None: ...

    def record_detach(self, reason: str, error_code: str) -> None: ...

    def record_panic(self, site: str) -> None: ...


class MetricsSnapshot(TypedDict):
    """The totals since the process started."""

    dropped_events: dict[str, int]
    """By reason, every reason present (zero included)."""
    detaches: dict[tuple[str, str], int]
    """By ``(reason, error_code)``, non-zero only."""
    panics: dict[str, int]
    """By site, non-zero only."""


def install_metrics(sink: RecorderMetrics | None) -> None:
    """Install ``sink`` (replacing any other), or go back to the no-op default with None.
    Raises ``UsageError`` (``ERR_INVALID_POLICY_VALUE``) if a method is missing."""
    _native.install_metrics(sink)


def metrics_snapshot() -> MetricsSnapshot:
    """The exact totals, read from the core's atomics (no Python call per event)."""
    return _native.metrics_snapshot()  # type: ignore[return-value]
