"""Which OpenTelemetry providers the recorder uses, and its bounded flush.

Three ways in, first match wins:

1. ``install(tracer_provider, logger_provider, meter_provider)``: the host's providers
   (a ``None`` argument means the global one).
2. Exporters named by ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER`` (the CLI's flags set those):
   providers of the recorder's own, built once per process (again in a forked child), with
   the recorder's Resource, batching on background threads.
3. Global SDK providers the host set up before the session started.

Otherwise, and always under ``start(otel=False)`` or ``OTEL_SDK_DISABLED=true``, there is
no bridge: nothing of OpenTelemetry's SDK or exporters is imported and nothing is sent.

Own providers are flushed and shut down once, at the end of the CLI's run or at exit
(``atexit``), within ``CODETRACER_OTEL_FLUSH_TIMEOUT`` seconds in total (default 3); a
failed or late export costs one warning with ``ERR_OTEL_EXPORT``, never a hang or a
traceback. Spans and log records their batch processors dropped because the export queue
was full are counted (``drops``) and reported at that shutdown in one more
``ERR_OTEL_EXPORT`` warning, with the counts. Nothing here raises into the host once a
session runs.
"""

import atexit
import contextlib
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from codetracer_recorder import _native
from codetracer_recorder.otel import drops

DEFAULT_FLUSH_TIMEOUT = 3.0
FLUSH_TIMEOUT_ENV = "CODETRACER_OTEL_FLUSH_TIMEOUT"
"""Seconds the flush at exit may take in total, all providers together (default 3)."""

TRANSPORT_PACKAGES = (
    "grpc",
    "google.protobuf",
    "urllib3",
    "requests",
    "charset_normalizer",
    "idna",
    "certifi",
)
"""What OTLP exporter threads run besides OpenTelemetry itself; never recorded while the
bridge is active (see :func:`never_prefixes`)."""


def sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


class Bridge:
    """The providers one recording session reports to, and what it has open on them."""

    def __init__(
        self,
        tracer_provider: Any = None,
        logger_provider: Any = None,
        meter_provider: Any = None,
        owned: tuple[Any, ...] = (),
    ) -> None:
        from codetracer_recorder.otel import spans

        self.tracer = spans.recorder_tracer(tracer_provider) if tracer_provider else None
        self.logs = None
        if logger_provider is not None:
            from codetracer_recorder.otel.logs import LogBridge

            self.logs = LogBridge(logger_provider, self.span_of)
        self.instruments = None
        if meter_provider is not None:
            from codetracer_recorder.otel.metrics import RecorderInstruments

            self.instruments = RecorderInstruments(meter_provider)
        self.owned = owned
        self._open: dict[str, tuple[Any, float]] = {}
        self._last: tuple[str, Any] | None = None
        self._starting = False
        self._held: list[Mapping[str, Any]] = []

    def span_of(self, trace_id: str | None) -> Any:
        """The recording span of ``trace_id`` (open, or the last one ended), for logs."""
        if trace_id and trace_id in self._open:
            return self._open[trace_id][0]
        if trace_id and self._last is not None and self._last[0] == trace_id:
            return self._last[1]
        if not trace_id and len(self._open) == 1:
            return next(iter(self._open.values()))[0]
        return None

    def session_started(
        self, trace_id: str, start_ns: int, path: str, format: str, policy: Mapping[str, Any]
    ) -> None:
        span = None
        if self.tracer is not None:
            from codetracer_recorder.otel import spans

            span = spans.begin(self.tracer, trace_id, start_ns, path, format, policy)
        self._open[trace_id] = (span, time.monotonic())
        self.release_held()

    def listen(self) -> None:
        """Send the Rust logger's records to the logger provider from now on (before the
        session starts, so its "recording started" record is sent too)."""
        if self.logs is not None:
            from codetracer_recorder.otel.logs import set_listener

            self._starting = True
            set_listener(_guarded(self._receive))

    def _receive(self, record: Mapping[str, Any]) -> None:
        """A record from the Rust logger (on the thread that wrote it). While a session
        starts, its records name its trace_id before its span exists: they wait for it."""
        if self.logs is None:
            return
        if self._starting and record.get("trace_id") and self.span_of(record["trace_id"]) is None:
            self._held.append(record)
            return
        self.logs.emit(record)

    def release_held(self) -> None:
        """Emit the records that waited for the span (without it, if the start failed)."""
        self._starting = False
        held, self._held = self._held, []
        for record in held:
            if self.logs is not None:
                self.logs.emit(record)

    def session_stopped(
        self, trace_id: str, summary: Mapping[str, Any] | None, raised: BaseException | None
    ) -> None:
        from codetracer_recorder.otel import spans

        span, began = self._open.pop(trace_id, (None, time.monotonic()))
        outcome = spans.outcome_of(summary, raised)
        if span is not None:
            spans.finish(span, summary, raised, outcome)
            self._last = (trace_id, span)
        if self.instruments is not None:
            self.instruments.session_ended(outcome, summary, time.monotonic() - began)

    def forget_sessions(self) -> None:
        """In a forked child: the parent's spans are the parent's to end."""
        self._open.clear()
        self._last = None


_installed: Bridge | None = None
_global: tuple[tuple[Any, ...], Bridge] | None = None
_own: Bridge | None = None
_own_pid: int | None = None
_warned = False


def install(
    tracer_provider: Any = None, logger_provider: Any = None, meter_provider: Any = None
) -> None:
    """Report recordings to the host's providers (each ``None`` means the global one:
    ``trace.get_tracer_provider()`` and its kin) instead of building the recorder's own.
    Applies to sessions started afterwards. The host keeps flushing and shutting down
    its providers; the recorder never does."""
    from opentelemetry import metrics, trace

    from codetracer_recorder.otel import logs

    global _installed
    _installed = Bridge(
        tracer_provider or trace.get_tracer_provider(),
        logger_provider or logs.global_logger_provider(),
        meter_provider or metrics.get_meter_provider(),
    )


def uninstall() -> None:
    """Forget the providers :func:`install` gave; later sessions choose again."""
    global _installed
    if _installed is not None and _installed.logs is not None:
        from codetracer_recorder.otel.logs import set_listener

        set_listener(None)
    _installed = None


def session_bridge(enabled: bool = True) -> Bridge | None:
    """The bridge a session starting now reports to, or None (see the module docstring).
    Raises ``UsageError`` for an exporter or protocol the variables name wrongly."""
    if not enabled or sdk_disabled():
        return None
    bridge = _installed or _own_bridge() or _global_bridge()
    if bridge is not None:
        bridge.listen()
    return bridge


def _own_bridge() -> Bridge | None:
    global _own, _own_pid
    if _own is not None and _own_pid == os.getpid():
        return _own
    from codetracer_recorder.otel import exporters

    if not any(exporters.names(signal) for signal in exporters.SIGNALS):
        return None
    from codetracer_recorder.otel import export_failures

    # Before the exporters are built: they parse OTEL_EXPORTER_OTLP_*HEADERS then.
    export_failures.watch()
    timeout = flush_timeout()
    wanted = {signal: exporters.build(signal, timeout) for signal in exporters.SIGNALS}
    from codetracer_recorder.otel.resource import recorder_resource

    resource = recorder_resource()
    tracer_provider = logger_provider = meter_provider = None
    counters: list[drops.DropCounter] = []
    if wanted["traces"]:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        for exporter in wanted["traces"]:
            processor = drops.counted(BatchSpanProcessor(exporter), "spans", counters)
            tracer_provider.add_span_processor(processor)
    if wanted["logs"]:
        from codetracer_recorder.otel.logs import sdk_logger_provider

        logger_provider = sdk_logger_provider(resource, wanted["logs"], counters)
    if wanted["metrics"]:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers = [PeriodicExportingMetricReader(e) for e in wanted["metrics"]]
        meter_provider = MeterProvider(
            metric_readers=readers, resource=resource, shutdown_on_exit=False
        )
    owned = tuple(p for p in (tracer_provider, logger_provider, meter_provider) if p is not None)
    _own = Bridge(tracer_provider, logger_provider, meter_provider, owned)
    _own_pid = os.getpid()
    global _flusher
    _flusher = _Flusher(owned, counters)
    atexit.register(shutdown)
    return _own


def _global_bridge() -> Bridge | None:
    """The host's global providers, when it set real ones up (it imported the API first)."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    from opentelemetry import metrics, trace

    from codetracer_recorder.otel import logs
    from codetracer_recorder.otel import metrics as recorder_metrics

    tracer = trace.get_tracer_provider()
    logger = logs.global_logger_provider()
    meter = metrics.get_meter_provider()
    real = (
        type(tracer).__name__ not in ("ProxyTracerProvider", "NoOpTracerProvider"),
        logs.is_real_provider(logger),
        recorder_metrics.is_real_provider(meter),
    )
    if not any(real):
        return None
    chosen = tuple(p if ok else None for p, ok in zip((tracer, logger, meter), real, strict=True))
    global _global
    # One Bridge per set of providers: instruments are registered once on a meter.
    if _global is None or any(a is not b for a, b in zip(_global[0], chosen, strict=True)):
        _global = (chosen, Bridge(*chosen))
    return _global[1]


def never_prefixes(bridge: Bridge | None) -> list[str]:
    """Paths of the exporters' transport packages, never recorded while ``bridge`` runs.

    The OTel SDK's own directories are always skipped (``default_skips``); its exporter
    threads also run grpc, protobuf and urllib3/requests code, which a per-code-object
    filter can only leave out by path. So while the bridge is active those packages are
    not recorded, in any thread (a program's own ``requests`` calls included: the
    price of keeping export threads out of the trace until the core can skip by thread).
    """
    if bridge is None:
        return []
    prefixes: set[str] = set()
    for name in TRANSPORT_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            for path in (os.path.abspath(location), os.path.realpath(location)):
                prefixes.add(path + os.sep)
    return sorted(prefixes)


def flush_timeout() -> float:
    text = os.environ.get(FLUSH_TIMEOUT_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_FLUSH_TIMEOUT
    except ValueError:
        value = DEFAULT_FLUSH_TIMEOUT
    # A wait Python accepts: finite, and within what its locks can wait for.
    return value if 0 <= value <= threading.TIMEOUT_MAX else DEFAULT_FLUSH_TIMEOUT


class _Flusher:
    """A daemon thread, started with the providers, that flushes and shuts them down when
    asked. It exists beforehand because no thread can be started once the interpreter
    is exiting (3.12+), and the bound is kept by waiting for it with a timeout: past the
    bound the process may exit while it still works (daemon threads do not hold exit).
    ``counters`` count what the providers' batch processors drop (``drops``)."""

    def __init__(self, providers: tuple[Any, ...], counters: list[drops.DropCounter]) -> None:
        self._providers = providers
        self.counters = counters
        self._asked = threading.Event()
        self.done = threading.Event()
        self._limit = DEFAULT_FLUSH_TIMEOUT
        threading.Thread(target=self._run, name="codetracer-otel-flush", daemon=True).start()

    def ask(self, limit: float) -> None:
        self._limit = limit
        self._asked.set()

    def _run(self) -> None:
        self._asked.wait()
        deadline = time.monotonic() + self._limit
        for provider in self._providers:
            # shutdown() exports what is buffered (a MeterProvider collects once more); a
            # force_flush first would export the metrics twice.
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            try:
                if _takes_timeout(provider.shutdown):
                    provider.shutdown(timeout_millis=left_ms)
                else:
                    provider.shutdown()
            except Exception as error:  # noqa: BLE001 - an exporter's failure is a warning
                warn_export_failed(f"{type(error).__name__}: {error}")
        self.done.set()


def _takes_timeout(shutdown: Any) -> bool:
    """Whether a provider's ``shutdown`` takes ``timeout_millis`` (the SDK's providers
    differ), read from its code: ``inspect`` would be imported at exit, when the program's
    own modules may shadow it."""
    code = getattr(shutdown, "__code__", None)
    return (
        code is not None
        and "timeout_millis" in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    )


_flusher: _Flusher | None = None


def counting_drops() -> bool:
    """Whether the own providers' batch processors have their drops counted (``drops``)."""
    flusher = _flusher
    return flusher is not None and bool(flusher.counters)


def shutdown(timeout: float | None = None) -> bool:
    """Flush and shut down the recorder's own providers within ``timeout`` seconds in
    total (default: :func:`flush_timeout`); True when everything finished in time. Safe to
    call more than once; runs at exit. The host's providers are never touched. What the
    export queues dropped is reported last, in one warning with the counts."""
    global _own, _flusher
    own, flusher, _own, _flusher = _own, _flusher, None, None
    if own is None or flusher is None or _own_pid != os.getpid():
        return True
    if own.logs is not None:
        from codetracer_recorder.otel.logs import set_listener

        set_listener(None)
    limit = flush_timeout() if timeout is None else timeout
    flusher.ask(limit)
    finished = flusher.done.wait(limit)
    if not finished:
        warn_export_failed(f"the OpenTelemetry flush did not finish within {limit:g} s")
    dropped = drops.report(flusher.counters)
    if dropped is not None:
        warn_dropped(dropped)
    return finished


def warn_export_failed(detail: str) -> None:
    """One warning record with ``ERR_OTEL_EXPORT`` per process, in the recorder's own
    log stream (stderr or the log file, like its other records)."""
    global _warned
    if _warned:
        return
    _warned = True
    _warn(f"OpenTelemetry export failed; telemetry may be lost: {' '.join(detail.split())}")


def warn_dropped(dropped: str) -> None:
    """The warning record with ``ERR_OTEL_EXPORT`` that says how many spans and log
    records the export queues dropped (once, at shutdown, even after the one warning of
    :func:`warn_export_failed`: the count is news). Nothing is warned after it."""
    global _warned
    _warned = True
    _warn(f"OpenTelemetry export queue was full; telemetry was lost: {dropped}")


def _warn(message: str) -> None:
    with contextlib.suppress(Exception):  # a warning about telemetry must not break the program
        _native.log(
            "warn",
            message,
            error_code="ERR_OTEL_EXPORT",
            target="codetracer_recorder.otel",
            file=__file__,
            line=sys._getframe(1).f_lineno,
        )


def session_started(
    bridge: Bridge | None, trace_id: str, start_ns: int, path: str, format: str
) -> None:
    """Called by ``start`` once the native session runs; never raises."""
    if bridge is None:
        return
    try:
        bridge.session_started(trace_id, start_ns, path, format, _native.policy_snapshot())
    except Exception as error:  # noqa: BLE001 - telemetry must not break a recording
        warn_export_failed(f"{type(error).__name__}: {error}")


def session_not_started(bridge: Bridge | None) -> None:
    """Called by ``start`` when the native start raised; never raises."""
    if bridge is None:
        return
    try:
        bridge.release_held()
    except Exception as error:  # noqa: BLE001 - telemetry must not break the caller
        warn_export_failed(f"{type(error).__name__}: {error}")


def session_stopped(
    bridge: Bridge | None,
    trace_id: str,
    summary: Mapping[str, Any] | None,
    raised: BaseException | None,
) -> None:
    """Called by ``TraceSession.stop`` with the summary or the error it raises; never
    raises."""
    if bridge is None:
        return
    try:
        bridge.session_stopped(trace_id, summary, raised)
    except Exception as error:  # noqa: BLE001 - telemetry must not break a recording
        warn_export_failed(f"{type(error).__name__}: {error}")


def _guarded(emit: Any) -> Any:
    def listener(record: Mapping[str, Any]) -> None:
        try:
            emit(record)
        except Exception as error:  # noqa: BLE001 - never raise into the recorder
            warn_export_failed(f"{type(error).__name__}: {error}")

    return listener


def _after_fork_in_child() -> None:
    """The child builds its own providers (new Resource, new ``run_id``) when it records;
    the parent's open spans stay the parent's."""
    global _own, _flusher, _warned
    _own = _flusher = None
    _warned = False
    for bridge in (_installed,):
        if bridge is not None:
            bridge.forget_sessions()


os.register_at_fork(after_in_child=_after_fork_in_child)
