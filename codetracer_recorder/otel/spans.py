"""The ``codetracer.recording`` span: one per recording session, from ``start`` to the end
of finalisation.

A root session (no current span, no ``TRACEPARENT``) gets the recorder's ``trace_id`` as
its OTel trace id, so one id finds the recording everywhere: the tracer's id generator is
wrapped (on our tracer object only, never the host's provider) to hand out that id for
the one span being started. Inside an existing trace the span is a child there, and the
session's id is the ``codetracer.trace.id`` attribute either way.
"""

import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from codetracer_recorder import _native
from codetracer_recorder.otel.resource import RUN_ID, run_id

SPAN_NAME = "codetracer.recording"
SCOPE = "codetracer_recorder"

TRACE_ID = "codetracer.trace.id"
TRACE_PATH = "codetracer.trace.path"
TRACE_FORMAT = "codetracer.trace.format"
TRACE_PARTIAL = "codetracer.trace.partial"
OUTCOME = "codetracer.recording.outcome"
EVENTS = "codetracer.recording.events"
CALLS = "codetracer.recording.calls"
STEPS = "codetracer.recording.steps"
VALUES = "codetracer.recording.values"
BYTES = "codetracer.recording.bytes"
POLICY_PREFIX = "codetracer.policy."
ERROR_TYPE = "error.type"
PANIC_SITE = "codetracer.panic.site"

EVENT_DETACH = "codetracer.detach"
EVENT_PARTIAL = "codetracer.partial_trace"
EVENT_PANIC = "codetracer.panic"

POLICY_FIELDS = ("on_recorder_error", "require_trace", "keep_partial_trace")
"""The policy fields a span carries (the log settings say nothing about the recording)."""


class _PinnedTraceIds(IdGenerator):
    """The host's id generator, except for the trace id of a root recording span."""

    def __init__(self, inner: IdGenerator) -> None:
        self._inner = inner
        self._pinned = threading.local()

    def pin(self, trace_id: int | None) -> None:
        self._pinned.value = trace_id

    def generate_span_id(self) -> int:
        return self._inner.generate_span_id()

    def generate_trace_id(self) -> int:
        pinned = getattr(self._pinned, "value", None)
        return self._inner.generate_trace_id() if pinned is None else pinned


def recorder_tracer(provider: trace.TracerProvider) -> trace.Tracer:
    """The recorder's tracer from ``provider``; an SDK tracer gets the pinning id generator
    (a tracer object is ours alone, so the host's own spans are untouched)."""
    tracer = provider.get_tracer(SCOPE, _native.__version__)
    inner = getattr(tracer, "id_generator", None)
    if isinstance(inner, IdGenerator):
        tracer.id_generator = _PinnedTraceIds(inner)  # type: ignore[attr-defined]
    return tracer


def parent_context() -> otel_context.Context | None:
    """The context the recording span starts in: the current one when it holds a span,
    else the one ``TRACEPARENT`` names, else None (a root span)."""
    if trace.get_current_span().get_span_context().is_valid:
        return otel_context.get_current()
    carrier = {
        key: os.environ[name]
        for key, name in (("traceparent", "TRACEPARENT"), ("tracestate", "TRACESTATE"))
        if os.environ.get(name)
    }
    if carrier:
        extracted = TraceContextTextMapPropagator().extract(carrier)
        if trace.get_current_span(extracted).get_span_context().is_valid:
            return extracted
    return None


def begin(
    tracer: trace.Tracer,
    trace_id: str,
    start_ns: int,
    path: str,
    format: str,
    policy: Mapping[str, Any],
) -> Span:
    """Start the recording span for the session ``trace_id`` (32 hex) begun at ``start_ns``."""
    attributes: dict[str, Any] = {
        TRACE_ID: trace_id,
        TRACE_PATH: path,
        TRACE_FORMAT: format,
        RUN_ID: run_id(),
        **{POLICY_PREFIX + name: policy[name] for name in POLICY_FIELDS if name in policy},
    }
    parent = parent_context()
    generator = getattr(tracer, "id_generator", None)
    if parent is None and isinstance(generator, _PinnedTraceIds):
        generator.pin(int(trace_id, 16))
        try:
            # An empty context: no parent, whatever is current.
            return tracer.start_span(
                SPAN_NAME,
                context=otel_context.Context(),
                attributes=attributes,
                start_time=start_ns,
            )
        finally:
            generator.pin(None)
    return tracer.start_span(SPAN_NAME, context=parent, attributes=attributes, start_time=start_ns)


def outcome_of(summary: Mapping[str, Any] | None, raised: BaseException | None) -> str:
    """``complete``, ``partial`` (a partial trace was kept), ``detached`` (the recorder
    let go under ``disable`` and kept nothing) or ``aborted`` (stop raised)."""
    if raised is not None or summary is None:
        return "aborted"
    if summary.get("partial"):
        return "partial"
    if summary.get("error") is not None:
        return "detached"
    return "complete"


def finish(
    span: Span,
    summary: Mapping[str, Any] | None,
    raised: BaseException | None,
    outcome: str,
) -> None:
    """End the span with the outcome, the counts and, after a failure, its events,
    exception and ERROR status."""
    span.set_attribute(OUTCOME, outcome)
    if summary is not None:
        for key, name in (
            (EVENTS, "events"),
            (CALLS, "calls"),
            (STEPS, "steps"),
            (VALUES, "values"),
            (BYTES, "bytes"),
        ):
            if isinstance(summary.get(name), int):
                span.set_attribute(key, summary[name])
        span.set_attribute(TRACE_PARTIAL, bool(summary.get("partial")))
        if summary.get("path"):
            span.set_attribute(TRACE_PATH, str(summary["path"]))
    error = raised if raised is not None else (summary or {}).get("error")
    if isinstance(error, BaseException):
        _record_failure(span, error, summary, outcome)
    span.end(end_time=time.time_ns())


def _record_failure(
    span: Span, error: BaseException, summary: Mapping[str, Any] | None, outcome: str
) -> None:
    code = str(getattr(error, "code", type(error).__qualname__))
    context = getattr(error, "context", None) or {}
    if code == "ERR_PANIC":
        span.add_event(EVENT_PANIC, {ERROR_TYPE: code, PANIC_SITE: str(context.get("site", ""))})
    if outcome in ("detached", "partial"):
        span.add_event(EVENT_DETACH, {ERROR_TYPE: code})
    if outcome == "partial" or "partial_trace" in context:
        span.add_event(EVENT_PARTIAL, {ERROR_TYPE: code})
    span.record_exception(error, attributes={ERROR_TYPE: code})
    span.set_attribute(ERROR_TYPE, code)
    span.set_status(Status(StatusCode.ERROR, str(error)))
