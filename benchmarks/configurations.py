"""The configurations a workload runs under: untraced, our recorder, the peers and the floor.

Each one turns the workload command (``run.py NAME SCALE``) into the command line that
runs it under that tool, writing any output into the run's own scratch directory.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.environments import BENCHMARKS_DIR, Interpreter

HOOKS_DIR = BENCHMARKS_DIR / "hooks"
CODETRACER_NO_VALUES = BENCHMARKS_DIR / "filters" / "codetracer-no-values.toml"
CODETRACER_NO_GLOBALS = BENCHMARKS_DIR / "filters" / "codetracer-no-globals.toml"

CommandBuilder = Callable[[Interpreter, Path, list[str]], list[str]]
"""(interpreter, scratch directory for the tool's output, workload command) -> command line."""


@dataclass(frozen=True)
class Configuration:
    """One way of running a workload, and what it stands for in the tables."""

    name: str
    """The stable key in results files."""
    description: str
    group: str
    """``baseline``, ``recorder`` (ours), ``floor`` or ``peer``: orders and colours the report."""
    command: CommandBuilder
    env: dict[str, str] = field(default_factory=dict)
    slow: bool = False
    """Thousands of times slower than untraced: runs at the profile's reduced scale."""


def _recorder(capture: str, trace_format: str) -> CommandBuilder:
    def command(interpreter: Interpreter, out: Path, workload: list[str]) -> list[str]:
        return [
            str(interpreter.recorder_python), "-m", "codetracer_recorder", "--trace-dir", str(out / "trace"),
            "--format", trace_format, "--capture", capture, *workload,
        ]  # fmt: skip

    return command


def _codetracer(*options: str) -> CommandBuilder:
    def command(interpreter: Interpreter, out: Path, workload: list[str]) -> list[str]:
        python = interpreter.peer_python("codetracer")
        return [
            str(python),
            "-m",
            "codetracer_python_recorder",
            "--trace-dir",
            str(out / "trace"),
            *options,
            *workload,
        ]

    return command


def _untraced(interpreter: Interpreter, out: Path, workload: list[str]) -> list[str]:
    return [str(interpreter.recorder_python), *workload]


def _floor(interpreter: Interpreter, out: Path, workload: list[str]) -> list[str]:
    return [
        str(interpreter.recorder_python),
        str(HOOKS_DIR / "with_floor.py"),
        str(interpreter.floor_dir()),
        *workload,
    ]


def _settrace(interpreter: Interpreter, out: Path, workload: list[str]) -> list[str]:
    return [str(interpreter.recorder_python), str(HOOKS_DIR / "with_settrace_noop.py"), *workload]


def _cprofile(interpreter: Interpreter, out: Path, workload: list[str]) -> list[str]:
    return [
        str(interpreter.recorder_python),
        "-m",
        "cProfile",
        "-o",
        str(out / "profile.out"),
        *workload,
    ]


def _coverage(interpreter: Interpreter, out: Path, workload: list[str]) -> list[str]:
    return [
        str(interpreter.peer_bin("coverage") / "coverage"),
        "run",
        f"--data-file={out / '.coverage'}",
        *workload,
    ]


def _viztracer(interpreter: Interpreter, out: Path, workload: list[str]) -> list[str]:
    return [
        str(interpreter.peer_bin("viztracer") / "viztracer"),
        "--quiet",
        "-o",
        str(out / "viztracer.json"),
        "--",
        *workload,
    ]


UNTRACED = Configuration("untraced", "plain python", "baseline", _untraced)

CONFIGURATIONS = (
    UNTRACED,
    Configuration(
        "floor", "no-op C callback per sys.monitoring event (the floor)", "floor", _floor
    ),
    Configuration(
        "recorder-none-json",
        "this recorder, --capture none, json",
        "recorder",
        _recorder("none", "json"),
    ),
    Configuration(
        "recorder-none-binary",
        "this recorder, --capture none, binary",
        "recorder",
        _recorder("none", "binary"),
    ),
    Configuration(
        "recorder-args-json",
        "this recorder, --capture args, json",
        "recorder",
        _recorder("args", "json"),
    ),
    Configuration(
        "recorder-locals-json",
        "this recorder, --capture locals (default), json",
        "recorder",
        _recorder("locals", "json"),
    ),
    Configuration(
        "recorder-locals-binary",
        "this recorder, --capture locals (default), binary",
        "recorder",
        _recorder("locals", "binary"),
    ),
    Configuration("cprofile", "python -m cProfile", "peer", _cprofile),
    Configuration(
        "coverage-sysmon",
        "coverage run, COVERAGE_CORE=sysmon",
        "peer",
        _coverage,
        {"COVERAGE_CORE": "sysmon"},
    ),
    Configuration(
        "settrace-noop", "a no-op sys.settrace function (also on lines)", "peer", _settrace
    ),
    Configuration("viztracer", "viztracer (default options)", "peer", _viztracer),
    Configuration(
        "codetracer-0.3.0-no-values",
        "codetracer-python-recorder 0.3.0, values dropped by its trace filter",
        "peer",
        _codetracer("--trace-filter", str(CODETRACER_NO_VALUES)),
        slow=True,
    ),
    Configuration(
        "codetracer-0.3.0-no-globals",
        "codetracer-python-recorder 0.3.0, module globals dropped by its trace filter",
        "peer",
        _codetracer("--trace-filter", str(CODETRACER_NO_GLOBALS)),
        slow=True,
    ),
    Configuration(
        "codetracer-0.3.0",
        "codetracer-python-recorder 0.3.0, default (binary; locals and globals)",
        "peer",
        _codetracer(),
        slow=True,
    ),
)
"""Every configuration, in report order."""

BY_NAME = {configuration.name: configuration for configuration in CONFIGURATIONS}
