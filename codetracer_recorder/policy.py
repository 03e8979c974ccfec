"""The recorder policy: what the recorder does when it fails, set from code, environment
variables or command-line flags.

The policy is one global snapshot in the Rust core (``src/policy.rs``). Its table of fields
(:data:`FIELDS`) gives each field's keyword, environment variable and CLI flags, and the
core parses every value, from any of them, with the same rules; a bad value raises
``UsageError`` (``ERR_INVALID_POLICY_VALUE``) naming where it came from, the value and what
is accepted. Sources are layered: the defaults, then the environment (applied when this
package is imported, and again by :func:`~codetracer_recorder.start` and the CLI), then
explicit overrides (``start(policy=...)``, :func:`configure_policy`, CLI flags). A session
copies the policy when it starts.
"""

import contextlib
import os
from typing import Literal, TypedDict

from codetracer_recorder import _native
from codetracer_recorder._native import (
    configure_policy,
    configure_policy_from_env,
    parse_policy_value,
    policy_snapshot,
    reset_policy,
)
from codetracer_recorder.errors import UsageError

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "FIELDS",
    "PolicyField",
    "PolicyOverrides",
    "PolicySnapshot",
    "configure_policy",
    "configure_policy_from_env",
    "parse_policy_value",
    "policy_snapshot",
    "reset_policy",
]

OnRecorderError = Literal["abort", "disable"]
"""``abort`` (default): a failure while recording stops recording and ``stop()`` raises it.
``disable``: the recorder detaches with a warning and the program runs on unrecorded."""


class PolicyField(TypedDict):
    """One row of the core's table of policy fields."""

    name: str
    """The keyword of :func:`configure_policy` and the key of :func:`policy_snapshot`."""
    env: str
    """The ``CODETRACER_*`` environment variable."""
    flag: str
    """The CLI flag (``--codetracer-…``)."""
    upstream_flag: str
    """The upstream CodeTracer recorder's spelling of the flag, accepted too."""
    kind: Literal["choice", "bool", "log_filter", "path"]
    """``bool`` fields are switches: ``--flag`` alone means true, ``--flag=VALUE`` sets it."""
    accepted: str
    """The accepted values, as error messages state them."""
    help: str


class PolicyOverrides(TypedDict, total=False):
    """Explicit settings, as ``start(policy=...)`` and :func:`configure_policy` take them.

    Switches take a bool or the text the environment variables take (``"yes"``, ``"0"``);
    ``None`` (or leaving a key out) keeps the current value."""

    on_recorder_error: OnRecorderError | None
    require_trace: bool | str | None
    keep_partial_trace: bool | str | None
    log_level: str | None
    log_file: str | os.PathLike[str] | None
    json_errors: bool | str | None


class PolicySnapshot(TypedDict):
    """What :func:`policy_snapshot` returns: the whole current policy."""

    on_recorder_error: OnRecorderError
    require_trace: bool
    keep_partial_trace: bool
    log_level: str | None
    """The log filter (``info``, ``codetracer_recorder=debug``), None for the default."""
    log_file: str | None
    """An absolute path, or None for stderr."""
    json_errors: bool


FIELDS: tuple[PolicyField, ...] = _native.POLICY_FIELDS
"""Every policy field, in the core's order."""

ENVIRONMENT_VARIABLES: dict[str, str] = {field["env"]: field["name"] for field in FIELDS}
"""Each ``CODETRACER_*`` variable the policy reads, and the field it sets."""


def apply_environment_at_import() -> None:
    """Apply the policy environment variables when the package is imported.

    A bad value is not raised here, where it would break every ``import`` of the package:
    it is raised by :func:`~codetracer_recorder.start` (which reads the environment again)
    and reported by the CLI, before anything is recorded.
    """
    with contextlib.suppress(UsageError):
        configure_policy_from_env()
