"""Record Python programs into CodeTracer traces, with a Rust core on ``sys.monitoring``."""

from codetracer_recorder import _native, policy, recorder_log
from codetracer_recorder.errors import (
    EnvironmentError,
    InternalError,
    RecorderError,
    TargetError,
    UsageError,
)
from codetracer_recorder.metrics import RecorderMetrics, install_metrics, metrics_snapshot
from codetracer_recorder.policy import configure_policy, configure_policy_from_env, policy_snapshot
from codetracer_recorder.session import TraceSession, flush, is_tracing, start, stop, trace

__all__ = [
    "EnvironmentError",
    "InternalError",
    "RecorderError",
    "RecorderMetrics",
    "TargetError",
    "TraceSession",
    "UsageError",
    "__version__",
    "configure_policy",
    "configure_policy_from_env",
    "flush",
    "install_metrics",
    "is_tracing",
    "metrics_snapshot",
    "policy_snapshot",
    "start",
    "stop",
    "trace",
]


__version__: str = _native.__version__
"""The package and its native core are built together by maturin from one version."""

# The CODETRACER_* policy variables apply from import on (story 2); see the function.
policy.apply_environment_at_import()
# A bad CODETRACER_LOG_LEVEL cannot be raised at import: the logger warns and keeps its default.
recorder_log.warn_if_environment_filter_is_invalid()
