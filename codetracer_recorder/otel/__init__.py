"""The OpenTelemetry bridge: recordings as spans, recorder logs as log records, recorder
counters as metrics (``otel/`` at the repository root lists every name).

One part per module: ``resource``, ``spans``, ``logs`` (the only user of the underscored
logs API), ``metrics``, ``exporters`` (lazy), ``drops`` (what full export queues drop,
counted), ``bridge`` (which providers, the bounded flush, fork). Importing this package
imports nothing of OpenTelemetry.
"""

from codetracer_recorder.otel.bridge import (
    DEFAULT_FLUSH_TIMEOUT,
    FLUSH_TIMEOUT_ENV,
    install,
    shutdown,
    uninstall,
)

__all__ = ["DEFAULT_FLUSH_TIMEOUT", "FLUSH_TIMEOUT_ENV", "install", "shutdown", "uninstall"]
