"""Record Python programs into CodeTracer traces, with a Rust core on ``sys.monitoring``."""

from codetracer_recorder import _native, policy
from codetracer_recorder.errors import (
    EnvironmentError,
    InternalError,
    RecorderError,
    TargetError,
    UsageError,
)
from codetracer_recorder.policy import configure_policy, configure_policy_from_env, policy_snapshot
from codetracer_recorder.session import TraceSession, flush, is_tracing, start, stop, trace

__all__ = [
    "EnvironmentError",
    "InternalError",
    "RecorderError",
    "TargetError",
    "TraceSession",
    "UsageError",
    "__version__",
    "configure_policy",
    "configure_policy_from_env",
    "flush",
    "is_tracing",
    "policy_snapshot",
    "start",
    "stop",
    "trace",
]


__version__: str = _native.__version__
"""The package and its native core are built together by maturin from one version."""

# The CODETRACER_* policy variables apply from import on (story 2); see the function.
policy.apply_environment_at_import()
