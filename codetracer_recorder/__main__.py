"""``python -m codetracer_recorder``: the ``codetracer-recorder`` command (see ``cli``)."""

import sys

from codetracer_recorder.cli import main

if __name__ == "__main__":
    sys.exit(main())
