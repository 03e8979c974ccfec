"""The upstream CodeTracer Python recorder's module name, for drop-in use.

CodeTracer's launcher runs ``python -m codetracer_python_recorder [options] script.py``;
that runs this recorder's command line (``codetracer_recorder.cli``) unchanged, upstream
flag spellings included (``--on-recorder-error``, ``--require-trace``, …). The library
API is the one of :mod:`codetracer_recorder`, re-exported.
"""

# The whole public API, under the upstream name.
from codetracer_recorder import *
from codetracer_recorder import __all__ as __all__
from codetracer_recorder import __version__ as __version__
