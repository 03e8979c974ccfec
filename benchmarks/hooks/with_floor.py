"""Run a script with the floor's no-op C callback registered for every recorded event.

Usage: ``python with_floor.py FLOOR_DIR script.py [args ...]``, where FLOOR_DIR holds the
``_floor`` extension that floor/build.py compiled for this interpreter.
"""

import sys

from run_as_main import run_as_main

FLOOR_DIR, TARGET = sys.argv[1], sys.argv[2:]
sys.path.append(FLOOR_DIR)
import _floor  # found through FLOOR_DIR, so imported after it is on the path

EVENTS = sys.monitoring.events
RECORDED_EVENTS = (
    EVENTS.PY_START,
    EVENTS.PY_RESUME,
    EVENTS.PY_THROW,
    EVENTS.PY_RETURN,
    EVENTS.PY_YIELD,
    EVENTS.PY_UNWIND,
    EVENTS.LINE,
)
"""What a recorder of calls, returns and lines must see, and so what the floor pays for."""

TOOL_ID = sys.monitoring.PROFILER_ID

sys.monitoring.use_tool_id(TOOL_ID, "benchmark floor")
for event in RECORDED_EVENTS:
    sys.monitoring.register_callback(TOOL_ID, event, _floor.noop)
sys.monitoring.set_events(TOOL_ID, sum(RECORDED_EVENTS))
run_as_main(TARGET)
