"""The recorder's metrics as OpenTelemetry instruments.

The Rust core keeps exact totals in atomics (``_native.metrics_snapshot()``); observable
counters read them when the SDK collects, so nothing runs per recorded event. The
per-recording instruments are updated once, when a session stops.
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

from codetracer_recorder import _native

SCOPE = "codetracer_recorder"
DROPPED = "codetracer.recorder.events.dropped"
DETACHES = "codetracer.recorder.detaches"
PANICS = "codetracer.recorder.panics"
RECORDINGS = "codetracer.recorder.recordings"
EVENTS_RECORDED = "codetracer.recorder.events.recorded"
TRACE_SIZE = "codetracer.recorder.trace.size"
DURATION = "codetracer.recorder.recording.duration"

REASON = "reason"
ERROR_TYPE = "error.type"
SITE = "site"
OUTCOME = "outcome"


def snapshot() -> Mapping[str, Any]:
    """The Rust totals (exact, kept in atomics by the core)."""
    return _native.metrics_snapshot()


def _pairs(totals: object) -> Iterator[tuple[tuple[str, ...], int]]:
    """``{key: n}`` (key a str, or a tuple for detaches) as (key tuple, n), leaving out
    what never happened (the core lists every reason, most at 0)."""
    if isinstance(totals, Mapping):
        for key, count in totals.items():
            if int(count):
                yield (tuple(map(str, key)) if isinstance(key, tuple) else (str(key),)), int(count)


def is_real_provider(provider: object) -> bool:
    """False for the API's proxy/no-op provider (nobody configured metrics)."""
    return type(provider).__name__ not in ("_ProxyMeterProvider", "NoOpMeterProvider")


class RecorderInstruments:
    """Every instrument of the recorder on one meter provider."""

    def __init__(self, provider: MeterProvider) -> None:
        meter: Meter = provider.get_meter(SCOPE, _native.__version__)
        meter.create_observable_counter(
            DROPPED,
            callbacks=[self._dropped],
            unit="{event}",
            description="Events the recorder did not record, by reason",
        )
        meter.create_observable_counter(
            DETACHES,
            callbacks=[self._detaches],
            unit="{detach}",
            description="Times the recorder let go of a session after a failure",
        )
        meter.create_observable_counter(
            PANICS,
            callbacks=[self._panics],
            unit="{panic}",
            description="Panics caught in the Rust core, by site",
        )
        self._recordings = meter.create_counter(
            RECORDINGS, unit="{recording}", description="Recording sessions ended, by outcome"
        )
        self._events = meter.create_counter(
            EVENTS_RECORDED, unit="{event}", description="Events written to traces"
        )
        self._size = meter.create_histogram(
            TRACE_SIZE, unit="By", description="Size of a recording's events file"
        )
        self._duration = meter.create_histogram(
            DURATION, unit="s", description="Time from start to the end of finalisation"
        )

    def session_ended(
        self, outcome: str, summary: Mapping[str, Any] | None, seconds: float
    ) -> None:
        """Once per session, when it stops."""
        self._recordings.add(1, {OUTCOME: outcome})
        self._duration.record(seconds, {OUTCOME: outcome})
        if summary is not None:
            if isinstance(summary.get("events"), int):
                self._events.add(summary["events"])
            if isinstance(summary.get("bytes"), int) and summary.get("path"):
                self._size.record(summary["bytes"])

    # Callbacks run on the SDK's collection thread (or the caller of collect); they only
    # read the Rust totals.

    def _dropped(self, options: CallbackOptions) -> Iterable[Observation]:
        for (reason, *_), count in _pairs(snapshot().get("dropped_events")):
            yield Observation(count, {REASON: reason})

    def _detaches(self, options: CallbackOptions) -> Iterable[Observation]:
        for key, count in _pairs(snapshot().get("detaches")):
            reason, code = (key + ("", ""))[:2]
            yield Observation(count, {REASON: reason, ERROR_TYPE: code})

    def _panics(self, options: CallbackOptions) -> Iterable[Observation]:
        for (site, *_), count in _pairs(snapshot().get("panics")):
            yield Observation(count, {SITE: site})
