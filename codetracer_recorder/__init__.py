"""Record Python programs into CodeTracer traces, with a Rust core on ``sys.monitoring``."""

from codetracer_recorder import _native
from codetracer_recorder.errors import (
    EnvironmentError,
    InternalError,
    RecorderError,
    TargetError,
    UsageError,
)
from codetracer_recorder.session import TraceSession, flush, is_tracing, start, stop, trace

__all__ = [
    "EnvironmentError",
    "InternalError",
    "RecorderError",
    "TargetError",
    "TraceSession",
    "UsageError",
    "__version__",
    "flush",
    "is_tracing",
    "start",
    "stop",
    "trace",
]


__version__: str = _native.__version__
"""The package and its native core are built together by maturin from one version."""
