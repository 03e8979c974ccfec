"""Shared verbs of the test suite: write a program, record it, read its trace.

Programs always run in a child process (the recorder installs process-wide
``sys.monitoring`` callbacks, which must not see pytest itself). Every trace a test
produces goes through :func:`load_trace`, which validates it twice: with the native
checker (``_native.trace_summary``: the ``runtime_tracing`` crate's reader plus
CodeTracer's ordering rules) and with the independent checks of :class:`Trace`
(ids interned before use, a Step before each non-top-level Call, a balanced stack that
ends with the top-level Return). A broken trace therefore fails whichever test wrote it.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codetracer_recorder import _native

CHILD_TIMEOUT = 60
"""Seconds a recorded (or plain) child process may run before the test fails."""

ONE_LINE_ERROR = re.compile(r"^codetracer-recorder: error: \[(ERR_[A-Z0-9_]+)\] \S.*$")
"""What the CLI prints on stderr for bad input: one line naming the error code."""

INTERNING_EVENTS = frozenset({"Path", "Function", "Type", "VariableName", "Variable"})
FORBIDDEN_EVENTS = frozenset({"BindVariable", "Assignment", "DropVariables"})


# ---------------------------------------------------------------------------------------
# Programs


@dataclass(frozen=True)
class Program:
    """A program file written by a test, and a way to find its lines by their text."""

    path: Path
    source: str

    def line(self, text: str) -> int:
        """The 1-based number of the one line containing ``text``."""
        hits = [n for n, line in enumerate(self.source.splitlines(), 1) if text in line]
        if len(hits) != 1:
            raise ValueError(f"{text!r} is on lines {hits} of {self.path.name}, expected one")
        return hits[0]


def write_program(directory: Path, source: str, name: str = "prog.py") -> Program:
    """Write ``source`` (dedented, leading blank lines dropped) to ``directory/name``."""
    text = textwrap.dedent(source).lstrip("\n")
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Program(path, text)


# ---------------------------------------------------------------------------------------
# Running programs


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for child processes: ours, minus recorder and OTel settings, plus
    ``extra`` (the settings a test gives its child)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CODETRACER_", "OTEL_")) and k != "PYTHONWARNINGS"
    }
    return {**env, **(extra or {})}


@dataclass(repr=False)
class Run:
    """A finished child process, and the trace it wrote (validated), if any."""

    argv: list[str]
    returncode: int
    out: bytes
    err: bytes
    trace_dir: Path | None
    _trace: Trace | None = None

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.err.decode("utf-8", "replace")

    @property
    def trace(self) -> Trace:
        """The trace this run wrote; fails the test (showing stderr) when there is none."""
        assert self._trace is not None, (
            f"no trace was written to {self.trace_dir} (exit status {self.returncode})\n"
            f"stderr:\n{self.stderr}"
        )
        return self._trace

    def __repr__(self) -> str:
        return (
            f"\n$ {' '.join(a if len(a) < 80 else a[:60] + '…' for a in self.argv)}\n"
            f"exit status {self.returncode}\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )


def run_python(
    argv: Sequence[str],
    *,
    cwd: Path,
    stdin: bytes = b"",
    trace_dir: Path | None = None,
    main: Path | None = None,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Run:
    """Run ``python argv...`` in ``cwd`` with ``env`` added to :func:`child_env` (and
    ``preexec_fn`` run in the child before it starts); when ``trace_dir`` exists
    afterwards, load it."""
    full = [sys.executable, *map(str, argv)]
    proc = subprocess.run(
        full,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=child_env(env),
        timeout=CHILD_TIMEOUT,
        check=False,
        preexec_fn=preexec_fn,
    )
    run = Run(full, proc.returncode, proc.stdout, proc.stderr, trace_dir)
    if trace_dir is not None and trace_dir.exists():
        run._trace = load_trace(trace_dir, main=main)
    return run


def run_cli(
    options: Sequence[str],
    *,
    cwd: Path,
    stdin: bytes = b"",
    trace_dir: Path | None = None,
    main: Path | None = None,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    module: str = "codetracer_recorder",
) -> Run:
    """``python -m codetracer_recorder options...`` (or another ``module``); ``trace_dir``
    is where to look for the trace (the options must name it, or it is ``cwd/trace-out``)."""
    return run_python(
        ["-m", module, *options],
        cwd=cwd,
        stdin=stdin,
        trace_dir=trace_dir,
        main=main,
        env=env,
        preexec_fn=preexec_fn,
    )


# The API driver runs as `python -c`: its code is `<string>`, which the recorder never
# records, so the trace holds the target script only, as under the CLI.
API_DRIVER = """\
import json, os, runpy, sys, traceback
import codetracer_recorder
options = json.loads(sys.argv[1])
script = sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
sys.path[0] = os.path.dirname(os.path.abspath(script))
codetracer_recorder.start(options.pop("path"), program=script, args=sys.argv[1:], **options)
status = 0
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as exc:
    status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if not isinstance(exc.code, int | None):
        print(exc.code, file=sys.stderr)
except BaseException:
    traceback.print_exc()
    status = 1
codetracer_recorder.stop(exit_code=status)
sys.exit(status)
"""


class Recorder:
    """Records programs through the CLI or the Python API, each into a fresh trace dir.

    ``options`` are the API's keyword arguments (``format``, ``include``, ``exclude``,
    ``capture``); for the CLI they become the matching flags.
    """

    def __init__(self, workdir: Path, via: str = "cli") -> None:
        assert via in ("cli", "api")
        self.workdir = workdir
        self.via = via
        self._count = 0

    def new_trace_dir(self) -> Path:
        self._count += 1
        return self.workdir / f"trace-{self._count}"

    def __call__(
        self,
        program: Program,
        *,
        args: Sequence[str] = (),
        trace_dir: Path | None = None,
        stdin: bytes = b"",
        **options: Any,
    ) -> Run:
        trace_dir = trace_dir or self.new_trace_dir()
        if self.via == "api":
            kw = {"path": str(trace_dir), **options}
            for name in ("include", "exclude"):
                if name in kw:
                    kw[name] = list(kw[name])
            argv = ["-c", API_DRIVER, json.dumps(kw), str(program.path), *args]
            return run_python(
                argv, cwd=self.workdir, stdin=stdin, trace_dir=trace_dir, main=program.path
            )
        flags = ["--trace-dir", str(trace_dir)]
        for name, value in options.items():
            if name in ("include", "exclude"):
                for glob in value:
                    flags += [f"--{name}", glob]
            elif name in ("format", "capture"):
                flags += [f"--{name}", value]
            else:
                raise TypeError(f"no CLI flag for option {name!r}")
        return run_cli(
            [*flags, str(program.path), *args],
            cwd=self.workdir,
            stdin=stdin,
            trace_dir=trace_dir,
            main=program.path,
        )


DEFAULT_POLICY = {
    "on_recorder_error": "abort",
    "require_trace": False,
    "keep_partial_trace": False,
    "log_level": None,
    "log_file": None,
    "json_errors": False,
}
"""``policy_snapshot()`` of the built-in policy."""


def limit_file_size(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` giving the child ``RLIMIT_FSIZE = limit`` bytes: a write past it
    fails with ``EFBIG`` (``SIGXFSZ``, which would kill the child, is ignored)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def recorder_warnings(stderr: str) -> list[dict[str, Any]]:
    """The recorder's structured warning lines on a stderr (JSON objects with a level)."""
    found = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("target") == "codetracer_recorder":
                found.append(record)
    return found


def error_lines(stderr: str) -> list[str]:
    """The ``ERR_*`` codes of the CLI's one-line error reports on a stderr."""
    return [m.group(1) for line in stderr.splitlines() if (m := ONE_LINE_ERROR.match(line))]


def looks_like_a_trace(directory: Path) -> list[Path]:
    """Everything under ``directory`` a reader could take for a trace or its remains: trace
    files and the recorder's staging directories."""
    names = {"trace.json", "trace.bin", "trace_metadata.json", "trace_paths.json"}
    return sorted(p for p in directory.rglob("*") if p.name in names or ".staging-" in p.name)


# ---------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class ErrorValue:
    """An exception (or a redacted value) as recorded: ``Error{msg}``."""

    msg: str


REDACTED = ErrorValue("<redacted>")


@dataclass
class ObjectValue:
    """An instance of a user class, recorded as a ``Struct`` of its attributes."""

    type: str
    attrs: dict[str, Any]


def decode(record: dict[str, Any], types: Sequence[dict[str, Any]]) -> Any:
    """A ``ValueRecord`` as the Python value a user would read it as.

    Int/BigInt → int, Float → float, Bool → bool, String → str, Tuple → tuple,
    Sequence → list (dict → dict, set → set, frozenset → frozenset), Raw → str,
    Error → :class:`ErrorValue`, Struct → :class:`ObjectValue`, None → None.
    ``types`` are the Type events interned so far: a type id outside them is an error.
    """
    kind = record["kind"]
    type_id = record["type_id"]
    assert 0 <= type_id < len(types), f"type id {type_id} used before it was interned: {record}"
    lang_type = types[type_id]["lang_type"]
    if kind == "None":
        return None
    if kind == "Bool":
        assert isinstance(record["b"], bool), record
        return record["b"]
    if kind == "Int":
        return int(record["i"])
    if kind == "BigInt":
        raw = record["b"]
        data = bytes(raw) if isinstance(raw, list) else base64.b64decode(raw)
        magnitude = int.from_bytes(data, "big")
        return -magnitude if record["negative"] else magnitude
    if kind == "Float":
        return float(record["f"])
    if kind == "String":
        return record["text"]
    if kind == "Raw":
        return record["r"]
    if kind == "Error":
        return ErrorValue(record["msg"])
    if kind == "Tuple":
        return tuple(decode(e, types) for e in record["elements"])
    if kind == "Sequence":
        elements = [decode(e, types) for e in record["elements"]]
        # Elements recorded as objects (ObjectValue) are unhashable: such a dict or set
        # stays a list of its elements.
        with contextlib.suppress(TypeError):
            if lang_type == "dict" and all(isinstance(e, tuple) and len(e) == 2 for e in elements):
                return dict(elements)
            if lang_type == "set":
                return set(elements)
            if lang_type == "frozenset":
                return frozenset(elements)
        return elements
    if kind == "Struct":
        info = types[type_id]["specific_info"]
        names = [f["name"] for f in info["fields"]]
        values = record["field_values"]
        assert len(names) == len(values), f"struct fields {names} vs values {values}"
        return ObjectValue(
            lang_type, {n: decode(v, types) for n, v in zip(names, values, strict=True)}
        )
    raise AssertionError(f"unexpected value kind {kind!r}: {record}")


# ---------------------------------------------------------------------------------------
# Traces


@dataclass(eq=False)
class Step:
    """One executed line and the locals recorded at it (before the line runs)."""

    path: str
    line: int
    frame: Call
    values: dict[str, Any] = field(default_factory=dict)
    raw_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    entry: bool = False
    """True for the Step at a function's definition that precedes each Call."""


@dataclass(eq=False)
class Call:
    """One recorded Call event and what happened until its matching Return.

    A generator or coroutine gives one Call per activation (start, each resumption).
    """

    name: str
    path: str
    line: int
    args: dict[str, Any]
    raw_args: dict[str, dict[str, Any]]
    parent: Call | None
    index: int
    children: list[Call] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    return_value: Any = None
    raw_return: dict[str, Any] | None = None
    end: int = -1

    def descendants(self) -> Iterator[Call]:
        for child in self.children:
            yield child
            yield from child.descendants()

    def __repr__(self) -> str:
        return f"<Call {self.name} args={self.args!r} -> {self.return_value!r}>"


def _norm_path(path: str, workdir: str) -> str:
    if path.startswith("<"):
        return path
    return os.path.realpath(os.path.join(workdir, path))


class Trace:
    """A loaded trace, validated, with the queries a user asks of it.

    Build it with :func:`load_trace`. ``main`` is the script the tests think of as
    "the program": ``steps(line)`` and ``locals_at(line)`` look at its lines unless
    given another ``path``.
    """

    def __init__(
        self,
        events: list[Any],
        *,
        metadata: dict[str, Any],
        paths: list[str],
        directory: Path | None = None,
        summary: dict[str, Any] | None = None,
        main: Path | None = None,
    ) -> None:
        self.events = events
        self.metadata = metadata
        self.directory = directory
        self.summary = summary or {}
        self.workdir = str(metadata.get("workdir") or os.getcwd())
        self.paths: list[str] = []
        self.functions: list[dict[str, Any]] = []
        self.types: list[dict[str, Any]] = []
        self.variables: list[str] = []
        self.all_calls: list[Call] = []
        self.all_steps: list[Step] = []
        self.kinds: collections.Counter[str] = collections.Counter()
        self.toplevel: Call | None = None
        self._parse()
        assert self.paths == paths, (
            f"trace_paths.json {paths} differs from the Path events {self.paths}"
        )
        self.main_path = _norm_path(str(main), self.workdir) if main else self._path(0)

    # -- building ------------------------------------------------------------------------

    def _path(self, path_id: int) -> str:
        assert 0 <= path_id < len(self.paths), f"path id {path_id} used before it was interned"
        return _norm_path(self.paths[path_id], self.workdir)

    def _var(self, variable_id: int) -> str:
        assert 0 <= variable_id < len(self.variables), (
            f"variable id {variable_id} used before it was interned"
        )
        return self.variables[variable_id]

    def _parse(self) -> None:
        stack: list[Call] = []
        last: tuple[str, Any] | None = None  # the last event that is not an interning one
        current_step: Step | None = None
        finished = False
        for index, event in enumerate(self.events):
            if isinstance(event, str):
                kind, payload = event, None
            else:
                assert isinstance(event, dict), f"event {index}: {event!r}"
                assert len(event) == 1, f"event {index}: {event!r}"
                ((kind, payload),) = event.items()
            self.kinds[kind] += 1
            where = f"event {index} ({kind})"
            assert kind not in FORBIDDEN_EVENTS, f"{where}: the backend cannot read {kind}"
            assert not finished or kind in INTERNING_EVENTS, (
                f"{where} comes after the top-level Return"
            )
            if kind == "Path":
                self.paths.append(payload)
            elif kind == "Function":
                self._path(payload["path_id"])
                self.functions.append(payload)
            elif kind == "Type":
                self.types.append(payload)
            elif kind in ("VariableName", "Variable"):
                self.variables.append(payload)
            elif kind == "Step":
                assert stack, f"{where}: a Step before any Call"
                current_step = Step(self._path(payload["path_id"]), payload["line"], stack[-1])
                stack[-1].steps.append(current_step)
                self.all_steps.append(current_step)
            elif kind == "Value":
                name = self._var(payload["variable_id"])
                value = decode(payload["value"], self.types)
                if current_step is not None:
                    current_step.values[name] = value
                    current_step.raw_values[name] = payload["value"]
            elif kind == "Call":
                function_id = payload["function_id"]
                assert 0 <= function_id < len(self.functions), (
                    f"{where}: function id {function_id} used before it was interned"
                )
                function = self.functions[function_id]
                if stack:
                    assert last is not None, f"{where}: a Call before any Step"
                    assert last[0] == "Step", (
                        f"{where}: a Call of {function['name']} not right after a Step"
                    )
                    last[1].entry = True
                else:
                    assert self.toplevel is None, f"{where}: a second top-level Call"
                    assert function_id == 0, f"{where}: the top-level Call is not function 0"
                raw_args = {self._var(a["variable_id"]): a["value"] for a in payload["args"]}
                call = Call(
                    name=function["name"],
                    path=self._path(function["path_id"]),
                    line=function["line"],
                    args={n: decode(v, self.types) for n, v in raw_args.items()},
                    raw_args=raw_args,
                    parent=stack[-1] if stack else None,
                    index=index,
                )
                if stack:
                    stack[-1].children.append(call)
                    self.all_calls.append(call)
                else:
                    self.toplevel = call
                stack.append(call)
            elif kind == "Return":
                assert stack, f"{where}: a Return with no open Call"
                call = stack.pop()
                call.raw_return = payload["return_value"]
                call.return_value = decode(call.raw_return, self.types)
                call.end = index
                finished = not stack
            last = (kind, current_step if kind == "Step" else payload)
        assert self.toplevel is not None, "the trace has no top-level Call"
        assert not stack, f"{len(stack)} Calls never returned: {[c.name for c in stack]}"
        assert self.toplevel.name == "<toplevel>", f"function 0 is {self.toplevel.name!r}"

    # -- queries -------------------------------------------------------------------------

    def calls(self, name: str | None = None) -> list[Call]:
        """Recorded calls (in order) of the function whose ``co_qualname`` is ``name``."""
        return [c for c in self.all_calls if name is None or c.name == name]

    def returns(self, name: str) -> list[Any]:
        """The values each activation of ``name`` returned (or yielded), in order."""
        return [c.return_value for c in self.calls(name)]

    def function_names(self) -> set[str]:
        """Names of the functions that were called (``<toplevel>`` aside)."""
        return {c.name for c in self.all_calls}

    def _match(self, path: str | Path | None) -> str:
        return self.main_path if path is None else _norm_path(str(path), self.workdir)

    def line_steps(self, line: int, path: str | Path | None = None) -> list[Step]:
        """The executions of ``line`` (the synthetic entry Steps before Calls excluded)."""
        want = self._match(path)
        return [s for s in self.all_steps if s.line == line and s.path == want and not s.entry]

    def steps(self, line: int, path: str | Path | None = None) -> int:
        """How many times ``line`` of ``path`` (default: the main script) ran."""
        return len(self.line_steps(line, path))

    def stepped_paths(self) -> set[str]:
        return {s.path for s in self.all_steps}

    def locals_at(self, line: int, path: str | Path | None = None, nth: int = 0) -> dict[str, Any]:
        """The locals recorded when ``line`` ran for the ``nth`` time (-1: the last)."""
        steps = self.line_steps(line, path)
        assert steps, (
            f"line {line} never ran; lines that ran: {sorted({s.line for s in self.all_steps})}"
        )
        return steps[nth].values

    def count(self, kind: str) -> int:
        """How many events of ``kind`` (``"Value"``, ``"Step"``, …) the trace holds."""
        return self.kinds[kind]

    def type_name(self, record: dict[str, Any]) -> str:
        """The ``lang_type`` of a raw ``ValueRecord``."""
        return self.types[record["type_id"]]["lang_type"]

    @property
    def exit_status(self) -> Any:
        """The top-level Return's value: the exit status, or None."""
        assert self.toplevel is not None
        return self.toplevel.return_value

    @property
    def format(self) -> str:
        return self.metadata["format"]


def load_trace(directory: Path, main: Path | None = None) -> Trace:
    """Validate the trace in ``directory`` (native checker and :class:`Trace`) and load it."""
    summary = _native.trace_summary(str(directory))
    events = json.loads(_native.trace_events_json(str(directory)))
    metadata = json.loads((directory / "trace_metadata.json").read_text(encoding="utf-8"))
    paths = json.loads((directory / "trace_paths.json").read_text(encoding="utf-8"))
    trace = Trace(
        events, metadata=metadata, paths=paths, directory=directory, summary=summary, main=main
    )
    counted = {
        "events": len(events),
        "calls": trace.count("Call"),
        "returns": trace.count("Return"),
        "steps": trace.count("Step"),
    }
    claimed = {k: summary.get(k) for k in counted}
    assert claimed == counted, f"trace_summary counts {claimed}, the events hold {counted}"
    return trace
