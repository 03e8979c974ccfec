"""Shared verbs of the OpenTelemetry tests: fresh in-memory providers, and what they
received as plain dicts (the same in pytest's process and in a child that prints them).

Nothing here sets a global provider: each :class:`Telemetry` hands its own providers to
``codetracer_recorder.otel.install`` and the tests ``uninstall`` them afterwards.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from codetracer_recorder import otel


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _attributes(attributes: Any) -> dict[str, Any]:
    return {key: _plain(value) for key, value in dict(attributes or {}).items()}


class Telemetry:
    """Synchronous in-memory providers for spans, logs and metrics."""

    def __init__(self) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.log_exporter = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider(shutdown_on_exit=False)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)

    @classmethod
    def installed(cls) -> Telemetry:
        telemetry = cls()
        otel.install(telemetry.tracer_provider, telemetry.logger_provider, telemetry.meter_provider)
        return telemetry

    def spans(self) -> list[dict[str, Any]]:
        out = []
        for span in self.span_exporter.get_finished_spans():
            context = span.get_span_context()
            out.append(
                {
                    "name": span.name,
                    "trace_id": f"{context.trace_id:032x}",
                    "span_id": f"{context.span_id:016x}",
                    "parent": f"{span.parent.span_id:016x}" if span.parent else None,
                    "parent_trace_id": f"{span.parent.trace_id:032x}" if span.parent else None,
                    "attributes": _attributes(span.attributes),
                    "events": [
                        {"name": e.name, "attributes": _attributes(e.attributes)}
                        for e in span.events
                    ],
                    "status": span.status.status_code.name,
                    "status_description": span.status.description,
                    "resource": _attributes(span.resource.attributes),
                }
            )
        return out

    def logs(self) -> list[dict[str, Any]]:
        out = []
        for readable in self.log_exporter.get_finished_logs():
            record = readable.log_record
            out.append(
                {
                    "body": record.body,
                    "severity_number": record.severity_number.value
                    if record.severity_number
                    else None,
                    "severity_text": record.severity_text,
                    "attributes": _attributes(record.attributes),
                    "event_name": record.event_name,
                    "timestamp": record.timestamp,
                    "trace_id": f"{record.trace_id:032x}" if record.trace_id else None,
                    "span_id": f"{record.span_id:016x}" if record.span_id else None,
                }
            )
        return out

    def metrics(self) -> dict[str, dict[str, Any]]:
        """``{name: {"unit": ..., "points": [{"attributes", "value" | "count"/"sum"}]}}``."""
        out: dict[str, dict[str, Any]] = {}
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else []:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    points = []
                    for point in metric.data.data_points:
                        row: dict[str, Any] = {"attributes": _attributes(point.attributes)}
                        if hasattr(point, "value"):
                            row["value"] = point.value
                        else:
                            row["count"] = point.count
                            row["sum"] = point.sum
                        points.append(row)
                    out[metric.name] = {"unit": metric.unit, "points": points}
        return out

    def dump(self, **extra: Any) -> None:
        """Print everything received as one JSON line on stdout (for a child process)."""
        report = {"spans": self.spans(), "logs": self.logs(), "metrics": self.metrics()}
        sys.stdout.write(json.dumps({**report, **extra}) + "\n")


SCENARIO_PRELUDE = """
import json, os, sys
import codetracer_recorder
from otelkit import Telemetry

telemetry = Telemetry.installed()

def work(n):
    total = 0
    for i in range(n):
        total += i
    return total
"""
"""The start of a child program that reports to fresh in-memory providers; its end calls
``telemetry.dump(...)``."""
