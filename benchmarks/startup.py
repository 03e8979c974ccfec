"""Start-up: ``python -m codetracer_recorder`` on an empty script against plain Python.

What a user pays before their first line runs and after their last: interpreter start,
the recorder's imports, starting the session, writing and syncing an empty trace. The
two commands alternate (plain, recorded, plain, ...) and each recorded run is compared
with the mean of the plain runs on either side, as the workload rounds do. Bytecode
caching is on, as it is for an installed package (a shell that sets
``PYTHONDONTWRITEBYTECODE`` would otherwise make every run recompile the recorder).
"""

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.environments import Interpreter

TARGET_MS = 50.0
"""Issue 3's target: within 50 ms of plain Python."""


def measure(interpreter: Interpreter, runs: int, warmups: int = 3) -> dict[str, object]:
    """Median wall times (ms) of plain and recorded start-up, and of their per-run difference."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch:
        script = Path(scratch) / "empty.py"
        script.write_text("")
        trace_dir = Path(scratch) / "trace"
        plain = [str(interpreter.recorder_python), str(script)]
        recorded = [str(interpreter.recorder_python), "-m", "codetracer_recorder",
                    "--trace-dir", str(trace_dir), str(script)]  # fmt: skip

        def wall_ms(command: list[str]) -> float:
            start = time.perf_counter()
            subprocess.run(command, cwd=scratch, env=env, check=True, stdout=subprocess.DEVNULL)
            elapsed = (time.perf_counter() - start) * 1000
            shutil.rmtree(trace_dir, ignore_errors=True)
            return elapsed

        for _ in range(warmups):
            wall_ms(plain), wall_ms(recorded)
        plains = [wall_ms(plain)]
        recordeds = []
        for _ in range(runs):
            recordeds.append(wall_ms(recorded))
            plains.append(wall_ms(plain))
    overheads = [r - (a + b) / 2 for r, a, b in zip(recordeds, plains, plains[1:], strict=False)]
    return {
        "runs": runs,
        "plain_ms": statistics.median(plains),
        "recorded_ms": statistics.median(recordeds),
        "overhead_ms": statistics.median(overheads),
        "target_ms": TARGET_MS,
    }
