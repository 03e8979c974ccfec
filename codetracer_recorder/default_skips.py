"""Where the code lives that the recorder skips: code the user did not write.

Two lists go to the native filter. Files under a *default skip* prefix (the standard
library) are skipped unless an ``include`` glob names them. Files under an *internal*
prefix (the recorder's own package and OpenTelemetry's, whose SDK and exporters run inside
the recorded process) are never recorded, whatever the globs say.
"""

import importlib.util
import os
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from pathlib import Path

_SITE_DIR_NAMES = ("site-packages", "dist-packages")
"""Names of the directories where installers put third-party packages (Debian: dist-packages)."""


def default_skip_prefixes() -> list[str]:
    """The standard library's prefixes (see ``_prefixes``)."""
    return _prefixes(_standard_library())


def internal_prefixes() -> list[str]:
    """The recorder's and OpenTelemetry's prefixes (see ``_prefixes``)."""
    return _prefixes([Path(__file__).parent, *_opentelemetry()])


def _prefixes(roots: Iterable[Path]) -> list[str]:
    """The prefixes, sorted, each once as the import system spells it and once resolved.

    Code objects carry the path they were imported under, which may go through a symlink,
    so both spellings are passed. A directory's prefix ends with a separator, so that
    ``.../opentelemetry/`` does not also cover a sibling ``.../opentelemetry_extra``.
    """
    spellings = {path for root in roots for path in (Path(os.path.abspath(root)), root.resolve())}
    return sorted(str(path) + os.sep if path.is_dir() else str(path) for path in spellings)


def _standard_library() -> Iterator[Path]:
    """The standard library's directories, minus the site-packages directories inside them.

    Third-party packages often live inside a standard library directory: the interpreter's
    own ``lib/python3.12/site-packages``, and in a virtual environment ``platstdlib`` is the
    venv's ``lib/python3.12``. They are code the program imports, so they stay recorded.
    """
    site_dirs = {Path(sysconfig.get_path(name)) for name in ("purelib", "platlib")}
    site_dirs.update(Path(entry) for entry in sys.path if Path(entry).name in _SITE_DIR_NAMES)
    libraries = {Path(sysconfig.get_path(name)) for name in ("stdlib", "platstdlib")}
    for library in libraries:
        yield from _covering(library, site_dirs)


def _covering(directory: Path, excluded: set[Path]) -> Iterator[Path]:
    """Paths that together cover ``directory`` without covering any of ``excluded``."""
    if directory in excluded:
        return
    if not directory.is_dir() or not any(path.is_relative_to(directory) for path in excluded):
        yield directory
        return
    for child in directory.iterdir():
        yield from _covering(child, excluded)


def _opentelemetry() -> list[Path]:
    """The directories of the ``opentelemetry`` namespace package, or none when it is absent.

    ``find_spec`` on a top-level name only searches ``sys.path``: the SDK is not imported.
    """
    spec = importlib.util.find_spec("opentelemetry")
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [Path(location) for location in spec.submodule_search_locations]
