"""Exporters named by the standard ``OTEL_*_EXPORTER`` variables, imported only when named.

``otlp`` picks gRPC or HTTP/protobuf from ``OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL`` (gRPC
when unset, as ``opentelemetry-instrument`` does); the OTLP exporters read the other
``OTEL_EXPORTER_OTLP_*`` variables themselves. ``console`` writes to stderr, never into
the program's stdout. Importing an OTLP exporter costs 0.1-0.4 s (grpc, protobuf), which
is why nothing here is imported at module level.
"""

import os
import sys
from typing import Any

from codetracer_recorder.errors import usage_error

SIGNALS = ("traces", "metrics", "logs")
EXPORTER_NAMES = ("otlp", "otlp_proto_grpc", "otlp_proto_http", "console", "none")
PROTOCOLS = ("grpc", "http/protobuf")


def variable(signal: str) -> str:
    return f"OTEL_{signal.upper()}_EXPORTER"


def names(signal: str) -> list[str]:
    """The exporters ``OTEL_<SIGNAL>_EXPORTER`` names (none when unset or ``none``).
    Raises ``UsageError`` (``ERR_INVALID_POLICY_VALUE``) naming the variable for an
    exporter this recorder does not know."""
    text = os.environ.get(variable(signal), "")
    listed = [name.strip() for name in text.split(",") if name.strip()]
    for name in listed:
        if name not in EXPORTER_NAMES:
            raise usage_error(
                "ERR_INVALID_POLICY_VALUE",
                f"{variable(signal)}={text!r}: unknown exporter {name!r}; use "
                + ", ".join(EXPORTER_NAMES),
                source=variable(signal),
                value=text,
            )
    return [name for name in listed if name != "none"]


def protocol(signal: str) -> str:
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = os.environ.get(name, "").strip()
        if value:
            if value not in PROTOCOLS:
                raise usage_error(
                    "ERR_INVALID_POLICY_VALUE",
                    f"{name}={value!r}: use one of: {', '.join(PROTOCOLS)}",
                    source=name,
                    value=value,
                )
            return value
    return "grpc"


def _otlp_options(signal: str, timeout: float) -> dict[str, Any]:
    """The exporter's timeout is the flush bound unless the user set one."""
    names = ("OTEL_EXPORTER_OTLP_TIMEOUT", f"OTEL_EXPORTER_OTLP_{signal.upper()}_TIMEOUT")
    return {} if any(os.environ.get(name) for name in names) else {"timeout": timeout}


def build(signal: str, timeout: float) -> list[Any]:
    """The exporter objects for ``signal``; an empty list when none is configured."""
    built = []
    for name in names(signal):
        if name == "console":
            built.append(_console(signal))
            continue
        chosen = {"otlp_proto_grpc": "grpc", "otlp_proto_http": "http/protobuf"}.get(name)
        try:
            built.append(_otlp(signal, chosen or protocol(signal), _otlp_options(signal, timeout)))
        except Exception as error:  # noqa: BLE001 (any failure: see below)
            # The SDK's exporters read OTEL_EXPORTER_OTLP_* when built and raise what
            # they like (ValueError, UnicodeEncodeError, their own classes) on a bad one.
            # Its message is left out: it may quote an endpoint's credentials.
            raise usage_error(
                "ERR_INVALID_POLICY_VALUE",
                f"{variable(signal)}={name}: the OTLP exporter refused its settings "
                f"({type(error).__name__}); check OTEL_EXPORTER_OTLP_ENDPOINT, _TIMEOUT, "
                "_COMPRESSION, _HEADERS and _CERTIFICATE (and their per-signal forms)",
                source=variable(signal),
            ) from None
    return built


def _console(signal: str) -> Any:
    if signal == "traces":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr)
    if signal == "metrics":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter(out=sys.stderr)
    from codetracer_recorder.otel import logs

    return logs.console_exporter(sys.stderr)


def _otlp(signal: str, chosen: str, options: dict[str, Any]) -> Any:
    if signal == "logs":
        from codetracer_recorder.otel import logs

        return logs.otlp_exporter(chosen, **options)
    if signal == "traces":
        if chosen == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        return OTLPSpanExporter(**options)
    if chosen == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    return OTLPMetricExporter(**options)
