"""Where and what was measured: the machine, and the recorder's version and git commit."""

import json
import os
import platform
import subprocess
from pathlib import Path

from benchmarks.environments import Interpreter


def machine_info() -> dict[str, object]:
    """CPU model, core count, memory and OS: enough to tell whether two results are comparable."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(_meminfo_kib("MemTotal") / 2**20, 1),
        "platform": platform.platform(),
    }


def recorder_info(interpreter: Interpreter) -> dict[str, object]:
    """The measured recorder's version and the commit of the checkout it was built from.

    ``dirty`` is true when the recorder's sources differ from that commit, in which case the
    commit alone does not identify what was measured.
    """
    query = "import json, os, codetracer_recorder as r; print(json.dumps([r.__version__, os.path.dirname(r.__file__)]))"
    answer = subprocess.run(
        [interpreter.recorder_python, "-c", query], capture_output=True, text=True, check=True
    )
    version, package_dir = json.loads(answer.stdout)
    checkout = Path(package_dir).parent
    commit = _git(checkout, "rev-parse", "HEAD")
    changes = _git(
        checkout,
        "status",
        "--porcelain",
        "--",
        "src",
        "codetracer_recorder",
        "Cargo.toml",
        "Cargo.lock",
        "pyproject.toml",
    )
    return {"version": version, "commit": commit, "dirty": bool(changes)}


def _git(directory: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(directory), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _meminfo_kib(key: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
