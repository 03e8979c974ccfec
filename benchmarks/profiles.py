"""How much to run: the full benchmark, the quick one for development, and the smoke test."""

from dataclasses import dataclass

from benchmarks.configurations import CONFIGURATIONS

ALL_WORKLOADS = (
    "recursion",
    "numeric_loop",
    "objects",
    "generators",
    "exceptions",
    "text_processing",
)


@dataclass(frozen=True)
class Profile:
    """A run plan: which cells, at what scale, how many rounds, and the per-run time cap."""

    name: str
    workloads: tuple[str, ...]
    configurations: tuple[str, ...]
    """Names from configurations.py; ``untraced`` is always run and need not be listed."""
    scale: float
    """Workload scale: 1.0 is about 0.4–0.5 s of untraced work each on the reference box."""
    slow_scale: float
    """Scale for slow configurations (codetracer 0.3.0 runs thousands of times slower)."""
    rounds: int
    warmups: int
    timeout_s: float
    startup_runs: int
    """Recorded start-ups timed (each between two plain ones), see startup.py."""
    committed: bool
    """Whether results go to benchmarks/results/ (and so into the README) or stay in .work/."""


FULL = Profile(
    name="full",
    workloads=ALL_WORKLOADS,
    configurations=tuple(configuration.name for configuration in CONFIGURATIONS),
    scale=1.0,
    slow_scale=0.01,
    rounds=5,
    warmups=1,
    timeout_s=120.0,
    startup_runs=30,
    committed=True,
)

QUICK = Profile(
    name="quick",
    workloads=ALL_WORKLOADS,
    configurations=(
        "floor",
        "recorder-none-json",
        "recorder-locals-json",
        "recorder-locals-binary",
        "cprofile",
    ),
    scale=0.05,
    slow_scale=0.01,
    rounds=3,
    warmups=1,
    timeout_s=30.0,
    startup_runs=10,
    committed=False,
)

TARGETS = Profile(
    name="targets",
    workloads=ALL_WORKLOADS,
    configurations=(
        "floor",
        "recorder-none-json",
        "recorder-none-binary",
        "recorder-locals-json",
        "recorder-locals-binary",
        "codetracer-0.3.0-no-globals",
    ),
    scale=1.0,
    slow_scale=0.01,
    rounds=5,
    warmups=1,
    timeout_s=120.0,
    startup_runs=30,
    committed=True,
)
"""The full method on the configurations issue 3's targets name (about a third of the
full profile's time): what a second Python version is measured with when time is short."""

SMOKE = Profile(
    name="smoke",
    workloads=("recursion",),
    configurations=("recorder-locals-json",),
    scale=0.005,
    slow_scale=0.005,
    rounds=1,
    warmups=0,
    timeout_s=20.0,
    startup_runs=1,
    committed=False,
)

PROFILES = {profile.name: profile for profile in (FULL, TARGETS, QUICK, SMOKE)}
