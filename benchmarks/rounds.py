"""Interleaved rounds: every configuration of a workload runs between two untraced runs.

Within a round each workload runs untraced, then under each configuration, then
untraced again, and each traced run is compared with the mean of the two untraced runs
around it. Ratios are taken per round, so slow drifts of a noisy machine (another job,
thermal limits, page cache) hit both sides of a ratio alike; the configuration order
rotates from round to round, so none always runs right after the baseline.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.configurations import BY_NAME, UNTRACED, Configuration
from benchmarks.environments import BENCHMARKS_DIR, Interpreter
from benchmarks.measure import Run, run_once
from benchmarks.profiles import Profile

RUN_SCRIPT = BENCHMARKS_DIR / "workloads" / "run.py"


@dataclass(frozen=True)
class Sample:
    """One timed run of a cell, with the untraced figures of its round at the same scale."""

    round: int
    run: Run
    baseline_work_s: float | None
    baseline_wall_s: float | None


Cell = tuple[str, str, float]
"""(workload, configuration name, scale)."""


def run_rounds(
    profile: Profile,
    interpreter: Interpreter,
    after_round: Callable[[dict[Cell, list[Sample]], int], None],
) -> dict[Cell, list[Sample]]:
    """Run the warm-ups (discarded) and the timed rounds of ``profile``; samples per cell.

    ``after_round(samples, rounds_done)`` runs after each timed round, so that a long run
    leaves usable results behind even when it is stopped before the end.
    """
    configurations = [BY_NAME[name] for name in profile.configurations if name != UNTRACED.name]
    samples: dict[Cell, list[Sample]] = {}
    given_up: set[Cell] = set()
    for round_index in range(-profile.warmups, profile.rounds):
        shift = round_index % len(configurations)
        ordered = configurations[shift:] + configurations[:shift]
        for workload in profile.workloads:
            _one_round(profile, interpreter, workload, ordered, round_index, samples, given_up)
        if round_index >= 0:
            after_round(samples, round_index + 1)
    return samples


def _one_round(
    profile: Profile,
    interpreter: Interpreter,
    workload: str,
    configurations: list[Configuration],
    round_index: int,
    samples: dict[Cell, list[Sample]],
    given_up: set[Cell],
) -> None:
    """One round of one workload. Negative ``round_index`` is a warm-up: run, don't keep."""
    scale_of = {c.name: profile.slow_scale if c.slow else profile.scale for c in configurations}
    scales = sorted(set(scale_of.values()) | {profile.scale})
    before = {
        scale: _run(profile, interpreter, UNTRACED, workload, scale, round_index)
        for scale in scales
    }
    traced: dict[str, Run] = {}
    for configuration in configurations:
        cell = (workload, configuration.name, scale_of[configuration.name])
        if cell in given_up:
            continue
        traced[configuration.name] = _run(
            profile, interpreter, configuration, workload, cell[2], round_index
        )
        if traced[configuration.name].outcome in ("timeout", "trace-limit"):
            given_up.add(cell)  # a second try would cost the same minutes and tell us nothing new
    after = {
        scale: _run(profile, interpreter, UNTRACED, workload, scale, round_index)
        for scale in scales
    }
    for scale in scales:
        baseline = [before[scale], after[scale]]
        work, wall = _mean_ok(baseline, "work_s"), _mean_ok(baseline, "wall_s")
        # A warm-up keeps only the news that a cell timed out and will not be run again.
        kept = [
            (name, run)
            for name, run in traced.items()
            if scale_of[name] == scale and (round_index >= 0 or (workload, name, scale) in given_up)
        ]
        if round_index >= 0:
            kept += [(UNTRACED.name, run) for run in baseline]
        for name, run in kept:
            samples.setdefault((workload, name, scale), []).append(
                Sample(round_index, run, work, wall)
            )


def _run(
    profile: Profile,
    interpreter: Interpreter,
    configuration: Configuration,
    workload: str,
    scale: float,
    round_index: int,
) -> Run:
    target = [str(RUN_SCRIPT), workload, repr(scale)]
    run = run_once(
        lambda out: configuration.command(interpreter, out, target),
        configuration.env,
        profile.timeout_s,
    )
    _progress(profile, interpreter, round_index, workload, configuration, scale, run)
    return run


def _mean_ok(runs: list[Run], field: str) -> float | None:
    values = [getattr(run, field) for run in runs if run.outcome == "ok"]
    return sum(values) / len(values) if values else None


def _progress(
    profile: Profile,
    interpreter: Interpreter,
    round_index: int,
    workload: str,
    configuration: Configuration,
    scale: float,
    run: Run,
) -> None:
    """One line per run on stderr, so a long benchmark can be followed (and a stuck one seen)."""
    which = "warm-up" if round_index < 0 else f"round {round_index + 1}/{profile.rounds}"
    if run.outcome == "ok":
        figures = (
            f"work {run.work_s:.3f} s, wall {run.wall_s:.2f} s, {run.trace_bytes / 1e6:.1f} MB"
        )
    else:
        figures = f"{run.outcome.upper()} after {run.wall_s:.1f} s: {run.error.strip().splitlines()[-1:] or ''}"
    print(
        f"bench {interpreter.version} {profile.name} {which}: {workload}@{scale:g} {configuration.name}: {figures}",
        file=sys.stderr,
        flush=True,
    )
