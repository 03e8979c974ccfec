"""Count the events one workload run produces, so times can be quoted per event.

Usage: ``python count_events.py NAME SCALE``. Counts exactly the timed region of
workloads/run.py (the call to the workload's ``run``), with Python callbacks on the same
events the floor registers (hooks/with_floor.py). Slow, but it runs once per workload
and interpreter, outside the timed rounds. Prints one ``@bench`` line with the counts.
"""

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "workloads"))
from run import REPORT_PREFIX, workload  # workloads/ is put on the path just above

EVENTS = sys.monitoring.events
COUNTED = {
    "PY_START": EVENTS.PY_START,
    "PY_RESUME": EVENTS.PY_RESUME,
    "PY_THROW": EVENTS.PY_THROW,
    "PY_RETURN": EVENTS.PY_RETURN,
    "PY_YIELD": EVENTS.PY_YIELD,
    "PY_UNWIND": EVENTS.PY_UNWIND,
    "LINE": EVENTS.LINE,
}
TOOL_ID = sys.monitoring.PROFILER_ID


def main() -> None:
    name, scale = sys.argv[1], float(sys.argv[2])
    run = workload(name)
    counts = dict.fromkeys(COUNTED, 0)

    def counter(event_name: str) -> Any:
        def count(*args: Any) -> None:
            counts[event_name] += 1

        return count

    sys.monitoring.use_tool_id(TOOL_ID, "benchmark event counter")
    for event_name, event in COUNTED.items():
        sys.monitoring.register_callback(TOOL_ID, event, counter(event_name))
    sys.monitoring.set_events(TOOL_ID, sum(COUNTED.values()))
    run(scale)
    sys.monitoring.set_events(TOOL_ID, 0)
    print(REPORT_PREFIX + json.dumps({"events": sum(counts.values()), "by_event": counts}))


if __name__ == "__main__":
    main()
