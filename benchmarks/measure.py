"""One run of one command: its in-process work time, wall time, peak RSS and output size.

Runs are the dangerous part of benchmarking tracers: a slow peer can take minutes and
write gigabytes. So every run gets its own scratch directory (deleted afterwards), a
process group of its own that is killed whole on a timeout or when the output passes a
size limit, and an outcome that says which of those happened.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPORT_PREFIX = "@bench "
"""The prefix of the line workloads/run.py prints (kept in step with it by the smoke run)."""

TRACE_LIMIT_BYTES = 20 * 2**30
"""Kill a run whose output passes this: far above any trace we mean to measure."""

POLL_S = 0.25

CommandFactory = Callable[[Path], list[str]]
"""Builds the command line, given the scratch directory the tool may write into."""


@dataclass(frozen=True)
class Run:
    """What one run produced. Figures are ``None`` when the run did not finish normally."""

    outcome: str
    """``ok``, ``timeout``, ``trace-limit`` or ``failed`` (nonzero exit or no report line)."""
    wall_s: float
    """End to end: process start to exit, including the tool's start-up and trace writing."""
    work_s: float | None
    """In-process: the workload's own timing of its work."""
    cpu_s: float | None
    peak_rss_kb: int | None
    trace_bytes: int
    """Everything the tool wrote into the scratch directory."""
    error: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def run_once(command_for: CommandFactory, env: dict[str, str], timeout_s: float) -> Run:
    """Run the command ``command_for(scratch_dir)`` builds, in a fresh scratch directory."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        out = Path(scratch) / "out"
        out.mkdir()
        rss_file, stdout_file, stderr_file = (
            Path(scratch) / name for name in ("rss", "stdout", "stderr")
        )
        command = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *command_for(out)]
        with stdout_file.open("wb") as stdout, stderr_file.open("wb") as stderr:
            start = time.perf_counter()
            process = subprocess.Popen(
                command, cwd=out, env={**os.environ, "PYTHONHASHSEED": "0", **env},
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, start_new_session=True,
            )  # fmt: skip
            outcome = _wait(process, out, start + timeout_s)
            wall_s = time.perf_counter() - start
        trace_bytes = _size(out)
        report = parse_report(stdout_file.read_text(errors="replace"))
        if outcome == "ok" and (process.returncode != 0 or report is None):
            outcome = "failed"
        if outcome != "ok":
            tail = stderr_file.read_text(errors="replace")[-2000:]
            return Run(
                outcome, wall_s, None, None, None, trace_bytes, f"exit {process.returncode}: {tail}"
            )
        assert report is not None
        return Run(
            "ok", wall_s, report["work_s"], report["cpu_s"], _peak_rss(rss_file), trace_bytes
        )


def _wait(process: subprocess.Popen[bytes], out: Path, deadline: float) -> str:
    """Wait for the process; kill its whole group at the deadline or past the size limit."""
    while True:
        try:
            process.wait(timeout=POLL_S)
            return "ok"
        except subprocess.TimeoutExpired:
            pass
        if time.perf_counter() > deadline:
            outcome = "timeout"
        elif _size(out) > TRACE_LIMIT_BYTES:
            outcome = "trace-limit"
        else:
            continue
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return outcome


def _size(directory: Path) -> int:
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:  # a tool renamed or removed it meanwhile
                pass
    return total


def parse_report(stdout: str) -> dict[str, float] | None:
    """The JSON of the ``@bench`` line a workload (or the event counter) printed, if any."""
    for line in stdout.splitlines():
        if line.startswith(REPORT_PREFIX):
            return json.loads(line[len(REPORT_PREFIX) :])
    return None


def _peak_rss(rss_file: Path) -> int | None:
    """GNU time's %M (KiB); its file may start with a "Command exited…" line."""
    lines = rss_file.read_text().split()
    return int(lines[-1]) if lines and lines[-1].isdigit() else None


def require_gnu_time() -> None:
    """Fail early, with the fix, when /usr/bin/time (GNU time, for peak RSS) is missing."""
    if shutil.which("/usr/bin/time") is None:
        raise SystemExit("bench: /usr/bin/time is missing; install GNU time (apt-get install time)")
