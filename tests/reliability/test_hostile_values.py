"""Hostile values: programs whose arguments, locals and return values fight back, recorded
with the default capture (locals at every step), through the CLI and the library.

Each program counts every call of its own dunder methods and prints the counts at its
end: the recorded run must print the same counts as the plain run, because the recorder
never runs the program's code ("Encoding never runs the program's code", README, What is
recorded). Methods that block (a 100 s sleep, an Event never set) would hold the run past
its bound if the recorder called them. The trace must be complete and valid, and big
values must appear in the bounded form the README describes. File names and arguments
that are not UTF-8 belong here too: the program must see them as it does without the
recorder, and the trace must still be written."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from harness import Pair, assert_complete, assert_same_behaviour, run, run_both
from tracekit import ErrorValue, ObjectValue, Recorder, Trace

VIAS = ("cli", "api")

BOUND = 30.0
"""Seconds a run of these programs may take, plain or recorded (they take well under one;
a recorder that called a blocking method would hold its run past this)."""


def _recorded(prog, tmp_path: Path, via: str) -> Trace:
    """Run ``prog`` plain and recorded (``via`` the CLI or the API) within the bound, check
    that it behaves the same and that its trace is complete, and return the trace."""
    pair = run_both(prog, tmp_path / via, via=via, timeout=BOUND)
    assert_same_behaviour(pair)
    assert pair.recorded.returncode == 0, pair.recorded
    return assert_complete(pair.trace_dir, main=prog.path)


def _escaped(text: str) -> str:
    """``text`` as the README writes a str that UTF-8 cannot hold: each lone surrogate (an
    undecodable byte of a file name or argument) as the six characters ``\\udcxx``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _depth(value) -> int:
    """How many containers deep a decoded value goes."""
    if isinstance(value, ObjectValue):
        value = list(value.attrs.values())
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple | set | frozenset):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


HOSTILE_DUNDERS = """
    import threading
    import time

    CALLS = {}
    NEVER_SET = threading.Event()
    DUNDERS = (
        "__repr__", "__str__", "__eq__", "__hash__", "__len__", "__iter__", "__bool__",
        "__getattr__", "__getattribute__", "__format__", "__sizeof__", "__dir__",
        "__reduce_ex__", "__getitem__", "__contains__", "__index__", "__int__", "__float__",
    )
    PROPERTIES = ("__dict__", "__class__")


    def raises(name, self, args):
        raise RuntimeError(f"{name} ran")


    def recurses(name, self, args):
        return getattr(type(self), name)(self, *args)


    def sleeps(name, self, args):
        time.sleep(100)


    def waits(name, self, args):
        NEVER_SET.wait()


    def mutates(name, self, args):
        if name == "__getattribute__":
            return object.__getattribute__(self, *args)
        if name == "__getattr__":
            raise AttributeError(args[0])
        return {"__repr__": "m", "__str__": "m", "__eq__": False, "__hash__": 0, "__len__": 0,
                "__iter__": iter(()), "__bool__": True, "__format__": "m", "__sizeof__": 0,
                "__dir__": [], "__reduce_ex__": (int, ()), "__getitem__": 0,
                "__contains__": False, "__index__": 0, "__int__": 0, "__float__": 0.0,
                "__dict__": {}, "__class__": object}[name]


    def counted(behaviour, name):
        def method(self, *args):
            key = f"{behaviour.__name__} {name}"
            CALLS[key] = CALLS.get(key, 0) + 1
            return behaviour(name, self, args)
        return method


    def hostile_class(behaviour):
        namespace = {name: counted(behaviour, name) for name in DUNDERS}
        namespace.update({name: property(counted(behaviour, name)) for name in PROPERTIES})

        def __init__(self, payload):
            object.__setattr__(self, "payload", payload)

        namespace["__init__"] = __init__
        return type(behaviour.__name__.title(), (), namespace)


    OBJECTS = [hostile_class(b)(b.__name__) for b in (raises, recurses, sleeps, waits, mutates)]


    def keep(obj, *rest, named=None, **more):
        box = [obj, (obj, rest), {"value": obj, "more": more}]
        alias = obj
        return alias


    for obj in OBJECTS:
        keep(obj, obj, named=obj, extra=obj)

    tame = OBJECTS[-1]
    len(tame)
    repr(tame)
    print(sorted(CALLS.items()))
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_dunders_that_raise_recurse_block_or_mutate_are_never_called(program, tmp_path, via):
    """Objects whose every dunder (and ``__dict__``/``__class__`` properties) raises,
    recurses, blocks or counts: the run is the same and ends within the bound; each object
    is recorded from its real ``__dict__``; the only calls of those methods in the trace
    are the program's own two (``len`` and ``repr`` of the tame one)."""
    prog = program(HOSTILE_DUNDERS)
    trace = _recorded(prog, tmp_path, via)
    behaviours = ["raises", "recurses", "sleeps", "waits", "mutates"]
    kept = trace.calls("keep")
    assert [c.args["obj"] for c in kept] == [
        ObjectValue(b.title(), {"payload": b}) for b in behaviours
    ]
    assert [c.return_value for c in kept] == [c.args["obj"] for c in kept]
    assert len(trace.calls("counted.<locals>.method")) == 2


BUILTIN_SUBCLASSES = """
    CALLS = {}


    def hostile(cls):
        for name in cls.HOSTILE:
            def method(self, *args, _name=name):
                key = f"{cls.__name__}.{_name}"
                CALLS[key] = CALLS.get(key, 0) + 1
                raise RuntimeError(f"{key} ran")
            setattr(cls, name, method)
        return cls


    @hostile
    class Count(int):
        HOSTILE = ("__repr__", "__str__", "__format__", "__index__", "__int__", "__float__",
                   "__eq__", "__hash__", "__bool__", "__abs__")


    @hostile
    class Name(str):
        HOSTILE = ("__repr__", "__str__", "__format__", "__len__", "__iter__", "__getitem__",
                   "__eq__", "__hash__", "__contains__", "encode")


    @hostile
    class Items(list):
        HOSTILE = ("__repr__", "__str__", "__len__", "__iter__", "__getitem__", "__eq__",
                   "__reversed__", "__contains__", "__bool__")


    @hostile
    class Table(dict):
        HOSTILE = ("__repr__", "__str__", "__len__", "__iter__", "__getitem__", "__eq__",
                   "items", "keys", "values", "get", "__contains__", "__bool__")


    @hostile
    class Pair(tuple):
        HOSTILE = ("__repr__", "__str__", "__len__", "__iter__", "__getitem__", "__eq__",
                   "__hash__", "__bool__")


    @hostile
    class Ratio(float):
        HOSTILE = ("__repr__", "__str__", "__format__", "__float__", "__eq__", "__hash__",
                   "__bool__")


    @hostile
    class Data(bytes):
        HOSTILE = ("__repr__", "__str__", "__len__", "__iter__", "__getitem__", "__bytes__",
                   "__eq__", "__hash__")


    def keep(number, big, name, items, table, pair, ratio, data):
        together = [number, big, name, items, table, pair, ratio, data]
        return pair


    keep(Count(7), Count(2**70), Name("text"), Items([1, 2]), Table({"a": 1}), Pair((1, "x")),
         Ratio(2.5), Data(b"\\xff"))
    try:
        len(Items())
    except RuntimeError:
        pass
    print(sorted(CALLS.items()))
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_subclasses_of_builtins_are_read_without_their_overridden_methods(program, tmp_path, via):
    """int/str/list/dict/tuple/float/bytes subclasses whose methods (``__iter__``,
    ``items``, ``keys``, ``__len__``, ``__str__``, ``__index__``, …) count and raise: the
    recorder reads their builtin content directly, so the counts are the program's own and
    each value is recorded with its content and its subclass's name."""
    prog = program(BUILTIN_SUBCLASSES)
    trace = _recorded(prog, tmp_path, via)
    (call,) = trace.calls("keep")
    assert call.args == {
        "number": 7,
        "big": 2**70,
        "name": "text",
        "items": [1, 2],
        "table": [("a", 1)],
        "pair": (1, "x"),
        "ratio": 2.5,
        "data": repr(b"\xff"),
    }
    types = {name: trace.type_name(raw) for name, raw in call.raw_args.items()}
    assert types == {
        "number": "Count",
        "big": "Count",
        "name": "Name",
        "items": "Items",
        "table": "Table",
        "pair": "Pair",
        "ratio": "Ratio",
        "data": "Data",
    }


HOSTILE_METACLASS = """
    CALLS = {}


    def count(name):
        CALLS[name] = CALLS.get(name, 0) + 1


    class Meta(type):
        def __getattribute__(cls, name):
            count(f"__getattribute__ {name}")
            return super().__getattribute__(name)

        def __repr__(cls):
            count("__repr__")
            raise RuntimeError("__repr__ ran")

        def __str__(cls):
            count("__str__")
            raise RuntimeError("__str__ ran")

        def __len__(cls):
            count("__len__")
            raise RuntimeError("__len__ ran")

        def __iter__(cls):
            count("__iter__")
            raise RuntimeError("__iter__ ran")

        def __instancecheck__(cls, obj):
            count("__instancecheck__")
            raise RuntimeError("__instancecheck__ ran")


    class Shape(metaclass=Meta):
        sides = 4

        def __init__(self):
            self.size = 3


    def keep(cls, obj):
        kind = cls
        return obj


    keep(Shape, Shape())
    print(sorted(CALLS.items()))
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_a_hostile_metaclass_is_never_called(program, tmp_path, via):
    """A class whose metaclass counts every attribute lookup and raises in ``__repr__``,
    ``__str__``, ``__len__``, ``__iter__`` and ``__instancecheck__``, held in locals and
    passed as an argument next to one of its instances: the counts are the program's own,
    and the instance is recorded with its attribute."""
    prog = program(HOSTILE_METACLASS)
    trace = _recorded(prog, tmp_path, via)
    (call,) = trace.calls("keep")
    assert call.args["obj"] == ObjectValue("Shape", {"size": 3})


CLASSES_WITH_METACLASSES = """
    import abc


    class Meta(type):
        pass


    class Plain:
        pass


    class Shaped(metaclass=Meta):
        sides = 4


    class Base(abc.ABC):
        @abc.abstractmethod
        def area(self):
            ...


    def keep(plain, shaped, base):
        return 0


    keep(Plain, Shaped, Base)
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_a_class_with_a_metaclass_is_recorded_as_a_class(program, tmp_path, via):
    """README: classes are recorded as ``Raw`` ``<class 'C'>``. A class made by a
    metaclass (one of the program's, or ``abc.ABCMeta``) is a class like any other, so it
    is recorded the same way as a plain one, not as a struct of its class attributes."""
    prog = program(CLASSES_WITH_METACLASSES)
    trace = _recorded(prog, tmp_path, via)
    (call,) = trace.calls("keep")
    assert call.args == {
        "plain": "<class '__main__.Plain'>",
        "shaped": "<class '__main__.Shaped'>",
        "base": "<class '__main__.Base'>",
    }


SHAPED_OBJECTS = """
    import dataclasses
    import enum

    CALLS = {}


    def count(name):
        CALLS[name] = CALLS.get(name, 0) + 1


    class Slotted:
        __slots__ = ("x", "unset")

        def __init__(self):
            self.x = 1

        def __getattribute__(self, name):
            count(f"Slotted.__getattribute__ {name}")
            return object.__getattribute__(self, name)

        def __repr__(self):
            count("Slotted.__repr__")
            raise RuntimeError("__repr__ ran")


    @dataclasses.dataclass(frozen=True)
    class Point:
        x: int
        y: list = dataclasses.field(default_factory=list)

        def __repr__(self):
            count("Point.__repr__")
            raise RuntimeError("__repr__ ran")

        def __eq__(self, other):
            count("Point.__eq__")
            raise RuntimeError("__eq__ ran")

        def __hash__(self):
            count("Point.__hash__")
            raise RuntimeError("__hash__ ran")


    @dataclasses.dataclass(slots=True)
    class Packed:
        a: int
        b: str = "b"


    class Color(enum.Enum):
        RED = 1
        GREEN = 2

        def __repr__(self):
            count("Color.__repr__")
            raise RuntimeError("__repr__ ran")

        def __str__(self):
            count("Color.__str__")
            raise RuntimeError("__str__ ran")

        def __format__(self, spec):
            count("Color.__format__")
            raise RuntimeError("__format__ ran")


    class Perm(enum.Flag):
        R = 4
        W = 2


    class Level(enum.IntEnum):
        LOW = 1


    class Wide:
        def __init__(self):
            self.__dict__.update(zip(map("a{}".format, range(10_000)), range(10_000)))


    def keep(slotted, point, packed, color, both, level, wide):
        return color


    keep(Slotted(), Point(1), Packed(2), Color.RED, Perm.R | Perm.W, Level.LOW, Wide())
    print(sorted(CALLS.items()))
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_slots_dataclasses_enums_and_huge_instances_are_recorded_without_their_code(
    program, tmp_path, via
):
    """``__slots__`` with a slot never set, dataclasses (frozen, slotted) and enum members
    whose ``__repr__``/``__eq__``/``__hash__``/``__format__`` count and raise, a Flag
    combination, an IntEnum member, an instance with 10,000 attributes: none of their code
    runs; slots and fields are recorded (an unset slot as None), members as ``Color.RED``,
    and the wide instance shows at most 16 attributes (the README's item bound)."""
    prog = program(SHAPED_OBJECTS)
    trace = _recorded(prog, tmp_path, via)
    (call,) = trace.calls("keep")
    args = call.args
    assert args["slotted"] == ObjectValue("Slotted", {"x": 1, "unset": None})
    assert args["point"] == ObjectValue("Point", {"x": 1, "y": []})
    assert args["packed"] == ObjectValue("Packed", {"a": 2, "b": "b"})
    assert args["color"] == "Color.RED"
    assert args["both"] == "Perm.R|W"
    assert args["level"] == 1
    assert trace.type_name(call.raw_args["level"]) == "Level"
    wide = args["wide"]
    assert wide.type == "Wide"
    assert wide.attrs == {f"a{i}": i for i in range(16)}
    assert call.return_value == "Color.RED"
    assert trace.summary["bytes"] < 200_000


RECURSIVE_VALUES = """
    class Node:
        def __init__(self, name):
            self.name = name
            self.other = None


    def keep(loop, table, node, deep, cycle, selfish):
        return len(loop)


    loop = [1]
    loop.append(loop)
    table = {"k": 1}
    table["self"] = table
    a, b = Node("a"), Node("b")
    a.other, b.other = b, a
    deep = []
    exec("for _ in range(10_000):\\n    deep = [deep]")  # unrecorded (<string>): no 20,000 steps
    cycle = ([],)
    cycle[0].append(cycle)
    selfish = Node("s")
    selfish.other = selfish
    print(keep(loop, table, a, deep, cycle, selfish))
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_recursive_and_10000_deep_containers_are_cut_at_the_depth_bound(program, tmp_path, via):
    """A list and a dict that contain themselves, objects that refer to each other or to
    themselves, a tuple-list cycle and a list nested 10,000 deep: each is recorded to the
    README's depth (3 levels, then a ``… N more`` marker), and the trace stays small."""
    prog = program(RECURSIVE_VALUES)
    trace = _recorded(prog, tmp_path, via)
    (call,) = trace.calls("keep")
    for name, value in call.args.items():
        assert _depth(value) <= 4, (name, value)
    deep = call.args["deep"]
    assert deep == [[[["… 1 more"]]]]
    assert call.args["loop"][0] == 1
    assert call.args["node"].attrs["other"].attrs["name"] == "b"
    assert call.return_value == 2
    assert trace.summary["bytes"] < 200_000


HUGE_VALUES = """
    def hold(text, items, table, blob):
        total = 0
        for step in range(50):
            total += step
        return total


    n = 1_000_000
    print(hold("x" * 10 * n, list(range(n)), dict(zip(range(n), range(n))), b"\\xff" * 10 * n))
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", VIAS)
def test_huge_values_in_scope_for_50_steps_keep_the_trace_small(program, tmp_path, via):
    """A 10 MB string, a 1,000,000-item list, a 1,000,000-item dict and 10 MB of bytes
    (not UTF-8), all in scope for 50 steps: each is recorded in the README's bounded form
    (500 characters or bytes then ``…``, 16 items then ``… N more``), so the trace stays
    under 1 MB."""
    prog = program(HUGE_VALUES)
    trace = _recorded(prog, tmp_path, via)
    steps = trace.line_steps(prog.line("total += step"))
    assert len(steps) == 50
    for step in steps:
        values = step.values
        assert values["text"] == "x" * 500 + "…"
        assert values["items"] == [*range(16), "… 999984 more"]
        assert values["table"] == [*((i, i) for i in range(16)), "… 999984 more"]
        assert values["blob"] == repr(b"\xff" * 500) + "…"
    assert trace.summary["bytes"] < 1_000_000
    assert (trace.directory / "trace.json").stat().st_size < 1_000_000


BIG_INTS = """
    def hold(medium, negative, huge):
        return 0


    hold(2**3000 + 1, -(2**4000), 10**100_000)
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_big_ints_are_exact_up_to_4096_bits_then_their_bit_count(program, tmp_path, via):
    """README: an int beyond 64 bits is a ``BigInt`` up to 4096 bits, then
    ``<int of N bits>``. So 2**3000 + 1 and -(2**4000) are recorded exactly, and
    10**100000 (whose decimal text Python itself refuses to make) as its bit count."""
    prog = program(BIG_INTS)
    trace = _recorded(prog, tmp_path, via)
    (call,) = trace.calls("hold")
    assert call.args["medium"] == 2**3000 + 1
    assert call.args["negative"] == -(2**4000)
    assert call.args["huge"] == f"<int of {(10**100_000).bit_length()} bits>"


ODD_SCALARS = """
    def hold(lone, mixed, nan, inf, minus_inf, minus_zero, raw):
        return minus_zero


    hold("\\udcff", "a\\udcffb\\ud800", float("nan"), float("inf"), float("-inf"), -0.0,
         bytes(range(256)))
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_lone_surrogates_non_finite_floats_minus_zero_and_raw_bytes(program, tmp_path, via):
    """Strings with lone surrogates (as ``\\udcxx``), NaN and infinities (as text),
    -0.0 (a float that keeps its sign) and bytes that are not UTF-8 (as Python's repr)."""
    prog = program(ODD_SCALARS)
    trace = _recorded(prog, tmp_path, via)
    (call,) = trace.calls("hold")
    args = call.args
    assert args["lone"] == "\\udcff"
    assert args["mixed"] == "a\\udcffb\\ud800"
    assert [args["nan"], args["inf"], args["minus_inf"]] == ["nan", "inf", "-inf"]
    assert args["minus_zero"] == 0.0
    assert math.copysign(1.0, args["minus_zero"]) == -1.0
    assert math.copysign(1.0, call.return_value) == -1.0
    assert args["raw"] == repr(bytes(range(256)))


HOSTILE_EXCEPTIONS = """
    CALLS = {}


    def count(name):
        CALLS[name] = CALLS.get(name, 0) + 1


    class Name(str):
        def __repr__(self):
            count("Name.__repr__")
            raise RuntimeError("__repr__ ran")

        def __str__(self):
            count("Name.__str__")
            raise RuntimeError("__str__ ran")


    class Loud(Exception):
        def __str__(self):
            count("Loud.__str__")
            raise RuntimeError("__str__ ran")

        def __repr__(self):
            count("Loud.__repr__")
            raise RuntimeError("__repr__ ran")


    def fail(kind):
        if kind == "os":
            raise OSError(2, "No such file", Name("in.txt"), None, Name("out.txt"))
        if kind == "loud":
            raise Loud(Name("x"))
        if kind == "group":
            raise ExceptionGroup("many", [Loud(1), FileNotFoundError(2, "gone", Name("f"))])
        raise KeyError(Name("k"))


    def catch(kind):
        try:
            fail(kind)
        except Exception as error:
            caught = error
            return type(caught).__name__


    for kind in ("os", "loud", "group", "key"):
        print(catch(kind))
    print(sorted(CALLS.items()))
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_exceptions_carrying_hostile_objects_are_recorded_without_calling_them(
    program, tmp_path, via
):
    """Exceptions that leave recorded frames and sit in locals, carrying objects whose
    ``__repr__``/``__str__`` count and raise: an OSError whose file names are such
    objects, the program's own exception class, an ExceptionGroup, a KeyError. The
    counts are the program's own, and every frame left by one returns an ``Error``."""
    prog = program(HOSTILE_EXCEPTIONS)
    trace = _recorded(prog, tmp_path, via)
    returns = trace.returns("fail")
    assert len(returns) == 4
    assert all(isinstance(r, ErrorValue) for r in returns)
    assert [r.msg.split(" ")[0].rstrip(":") for r in returns] == [
        "FileNotFoundError",
        "Loud",
        "ExceptionGroup",
        "KeyError",
    ]


NAMELESS_MODULE = """
    import types

    CALLS = {}


    def lookup(name):
        CALLS[name] = CALLS.get(name, 0) + 1
        raise AttributeError(name)


    def keep(module):
        same = module
        return 0


    nameless = types.ModuleType("nameless")
    del nameless.__name__
    nameless.__getattr__ = lookup
    keep(nameless)
    print(sorted(CALLS.items()))
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_a_module_without_a_name_is_recorded_without_calling_its_getattr(program, tmp_path, via):
    """A module object whose ``__name__`` was deleted and whose module-level
    ``__getattr__`` (PEP 562) counts its calls: recording it as a local must not look the
    name up through that ``__getattr__``."""
    prog = program(NAMELESS_MODULE)
    trace = _recorded(prog, tmp_path, via)
    (call,) = trace.calls("keep")
    assert call.args["module"].startswith("<module")


HOSTILE_NAMESPACES = """
    CALLS = {}


    def count(name):
        CALLS[name] = CALLS.get(name, 0) + 1


    class Key:
        def __str__(self):
            count("Key.__str__")
            raise RuntimeError("__str__ ran")

        def __repr__(self):
            count("Key.__repr__")
            raise RuntimeError("__repr__ ran")

        def __hash__(self):
            count("Key.__hash__")
            return 1

        def __eq__(self, other):
            count("Key.__eq__")
            return self is other


    class Namespace(dict):
        def __setitem__(self, key, value):
            count("Namespace.__setitem__")
            super().__setitem__(key, value)

        def __iter__(self):
            count("Namespace.__iter__")
            raise RuntimeError("__iter__ ran")

        def items(self):
            count("Namespace.items")
            raise RuntimeError("items ran")


    class Meta(type):
        @classmethod
        def __prepare__(mcs, name, bases):
            return Namespace()

        def __new__(mcs, name, bases, namespace):
            return super().__new__(mcs, name, bases, dict.copy(namespace))


    globals()[Key()] = "a global whose name is not a str"
    after = "the module runs on"


    class Body(metaclass=Meta):
        field = 1
        another = field + 1


    print(Body.another)
    print(sorted(CALLS.items()))
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_namespaces_with_hostile_keys_are_recorded_without_calling_them(program, tmp_path, via):
    """Module and class bodies are recorded from their namespace dict: a global whose key
    is not a str (its ``__str__``/``__repr__`` count and raise) and a class body run in a
    dict subclass from ``__prepare__`` (its ``__iter__``/``items`` count and raise) must
    be read without calling any of them."""
    prog = program(HOSTILE_NAMESPACES)
    trace = _recorded(prog, tmp_path, via)
    assert trace.locals_at(prog.line("print(Body.another)"))["after"] == "the module runs on"


MOCKS = """
    from unittest import mock


    def use(service):
        result = service.fetch(3)
        return result


    service = mock.MagicMock()
    use(service)
    print(service.mock_calls)
    print(sorted(service._mock_children))
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_mocks_in_scope_grow_no_children_and_record_no_calls(program, tmp_path, via):
    """A MagicMock answers every attribute lookup by creating a child mock, and every
    call by recording it: recorded as a local and an argument, it must not gain a child
    or a call the program did not make."""
    prog = program(MOCKS)
    trace = _recorded(prog, tmp_path, via)
    (call,) = trace.calls("use")
    assert call.args["service"].type == "MagicMock"


DROPPED_CLASS = """
    import gc
    import weakref


    def make():
        Dynamic = type("Dynamic", (), {})
        instance = Dynamic()
        instance.value = 1
        return weakref.ref(Dynamic)


    ref = make()
    gc.collect()
    print("freed" if ref() is None else "alive")
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_a_class_the_program_drops_is_freed_as_without_the_recorder(program, tmp_path, via):
    """A class made at run time, whose instance was a recorded local, is freed once the
    program drops it, as without the recorder: recording a value must not keep its class
    alive (weak references to it die, its memory is returned)."""
    prog = program(DROPPED_CLASS)
    trace = _recorded(prog, tmp_path, via)
    (make,) = trace.calls("make")
    assert make.steps[-1].values["instance"] == ObjectValue("Dynamic", {"value": 1})


NAMES_ITSELF = """
    import os

    print(ascii(os.path.basename(__file__)), ascii(os.path.basename(os.getcwd())))
"""


def _script_under_undecodable_names(program):
    """The program above in ``dir\\xff/script\\xff.py``: names that are not UTF-8."""
    return program(NAMES_ITSELF, name=os.fsdecode(b"dir\xff/script\xff.py"))


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_a_script_whose_path_is_not_utf8_behaves_the_same_and_is_recorded(program, tmp_path, via):
    """A script in a directory whose names hold the byte 0xff runs as it does plain, and
    its trace is complete; the path, in ``trace_paths.json`` and the metadata's
    ``program``, is written the way the README writes a str UTF-8 cannot hold (each
    undecodable byte as ``\\udcxx``), so the files stay valid UTF-8 JSON."""
    prog = _script_under_undecodable_names(program)
    trace = _recorded(prog, tmp_path, via)
    assert trace.paths == [_escaped(str(prog.path))]
    assert trace.metadata["program"] == _escaped(str(prog.path))


ARGV = [os.fsdecode(b"caf\xe9"), os.fsdecode(b"\xff\xfe"), "plain", "-x", ""]
PRINTS_ARGV = """
    import sys

    print(ascii(sys.argv[1:]))
"""


def _recorded_with_argv(prog, tmp_path: Path, via: str) -> Trace:
    """Like :func:`_recorded`, with :data:`ARGV` as the program's arguments."""
    workdir = tmp_path / via
    workdir.mkdir()
    plain = run([prog.path, *ARGV], cwd=workdir, timeout=BOUND)
    recorded = Recorder(workdir, via=via)(prog, args=ARGV)
    pair = Pair(plain, recorded, recorded.trace_dir)
    assert_same_behaviour(pair)
    assert recorded.returncode == 0, recorded
    return assert_complete(pair.trace_dir, main=prog.path)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_arguments_that_are_not_utf8_reach_the_program_and_the_trace_is_complete(
    program, tmp_path, via
):
    """Command-line arguments holding bytes that are not UTF-8 reach the program as
    Python gives them (surrogate-escaped), and the trace is complete."""
    prog = program(PRINTS_ARGV)
    trace = _recorded_with_argv(prog, tmp_path, via)
    assert len(trace.metadata["args"]) == len(ARGV)
    json.dumps(trace.metadata, ensure_ascii=False).encode("utf-8")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("via", VIAS)
def test_undecodable_bytes_of_arguments_are_written_as_udcxx_in_the_metadata(
    program, tmp_path, via
):
    """The README writes a str that UTF-8 cannot hold with each lone surrogate as
    ``\\udcxx``; the metadata's ``args`` follow the same rule, so each undecodable byte
    of an argument stays recognisable (``\\udcff``), one for one, instead of becoming
    replacement characters."""
    prog = program(PRINTS_ARGV)
    trace = _recorded_with_argv(prog, tmp_path, via)
    assert trace.metadata["args"] == [_escaped(a) for a in ARGV]
