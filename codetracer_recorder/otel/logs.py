"""Recorder log records as OpenTelemetry log records.

This is the one module that imports ``opentelemetry._logs`` / ``opentelemetry.sdk._logs``
(underscored: the logs signal still moves between releases), so the next rename is a
change here only. The Rust logger hands each record that passed its level filter to
:meth:`LogBridge.emit` through ``_native.set_log_listener``; it does so off the per-event
path (failures, detach, session start and stop), on the thread that wrote the record,
and never for a record written while the listener runs (no recursion).
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import LoggerProvider, SeverityNumber, get_logger_provider
from opentelemetry.trace import Span

from codetracer_recorder import _native
from codetracer_recorder.otel import drops
from codetracer_recorder.otel.resource import RUN_ID, run_id

SCOPE = "codetracer_recorder"
EVENT_ERROR = "codetracer.error"
ERROR_TYPE = "error.type"
ERROR_KIND = "codetracer.error.kind"
TARGET = "codetracer.log.target"
CONTEXT_PREFIX = "codetracer.context."
CODE_FILE = "code.file.path"
CODE_LINE = "code.line.number"
TRACE_ID = "codetracer.trace.id"

SEVERITY: dict[str, tuple[SeverityNumber, str]] = {
    "error": (SeverityNumber.ERROR, "ERROR"),
    "warn": (SeverityNumber.WARN, "WARN"),
    "info": (SeverityNumber.INFO, "INFO"),
    "debug": (SeverityNumber.DEBUG, "DEBUG"),
    "trace": (SeverityNumber.TRACE, "TRACE"),
}
"""The Rust logger's levels (``src/logging/record.rs``) as OTel severities."""


def global_logger_provider() -> LoggerProvider:
    return get_logger_provider()


def is_real_provider(provider: object) -> bool:
    """False for the API's proxy/no-op provider (nobody configured logs)."""
    return type(provider).__name__ not in ("ProxyLoggerProvider", "NoOpLoggerProvider")


class LogBridge:
    """Emits recorder records on ``provider``, in the context of the session's span."""

    def __init__(self, provider: LoggerProvider, span_of: Callable[[str | None], Span | None]):
        self._logger = provider.get_logger(SCOPE, _native.__version__)
        self._span_of = span_of

    def emit(self, record: Mapping[str, Any]) -> None:
        """One record, a dict with the keys of the JSON line (``ts``, ``level``,
        ``target``, ``run_id``, ``trace_id``, ``message``, ``error_code``, ``error_kind``,
        ``context``, ``file``, ``line``). Runs on the writer's thread; never raises for a
        field it does not know."""
        severity, text = SEVERITY.get(str(record.get("level", "")).lower(), SEVERITY["info"])
        attributes: dict[str, Any] = {RUN_ID: str(record.get("run_id") or run_id())}
        if record.get("error_code"):
            attributes[ERROR_TYPE] = str(record["error_code"])
        if record.get("error_kind"):
            attributes[ERROR_KIND] = str(record["error_kind"])
        if record.get("target"):
            attributes[TARGET] = str(record["target"])
        if record.get("trace_id"):
            attributes[TRACE_ID] = str(record["trace_id"])
        if record.get("file"):
            attributes[CODE_FILE] = str(record["file"])
        if isinstance(record.get("line"), int):
            attributes[CODE_LINE] = record["line"]
        for key, value in (record.get("context") or {}).items():
            attributes[CONTEXT_PREFIX + str(key)] = str(value)
        span = self._span_of(record.get("trace_id"))
        context = (
            trace.set_span_in_context(span) if span is not None else otel_context.get_current()
        )
        self._logger.emit(
            timestamp=_nanoseconds(record.get("ts")),
            context=context,
            severity_number=severity,
            severity_text=text,
            body=str(record.get("message", "")),
            attributes=attributes,
            event_name=EVENT_ERROR if record.get("error_code") else None,
        )


def _nanoseconds(ts: object) -> int | None:
    """The record's time (RFC 3339 text, as the JSON line has it) in ns since the epoch."""
    if isinstance(ts, str):
        try:
            moment = datetime.fromisoformat(ts)
        except ValueError:
            return None
        seconds = int(moment.timestamp())
        return seconds * 1_000_000_000 + moment.microsecond * 1_000
    return None


def set_listener(listener: Callable[[Mapping[str, Any]], None] | None) -> None:
    """Install (or remove) the Rust logger's listener."""
    _native.set_log_listener(listener)


def sdk_logger_provider(
    resource: Any, exporters: list[Any], counters: list[drops.DropCounter]
) -> Any:
    """A LoggerProvider of our own, batching to ``exporters`` (no atexit hook: the
    recorder's bounded flush shuts it down); what its processors drop from a full queue
    is counted into ``counters``."""
    from opentelemetry.sdk._logs import LoggerProvider as SdkLoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = SdkLoggerProvider(resource=resource, shutdown_on_exit=False)
    for exporter in exporters:
        processor = drops.counted(BatchLogRecordProcessor(exporter), "log records", counters)
        provider.add_log_record_processor(processor)
    return provider


def console_exporter(out: Any) -> Any:
    from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

    return ConsoleLogRecordExporter(out=out)


def otlp_exporter(protocol: str, **kwargs: Any) -> Any:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    return OTLPLogExporter(**kwargs)
