"""``python -m codetracer_python_recorder``: the ``codetracer-recorder`` command."""

import sys

from codetracer_recorder.cli import main

if __name__ == "__main__":
    sys.exit(main())
