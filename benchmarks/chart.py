"""Draw one results file as a PNG: ratio to untraced per configuration, one dot per workload.

Runs in its own venv (environments.chart_python), the only place matplotlib is installed.
Usage: ``python -m benchmarks.chart RESULTS.json OUT.png``.
"""

import json
import math
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: draw straight to a file
import matplotlib.pyplot as plt  # after use(): the backend must be chosen first
from matplotlib.ticker import FuncFormatter

GROUP_COLOURS = {"floor": "#7f7f7f", "recorder": "#1f77b4", "peer": "#ff7f0e"}
MARKERS = "osD^vP*X"


def draw(document: dict[str, Any], out: Path) -> None:
    """Horizontal bars (geomean over workloads) on a log axis, with each workload as a dot."""
    cells = [c for c in document["cells"] if c["configuration"] != "untraced"]
    workloads = list(dict.fromkeys(c["workload"] for c in cells))
    names = list(dict.fromkeys(c["configuration"] for c in cells))
    names.sort(key=lambda name: _geomean([_ratio(c) for c in cells if c["configuration"] == name]))
    figure, axes = plt.subplots(figsize=(10, 0.45 * len(names) + 1.8))
    for row, name in enumerate(names):
        ratios = [_ratio(c) for c in cells if c["configuration"] == name]
        group = document["configurations"][name]["group"]
        axes.barh(
            row, _geomean(ratios), color=GROUP_COLOURS.get(group, "#999999"), alpha=0.35, height=0.7
        )
        for index, workload in enumerate(workloads):
            cell = next(
                (c for c in cells if c["configuration"] == name and c["workload"] == workload), None
            )
            if cell is None:
                continue
            ratio = _ratio(cell)
            timed_out = cell["outcome"] != "ok"
            axes.scatter(ratio, row, marker=">" if timed_out else MARKERS[index % len(MARKERS)],
                         color="black" if timed_out else f"C{index}", s=28, zorder=3,
                         label=workload if row == len(names) - 1 else None)  # fmt: skip
        axes.text(
            _geomean(ratios) * 1.08, row + 0.28, f"{_geomean(ratios):.3g}×", fontsize=7, va="center"
        )
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}×"))
    axes.axvline(1, color="black", linewidth=0.8)
    axes.set_yticks(range(len(names)), names, fontsize=8)
    axes.set_xlabel(
        "in-process time ÷ untraced (log scale; bar = geomean over workloads, ▶ = timed out)"
    )
    recorder = document["recorder"]
    axes.set_title(
        f"Tracing overhead, Python {document['python']['version']}, recorder {recorder['commit'][:10]}",
        fontsize=10,
    )
    axes.grid(axis="x", which="both", alpha=0.25)
    axes.legend(fontsize=7, loc="lower right", ncols=2)
    figure.tight_layout()
    figure.savefig(out, dpi=120)


def _ratio(cell: dict[str, Any]) -> float:
    """The median ratio, or for a run that timed out the least it can be (timeout ÷ untraced)."""
    if cell["outcome"] == "ok" and cell["ratio"]:
        return float(cell["ratio"]["median"])
    baseline = min(
        (s["baseline_wall_s"] for s in cell["samples"] if s["baseline_wall_s"]), default=None
    )
    return cell["timeout_after_s"] / baseline if cell["timeout_after_s"] and baseline else math.nan


def _geomean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v) and v > 0]
    return math.exp(sum(map(math.log, finite)) / len(finite)) if finite else math.nan


if __name__ == "__main__":
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
