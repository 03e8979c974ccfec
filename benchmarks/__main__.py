"""The benchmark's command line: ``python -m benchmarks run|report|smoke|check`` (see README.md)."""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import report, results, startup
from benchmarks.configurations import BY_NAME
from benchmarks.environments import BENCHMARKS_DIR, REPO_DIR, WORK_DIR, Interpreter, chart_python
from benchmarks.events import count_events
from benchmarks.machine import machine_info, recorder_info
from benchmarks.measure import require_gnu_time
from benchmarks.profiles import PROFILES, Profile
from benchmarks.rounds import Cell, Sample, run_rounds

RESULTS_DIR = BENCHMARKS_DIR / "results"
DEFAULT_RECORDER_PYTHON = REPO_DIR / ".venv" / "bin" / "python"


def run(profile: Profile, recorder_python: Path, results_dir: Path) -> Path:
    """Run ``profile`` with the recorder installed in ``recorder_python``; write and print the results."""
    require_gnu_time()
    interpreter = Interpreter.of(recorder_python)
    _prepare(profile, interpreter)
    scales = {profile.scale} | (
        {profile.slow_scale} if any(BY_NAME[n].slow for n in profile.configurations) else set()
    )
    events = {
        (w, s): count_events(interpreter, w, s, timeout_s=20 * profile.timeout_s)
        for w in profile.workloads
        for s in sorted(scales)
    }
    header = {
        "profile": profile.name,
        "python": {
            "version": interpreter.full_version,
            "minor": interpreter.version,
            "executable": str(interpreter.base_python),
        },
        "machine": machine_info(),
        "recorder": recorder_info(interpreter),
        "method": {
            "scale": profile.scale,
            "slow_scale": profile.slow_scale,
            "rounds": profile.rounds,
            "warmups": profile.warmups,
            "timeout_s": profile.timeout_s,
        },
        "startup": startup.measure(interpreter, profile.startup_runs),
    }
    path = results_dir / f"{interpreter.version}.json"

    def write(samples: dict[Cell, list[Sample]], rounds_done: int) -> None:
        results.write(
            results.build(samples, events, {**header, "rounds_completed": rounds_done}), path
        )

    run_rounds(profile, interpreter, write)
    print(report.render(json.loads(path.read_text())))
    print(f"bench: wrote {path}", file=sys.stderr)
    return path


def _prepare(profile: Profile, interpreter: Interpreter) -> None:
    """Install peer venvs and build the floor before any timed run, not inside one.

    Building each command once does it: the builders install or build what they name.
    """
    for name in profile.configurations:
        BY_NAME[name].command(interpreter, WORK_DIR, [])


def write_report(results_dir: Path) -> None:
    """Charts for every results file, then the README's generated section."""
    for path in sorted(results_dir.glob("*.json")):
        subprocess.run(
            [chart_python(), "-m", "benchmarks.chart", path, path.with_suffix(".png")],
            cwd=REPO_DIR,
            check=True,
        )
    report.update_readme(BENCHMARKS_DIR / "README.md", results_dir)


def smoke(recorder_python: Path) -> None:
    """Run the harness once on a tiny workload and check the file it writes: no timings asserted."""
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as scratch:
        path = run(PROFILES["smoke"], recorder_python, Path(scratch))
        problems = results.check(path)
    if problems:
        raise SystemExit("bench smoke: malformed results:\n  " + "\n  ".join(problems))
    print("bench smoke: ok", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run a profile and write its results file")
    run_parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    run_parser.add_argument(
        "--recorder-python",
        type=Path,
        default=DEFAULT_RECORDER_PYTHON,
        help="python of a venv with codetracer_recorder installed; its version is the one measured",
    )
    run_parser.add_argument(
        "--results-dir",
        type=Path,
        help="default: benchmarks/results for the full profile, benchmarks/.work/results/PROFILE otherwise",
    )
    commands.add_parser(
        "report", help="draw the charts and regenerate the tables in benchmarks/README.md"
    )
    smoke_parser = commands.add_parser(
        "smoke", help="run the harness on a tiny workload and check its output (for make test)"
    )
    smoke_parser.add_argument("--recorder-python", type=Path, default=DEFAULT_RECORDER_PYTHON)
    check_parser = commands.add_parser("check", help="check that results files are well-formed")
    check_parser.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "run":
        profile = PROFILES[args.profile]
        run(
            profile,
            args.recorder_python,
            args.results_dir
            or (RESULTS_DIR if profile.committed else WORK_DIR / "results" / profile.name),
        )
    elif args.command == "report":
        write_report(RESULTS_DIR)
    elif args.command == "smoke":
        smoke(args.recorder_python)
    else:
        problems = [f"{path}: {problem}" for path in args.paths for problem in results.check(path)]
        if problems:
            raise SystemExit("\n".join(problems))


if __name__ == "__main__":
    main()
