"""The reliability suite: every case runs the recorder as a user would, in a child
process, and checks the promises of ``harness`` (same behaviour, the trace the policy
says, a bounded run time). ``docs/reliability.md`` lists the cases and their results."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
