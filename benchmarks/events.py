"""Event counts per workload, so that overhead can be quoted per event and events per second.

Counted once per workload, scale and interpreter by hooks/count_events.py (Python
callbacks on the floor's events, around the timed region only), outside the timed rounds.
"""

import subprocess

from benchmarks.environments import BENCHMARKS_DIR, Interpreter
from benchmarks.measure import parse_report

COUNTER = BENCHMARKS_DIR / "hooks" / "count_events.py"


def count_events(
    interpreter: Interpreter, workload: str, scale: float, timeout_s: float
) -> dict[str, object]:
    """``{"events": total, "by_event": {EVENT: count}}`` for one run of ``workload`` at ``scale``."""
    command = [str(interpreter.recorder_python), str(COUNTER), workload, repr(scale)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=True)
    report = parse_report(done.stdout)
    if report is None:
        raise RuntimeError(
            f"the event counter printed no report: {done.stdout[-500:]!r} {done.stderr[-500:]!r}"
        )
    return dict(report)
