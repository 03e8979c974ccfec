"""The OpenTelemetry SDK's own export warnings, turned into the recorder's one warning.

The exporters and batch processors report each failed try (some with a traceback) to
stdlib loggers; with the recorder's own providers those records become one
``ERR_OTEL_EXPORT`` warning in the recorder's log stream instead of pages on stderr.
Imported only when the recorder builds its own providers (``logging`` is not free).
"""

import logging

from codetracer_recorder.otel import bridge


class ExportFailures(logging.Handler):
    """Turns the SDK's own export warnings into the recorder's one ERR_OTEL_EXPORT line.
    A batch processor's "Queue full" warning is left out while the drops are counted:
    :func:`bridge.shutdown` reports them with their number. The header parser's warning quotes
    the header it could not parse, which may be a credential: only the fact is told."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            return
        if record.name == HEADER_LOGGER:
            bridge.warn_export_failed(
                "an entry of OTEL_EXPORTER_OTLP_*HEADERS is not name=value (URL-encoded) and "
                "was ignored; its text is not shown, as it may hold a credential"
            )
            return
        if str(record.msg).startswith("Queue full") and bridge.counting_drops():
            return
        bridge.warn_export_failed(record.getMessage())


HEADER_LOGGER = "opentelemetry.util.re"
"""Where the OTLP exporters' parser of ``OTEL_EXPORTER_OTLP_*HEADERS`` warns about a
header it cannot parse, quoting it."""

EXPORT_LOGGERS = (
    HEADER_LOGGER,
    "opentelemetry.exporter",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk._logs._internal.export",
    "opentelemetry.sdk.metrics._internal.export",
)
"""The stdlib loggers where the exporters and the batching processors report failures
(and the exporters' header parser, bad headers)."""


def watch() -> None:
    """The exporters log each failed try (and a traceback for some) to their stdlib
    loggers; with our own providers those records become one warning instead of pages on
    stderr (``propagate`` off for these loggers only: the rest of OpenTelemetry's logging
    is left to the host)."""
    for name in EXPORT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, ExportFailures) for h in logger.handlers):
            logger.addHandler(ExportFailures(logging.WARNING))
        logger.propagate = False
