"""Build the floor extension (floor.c) for one interpreter, with gcc and its own headers.

Built by the benchmark itself rather than shipped, so it always matches the interpreter
being measured (its headers, ABI tag and extension suffix) and needs no packaging.
"""

import json
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("floor.c")

_QUERY = (
    "import json, sysconfig; print(json.dumps({'include': sysconfig.get_paths()['include'],"
    " 'suffix': sysconfig.get_config_var('EXT_SUFFIX')}))"
)
"""Asks the target interpreter (not the harness's) where its headers are and how it names extensions."""


def build_floor(python: Path, out_dir: Path) -> Path:
    """Compile the floor for ``python`` into ``out_dir`` unless it is up to date; return ``out_dir``."""
    config = json.loads(
        subprocess.run([python, "-c", _QUERY], capture_output=True, text=True, check=True).stdout
    )
    target = out_dir / f"_floor{config['suffix']}"
    if target.exists() and target.stat().st_mtime >= SOURCE.stat().st_mtime:
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-shared",
            "-fPIC",
            f"-I{config['include']}",
            str(SOURCE),
            "-o",
            str(target),
        ],
        check=True,
    )
    return out_dir
