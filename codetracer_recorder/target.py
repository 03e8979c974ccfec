"""The program the CLI records: a script or a module, run as ``__main__`` as ``python`` runs it.

A target is found and read before recording starts, so a bad command line starts nothing;
``run`` then executes only the program's own code.
"""

import builtins
import importlib.util
import os
import sys
import types
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from importlib.machinery import SourceFileLoader
from typing import NamedTuple, Protocol

from codetracer_recorder.errors import usage_error

UNREADABLE = "ERR_TARGET_UNREADABLE"
"""The code of a script that cannot be read or a module that cannot be found."""


class Target(Protocol):
    """What the CLI needs of a program: how the trace names it, and how to run it."""

    @property
    def program(self) -> str:
        """The program as the trace metadata names it."""

    @property
    def args(self) -> list[str]:
        """The program's own arguments, ``sys.argv[1:]``."""

    def as_main(self) -> AbstractContextManager[None]:
        """``sys.argv``, ``sys.path[0]`` and ``__main__`` as ``python`` sets them for the
        program; the CLI's own are back when the block ends."""

    def run(self) -> None:
        """Run the program's code; whatever it raises (``SystemExit`` too) propagates."""


class Script(NamedTuple):
    """A Python file, like ``python path/to/script.py args...``."""

    path: str
    """As given on the command line: it becomes ``sys.argv[0]``."""
    source: str
    args: list[str]
    main: types.ModuleType
    """The fresh ``__main__`` module the script runs in."""

    @property
    def program(self) -> str:
        return os.path.abspath(self.path)

    def as_main(self) -> AbstractContextManager[None]:
        # Like python, the directory of the real file when the script is a symlink.
        directory = os.path.dirname(os.path.realpath(self.path))
        return _installed([self.path, *self.args], directory, self.main)

    def run(self) -> None:
        code = compile(self.source, self.program, "exec", dont_inherit=True)
        exec(code, self.main.__dict__)  # noqa: S102 - running the user's program is the point


class Module(NamedTuple):
    """A module or package found on ``sys.path``, like ``python -m name args...``."""

    name: str
    args: list[str]

    @property
    def program(self) -> str:
        return self.name

    @contextmanager
    def as_main(self) -> Iterator[None]:
        """Also checks that the top-level package exists, on the program's ``sys.path``
        (the current directory first); runpy imports the rest while recording."""
        with _installed([self.name, *self.args], os.getcwd(), None):
            top_level = self.name.partition(".")[0]
            if importlib.util.find_spec(top_level) is None:
                raise usage_error(UNREADABLE, f"no module named {top_level!r}", module=self.name)
            yield

    def run(self) -> None:
        import runpy  # only -m needs it; imported here to keep the CLI's start-up short

        runpy.run_module(self.name, run_name="__main__", alter_sys=True)


def load_script(path: str, args: list[str]) -> Script:
    """Read and decode the script now, so that an unreadable one is a usage error."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        reason = error.strerror or str(error)
        raise usage_error(UNREADABLE, f"cannot read script {path!r}: {reason}", path=path) from None
    try:
        source = importlib.util.decode_source(data)
    except (SyntaxError, UnicodeDecodeError) as error:
        reason = error.msg if isinstance(error, SyntaxError) else str(error)
        raise usage_error(
            UNREADABLE,
            f"cannot decode script {path!r}: {reason} (Python source is UTF-8 unless a "
            "'# -*- coding: ... -*-' line says otherwise)",
            path=path,
        ) from None
    program = os.path.abspath(path)
    main = types.ModuleType("__main__")
    vars(main).update(
        __file__=program,
        __builtins__=builtins,
        __loader__=SourceFileLoader("__main__", program),
        __cached__=None,
    )
    return Script(path, source, args, main)


def find_module(name: str, args: list[str]) -> Module:
    """Check the module name's form now (the module itself is looked up in ``as_main``)."""
    if not all(part.isidentifier() for part in name.split(".")):
        raise usage_error(UNREADABLE, f"not a module name: {name!r}", module=name)
    return Module(name, args)


@contextmanager
def _installed(argv: list[str], directory: str, main: types.ModuleType | None) -> Iterator[None]:
    """Give the program its ``sys.argv``, its ``sys.path[0]`` (not with ``python -P``, which
    adds none) and, when given, its ``__main__`` module; restore the CLI's afterwards."""
    saved_argv, saved_path, saved_main = sys.argv, sys.path, sys.modules["__main__"]
    sys.argv = argv
    if not sys.flags.safe_path:
        sys.path = [directory, *saved_path[1:]]
    if main is not None:
        sys.modules["__main__"] = main
    try:
        yield
    finally:
        sys.argv, sys.path, sys.modules["__main__"] = saved_argv, saved_path, saved_main
