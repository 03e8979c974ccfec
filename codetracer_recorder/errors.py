"""The recorder's exceptions: declared once in Rust (``src/errors.rs``), re-exported here.

Every one carries ``code`` (a stable ``ERR_*`` string), ``kind`` (``usage``, ``environment``,
``target`` or ``internal``) and ``context`` (a ``dict[str, str]``), so callers branch on the
code instead of parsing messages.

``EnvironmentError`` here is the recorder's class (the machine got in the way), not Python's
builtin ``EnvironmentError``, which is an alias of ``OSError``. Import it from this module.
"""

from codetracer_recorder import _native
from codetracer_recorder._native import (
    EnvironmentError,
    InternalError,
    RecorderError,
    TargetError,
    UsageError,
)

__all__ = [
    "EnvironmentError",
    "InternalError",
    "RecorderError",
    "TargetError",
    "UsageError",
    "one_line",
    "usage_error",
]


def usage_error(code: str, message: str, **context: object) -> UsageError:
    """A ``UsageError`` for a mistake the Python layer catches itself, shaped like the native
    ones (``[ERR_X] message``, same attributes) so callers cannot tell where it came from."""
    error = UsageError(f"[{code}] {message}")
    error.code = code
    error.kind = "usage"
    error.context = {key: str(value) for key, value in context.items()}
    # It reaches the caller as a native one would, so with json_errors it has its trailer.
    _native.write_trailer(error)
    return error


def one_line(error: RecorderError) -> str:
    """The error's ``[ERR_X] message`` on a single line, for a command line's stderr (an
    OS error quoted in the message may span lines)."""
    return " ".join(str(error).split())
