"""The interpreters the benchmark drives: the recorder's, each peer's own venv, the chart's.

Peers install into their own virtual environments under ``benchmarks/.work/`` (git-ignored),
one per peer and Python version, so that no peer's dependencies meet the project's or each
other's. They are made on first use and reused afterwards; a ``.installed`` file holding
the requirement marks a finished install, so a changed pin makes a fresh one.
"""

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.floor.build import build_floor

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCHMARKS_DIR.parent
WORK_DIR = BENCHMARKS_DIR / ".work"

PEER_REQUIREMENTS = {
    "codetracer": "codetracer-python-recorder==0.3.0",
    "viztracer": "viztracer==1.1.1",
    "coverage": "coverage==7.17.4",
}
"""Peers pinned to the versions measured, so reruns compare like with like."""

CHART_REQUIREMENT = "matplotlib>=3.8,<4"


@dataclass(frozen=True)
class Interpreter:
    """The Python being measured: the recorder's venv and the base interpreter behind it."""

    recorder_python: Path
    base_python: Path
    version: str
    """major.minor, e.g. ``3.12``: names the results file and the peer venvs."""
    full_version: str

    @classmethod
    def of(cls, recorder_python: Path) -> "Interpreter":
        """Ask ``recorder_python`` (a venv with codetracer_recorder installed) what it is."""
        query = (
            "import json, sys, platform; print(json.dumps([sys._base_executable, "
            "f'{sys.version_info[0]}.{sys.version_info[1]}', platform.python_version()]))"
        )
        answer = subprocess.run(
            [recorder_python, "-c", query], capture_output=True, text=True, check=True
        )
        base, version, full_version = json.loads(answer.stdout)
        return cls(Path(recorder_python).absolute(), Path(base), version, full_version)

    def work_dir(self) -> Path:
        return WORK_DIR / self.version

    def peer_python(self, peer: str) -> Path:
        """The python of ``peer``'s venv for this interpreter, installing it on first use."""
        return _venv_with(
            self.work_dir() / f"venv-{peer}", self.base_python, PEER_REQUIREMENTS[peer]
        )

    def peer_bin(self, peer: str) -> Path:
        return self.peer_python(peer).parent

    def floor_dir(self) -> Path:
        """The directory holding the floor extension built for this interpreter."""
        return build_floor(self.recorder_python, self.work_dir() / "floor")


def chart_python() -> Path:
    """The python of the venv that draws the charts (matplotlib stays out of every other venv)."""
    return _venv_with(WORK_DIR / "venv-chart", Path(sys._base_executable), CHART_REQUIREMENT)


def _venv_with(venv: Path, base_python: Path, requirement: str) -> Path:
    marker = venv / ".installed"
    python = venv / "bin" / "python"
    if marker.exists() and marker.read_text().strip() == requirement:
        return python
    print(f"bench: installing {requirement} into {venv.relative_to(REPO_DIR)}", file=sys.stderr)
    subprocess.run([base_python, "-m", "venv", "--clear", venv], check=True)
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
        check=True,
    )
    marker.write_text(requirement + "\n")
    return python
