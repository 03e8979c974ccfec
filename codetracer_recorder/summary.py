"""``python -m codetracer_recorder.summary DIR...``: what each trace directory holds.

Each trace is loaded and checked with the ``runtime_tracing`` crate's own reader
(``_native.trace_summary``), so a summary is also proof the trace is valid. Unlike the
recorder, this tool's output is its purpose: it prints to stdout.
"""

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codetracer_recorder import _native
from codetracer_recorder.errors import RecorderError, one_line, usage_error

PROG = "python -m codetracer_recorder.summary"


def main(argv: Sequence[str] | None = None) -> int:
    """Print a summary of each trace directory; exit status 2 if any is not a valid trace."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Summarise CodeTracer trace directories written by codetracer-recorder.",
    )
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="a trace directory")
    options = parser.parse_args(argv)
    status = 0
    separator = ""
    for directory in options.dirs:
        try:
            text = describe(directory, _native.trace_summary(directory))
        except RecorderError as error:
            print(f"{PROG}: error: {directory}: {one_line(error)}", file=sys.stderr)
            status = 2
            continue
        print(separator + text)
        separator = "\n"
    return status


def describe(directory: str, summary: dict[str, Any]) -> str:
    """The summary of one trace as aligned ``label  value`` lines under its path."""
    paths_file = Path(directory) / "trace_paths.json"
    try:
        files: list[str] = json.loads(paths_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise usage_error(
            "ERR_TRACE_INVALID", f"cannot read {paths_file}: {error}", path=directory
        ) from None
    rows = [
        ("program", _shown(summary["program"])),
        ("format", f"{summary['format']}, {_size(summary['bytes'])}"),
        (
            "events",
            (
                f"{summary['events']:,}: {summary['calls']:,} calls, "
                f"{summary['steps']:,} steps, {summary['values']:,} values"
            ),
        ),
        *(("files" if i == 0 else "", _shown(path)) for i, path in enumerate(files)),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join([directory, *(f"  {label:<{width}}  {value}" for label, value in rows)])


def _shown(path: str) -> str:
    """A path relative to the current directory when it is inside it: shorter to read."""
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return path if relative.startswith("..") else relative


def _size(count: int) -> str:
    """A byte count in binary units: ``512 B``, ``35.2 KiB``, ``1.4 MiB``."""
    size, unit = float(count), "B"
    for bigger in ("KiB", "MiB", "GiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"


if __name__ == "__main__":
    sys.exit(main())
