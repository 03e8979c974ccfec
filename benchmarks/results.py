"""The results file: per-cell medians, minima and maxima, with the raw samples behind them.

One JSON file per Python version (``results/3.12.json``). It carries what is needed to
judge and reproduce it: machine, interpreter, the recorder's commit, the method
(profile, scale, rounds), the event counts, and every run.
"""

import datetime
import json
import math
import statistics
from pathlib import Path

from benchmarks.configurations import BY_NAME
from benchmarks.rounds import Cell, Sample

SCHEMA = 1
STAT_KEYS = ("median", "min", "max")


def build(
    samples: dict[Cell, list[Sample]],
    events: dict[tuple[str, float], dict[str, object]],
    header: dict[str, object],
) -> dict[str, object]:
    """The results document: ``header`` (machine, python, recorder, method) plus one entry per cell."""
    cells = [
        _cell(workload, name, scale, runs, events[(workload, scale)])
        for (workload, name, scale), runs in samples.items()
    ]
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **header,
        "configurations": {
            name: {"description": BY_NAME[name].description, "group": BY_NAME[name].group}
            for name in {c["configuration"] for c in cells}
        },
        "events": [
            {"workload": workload, "scale": scale, **counts}
            for (workload, scale), counts in events.items()
        ],
        "cells": cells,
    }


def _cell(
    workload: str, name: str, scale: float, samples: list[Sample], counts: dict[str, object]
) -> dict[str, object]:
    """Summary figures of one cell. Ratios and per-event costs are taken per round, then summarised."""
    ok = [sample for sample in samples if sample.run.outcome == "ok"]
    events = int(str(counts["events"]))
    paired = [s for s in ok if s.baseline_work_s and s.baseline_wall_s]
    outcomes: dict[str, int] = {}
    for sample in samples:
        outcomes[sample.run.outcome] = outcomes.get(sample.run.outcome, 0) + 1
    return {
        "workload": workload,
        "configuration": name,
        "scale": scale,
        "outcome": "ok" if ok else samples[0].run.outcome,
        "outcomes": outcomes,
        "events": events,
        "ratio": _stats([s.run.work_s / s.baseline_work_s for s in paired]),
        "end_to_end_ratio": _stats([s.run.wall_s / s.baseline_wall_s for s in paired]),
        "ns_per_event": _stats(
            [(s.run.work_s - s.baseline_work_s) / events * 1e9 for s in paired] if events else []
        ),
        "events_per_s": _stats([events / s.run.work_s for s in ok if s.run.work_s]),
        "work_s": _stats([s.run.work_s for s in ok]),
        "wall_s": _stats([s.run.wall_s for s in ok]),
        "peak_rss_kb": _stats([s.run.peak_rss_kb for s in ok if s.run.peak_rss_kb is not None]),
        "trace_bytes": _stats([s.run.trace_bytes for s in ok]),
        "timeout_after_s": max(
            (s.run.wall_s for s in samples if s.run.outcome == "timeout"), default=None
        ),
        "samples": [
            {
                "round": s.round,
                **s.run.to_json(),
                "baseline_work_s": s.baseline_work_s,
                "baseline_wall_s": s.baseline_wall_s,
            }
            for s in samples
        ],
    }


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def write(document: dict[str, object], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n")


def check(path: Path) -> list[str]:
    """Every way ``path`` is not a well-formed results file; empty when it is.

    Checks shape and consistency, never timings: the smoke run uses it to keep the harness
    from rotting without turning speed into a test.
    """
    problems: list[str] = []
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return [f"{path}: unreadable: {error}"]
    for key in (
        "schema",
        "created",
        "profile",
        "rounds_completed",
        "python",
        "machine",
        "recorder",
        "method",
        "startup",
        "configurations",
        "events",
        "cells",
    ):
        if key not in document:
            problems.append(f"missing top-level key {key!r}")
    if problems:
        return problems
    if document["schema"] != SCHEMA:
        problems.append(f"schema {document['schema']!r}, expected {SCHEMA}")
    for key in ("plain_ms", "recorded_ms", "overhead_ms", "target_ms"):
        if not isinstance(document["startup"].get(key), (int, float)):
            problems.append(f"startup: {key} is not a number")
    counted = {(entry["workload"], entry["scale"]) for entry in document["events"]}
    for cell in document["cells"]:
        where = f"cell {cell.get('workload')}/{cell.get('configuration')}"
        if cell.get("configuration") not in document["configurations"]:
            problems.append(f"{where}: configuration not described")
        if (cell.get("workload"), cell.get("scale")) not in counted:
            problems.append(f"{where}: no event count for its workload and scale")
        if cell.get("outcome") == "ok":
            for key in ("ratio", "work_s", "wall_s", "peak_rss_kb", "trace_bytes"):
                stats = cell.get(key)
                if not isinstance(stats, dict) or set(stats) != set(STAT_KEYS):
                    problems.append(f"{where}: {key} is not median/min/max")
                elif not all(
                    isinstance(v, (int, float)) and math.isfinite(v) and v >= 0
                    for v in stats.values()
                ):
                    problems.append(
                        f"{where}: {key} has a value that is not a finite non-negative number"
                    )
                elif not stats["min"] <= stats["median"] <= stats["max"]:
                    problems.append(f"{where}: {key} median outside min..max")
        if not cell.get("samples"):
            problems.append(f"{where}: no samples")
    return problems
