"""How Python values appear in a trace: exact for scalars and small containers,
bounded for big or recursive ones, never by running the program's own code, and
redacted when the name looks secret."""

from __future__ import annotations

import json

import pytest
from tracekit import REDACTED, Call, ErrorValue, ObjectValue, Recorder, Trace, write_program

# name -> (source expression, expected decoded value, expected lang_type or None)
VALUES = {
    "a_int": ("7", 7, "int"),
    "a_negative": ("-12", -12, "int"),
    "a_i64_max": ("2**63 - 1", 2**63 - 1, "int"),
    "a_i64_min": ("-(2**63)", -(2**63), "int"),
    "a_big": ("2**100", 2**100, "int"),
    "a_big_negative": ("-(2**70) - 5", -(2**70) - 5, "int"),
    "a_float": ("2.5", 2.5, "float"),
    "a_nan": ('float("nan")', "nan", "float"),
    "a_inf": ('float("inf")', "inf", "float"),
    "a_neg_inf": ('float("-inf")', "-inf", "float"),
    "a_str": (r'"héllo \"quoted\"\nnext line"', 'héllo "quoted"\nnext line', "str"),
    "a_empty_str": ('""', "", "str"),
    "a_bytes": (r'b"ab\x00\xff"', repr(b"ab\x00\xff"), "bytes"),
    "a_bytes_with_quote": ('b"it\'s"', repr(b"it's"), "bytes"),
    "a_bytearray": ('bytearray(b"xy")', "bytearray(b'xy')", "bytearray"),
    "a_tuple": ('(1, "x")', (1, "x"), "tuple"),
    "a_list": ('[1, 2.5, "three"]', [1, 2.5, "three"], "list"),
    "a_dict": ('{"k": 1, 2: [None]}', {"k": 1, 2: [None]}, "dict"),
    "a_set": ("{3}", {3}, "set"),
    "a_frozenset": ('frozenset({"f"})', frozenset({"f"}), "frozenset"),
    "a_empty_list": ("[]", [], "list"),
    "a_empty_dict": ("{}", {}, "dict"),
    "a_empty_tuple": ("()", (), "tuple"),
    "a_empty_set": ("set()", set(), "set"),
    "a_nested": (
        '{"a": [1, (2, 3)], "b": {"c": None}}',
        {"a": [1, (2, 3)], "b": {"c": None}},
        "dict",
    ),
    "a_none": ("None", None, None),
    "a_true": ("True", True, "bool"),
    "a_false": ("False", False, "bool"),
    "a_point": ('Point(1, "two")', ObjectValue("Point", {"x": 1, "y": "two"}), "Point"),
    "a_complex": ("1 + 2j", "(1+2j)", "complex"),
    "a_range": ("range(3)", "range(0, 3)", "range"),
    "a_class": ("int", "<class 'int'>", "type"),
    "a_exception": ('ValueError("bad value")', ErrorValue("ValueError: bad value"), "ValueError"),
}
# Recorded by a repr that holds an address or a type name: checked on their own.
OTHER_VALUES = {"a_function": "helper", "a_slotted": "Slotted()"}
ARGUMENTS = {**{name: v[0] for name, v in VALUES.items()}, **OTHER_VALUES}

PROBE = (
    """
class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

class Slotted:
    __slots__ = ("a",)
    def __init__(self):
        self.a = 1

def helper():
    pass

def probe("""
    + ", ".join(ARGUMENTS)
    + """):
    return 0

probe(
"""
    + "".join(f"    {name}={source},\n" for name, source in ARGUMENTS.items())
    + ")\n"
)


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Trace, Call]:
    """The probe program recorded once, and its one call of ``probe``."""
    workdir = tmp_path_factory.mktemp("values")
    run = Recorder(workdir)(write_program(workdir, PROBE))
    assert run.returncode == 0, run
    (call,) = run.trace.calls("probe")
    return run.trace, call


@pytest.mark.parametrize("name", sorted(VALUES))
def test_value_is_recorded_exactly_with_its_python_type(probe, name):
    trace, call = probe
    _, expected, lang_type = VALUES[name]
    decoded = call.args[name]
    assert decoded == expected
    assert type(decoded) is type(expected)
    if lang_type is not None:
        assert trace.type_name(call.raw_args[name]) == lang_type


def test_every_argument_is_recorded_in_order(probe):
    _, call = probe
    assert list(call.args) == list(ARGUMENTS)


def test_floats_are_numbers_and_non_finite_floats_are_text(probe):
    _, call = probe
    assert call.raw_args["a_float"]["kind"] == "Float"
    assert [call.raw_args[n]["kind"] for n in ("a_nan", "a_inf", "a_neg_inf")] == ["Raw"] * 3


def test_big_ints_are_exact_big_ints(probe):
    _, call = probe
    assert call.raw_args["a_big"]["kind"] == "BigInt"
    assert call.raw_args["a_big_negative"]["kind"] == "BigInt"
    assert call.raw_args["a_i64_max"]["kind"] == "Int"


def test_functions_are_recorded_by_name_without_their_address(probe):
    trace, call = probe
    assert call.args["a_function"] == "<function helper>"
    assert trace.type_name(call.raw_args["a_function"]) == "function"


def test_object_with_slots_is_recorded_with_its_slot_values(probe):
    trace, call = probe
    assert call.args["a_slotted"] == ObjectValue("Slotted", {"a": 1})
    assert trace.type_name(call.raw_args["a_slotted"]) == "Slotted"


def test_object_of_a_builtin_type_without_attributes_is_its_type_name(program, record):
    prog = program("""
        import itertools

        def keep(counter):
            return 0

        keep(itertools.count(5))
    """)
    trace = record(prog).trace
    (call,) = trace.calls("keep")
    assert call.args["counter"] == "<itertools.count object>"


def test_a_raising_or_recursive_repr_is_never_called(program, record):
    prog = program("""
        class Bad:
            def __repr__(self):
                raise RuntimeError("repr must not run")

        class Loop:
            def __repr__(self):
                return repr(self)

        class Noisy:
            def __repr__(self):
                print("repr ran")
                return "Noisy()"

        def take(a, b, c):
            return 5

        print(take(Bad(), Loop(), Noisy()))
    """)
    run = record(prog)
    assert run.returncode == 0, run
    assert run.stdout == "5\n"
    assert run.stderr == ""
    trace = run.trace
    (take,) = trace.calls("take")
    assert take.args["a"] == ObjectValue("Bad", {})
    assert take.args["b"] == ObjectValue("Loop", {})
    assert not {"Bad.__repr__", "Loop.__repr__", "Noisy.__repr__"} & trace.function_names()


def test_properties_and_getattr_of_recorded_objects_are_not_run(program, record):
    prog = program("""
        class Lazy:
            def __init__(self):
                self.loaded = False

            def __getattr__(self, name):
                print("getattr", name)
                raise AttributeError(name)

            def __len__(self):
                print("len ran")
                return 0

        def use(obj):
            return obj.loaded

        print(use(Lazy()))
    """)
    run = record(prog)
    assert run.stdout == "False\n"
    assert run.trace.calls("use")[0].args["obj"] == ObjectValue("Lazy", {"loaded": False})


def test_recursive_list_is_recorded_safely(program, record):
    prog = program("""
        def size(items):
            return len(items)

        loop = [1]
        loop.append(loop)
        print(size(loop))
    """)
    run = record(prog)
    assert run.stdout == "2\n"
    (items,) = [c.args["items"] for c in run.trace.calls("size")]
    assert items[0] == 1
    assert items[1][0] == 1
    assert items[1][1][0] == 1


def test_deeply_nested_values_are_cut(program, record):
    prog = program("""
        def keep(value):
            return 0

        value = [1]
        for _ in range(50):
            value = [value]
        keep(value)
    """)
    (value,) = [c.args["value"] for c in record(prog).trace.calls("keep")]
    depth = 0
    while isinstance(value, list):
        (value,) = value
        depth += 1
    assert 1 <= depth < 50
    assert isinstance(value, str)  # the marker standing for what was cut


def test_empty_containers_are_empty_at_any_depth(program, record):
    prog = program("""
        def keep(value):
            return 0

        keep([[[[], {}, ()]]])
    """)
    (value,) = [c.args["value"] for c in record(prog).trace.calls("keep")]
    assert value == [[[[], {}, ()]]]


def test_long_list_and_string_are_bounded(program, record):
    prog = program("""
        def keep(items, text):
            return len(items) + len(text)

        print(keep(list(range(100_000)), "x" * 1_000_000))
    """)
    run = record(prog)
    assert run.stdout == "1100000\n"
    trace = run.trace
    (call,) = trace.calls("keep")
    items, text = call.args["items"], call.args["text"]
    assert items[:10] == list(range(10))
    assert len(items) < 1000
    assert "more" in items[-1]
    assert str(100_000 - len(items) + 1) in items[-1]
    assert text.startswith("x" * 100)
    assert len(text) < 10_000
    assert trace.summary["bytes"] < 1_000_000


def test_long_dict_is_bounded(program, record):
    prog = program("""
        def keep(table):
            return len(table)

        keep({i: str(i) for i in range(10_000)})
    """)
    (table,) = [c.args["table"] for c in record(prog).trace.calls("keep")]
    assert len(table) < 1000


SECRETS = """
    def login(user, password, api_key, token=None, db_password=None):
        secret = "s3cr3t-local"
        headers = {"Authorization": "Bearer hdr-value", "Accept": "json"}
        session_cookie = "cookie-value"
        return len(password)

    class Client:
        def __init__(self):
            self.name = "svc"
            self.client_secret = "attr-value"

    def connect(client):
        return client.name

    login("bob", "hunter2", "AKIA-key", token="tok-value", db_password="db-value")
    connect(Client())
"""

SECRET_VALUES = [
    "hunter2",
    "AKIA-key",
    "tok-value",
    "db-value",
    "s3cr3t-local",
    "hdr-value",
    "cookie-value",
    "attr-value",
]


def test_secret_looking_arguments_are_redacted(program, record):
    trace = record(program(SECRETS)).trace
    (login,) = trace.calls("login")
    assert login.args == {
        "user": "bob",
        "password": REDACTED,
        "api_key": REDACTED,
        "token": REDACTED,
        "db_password": REDACTED,
    }
    assert login.return_value == 7


def test_secret_looking_locals_dict_keys_and_attributes_are_redacted(program, record):
    prog = program(SECRETS)
    trace = record(prog).trace
    local = trace.locals_at(prog.line("return len(password)"))
    assert local["secret"] == REDACTED
    assert local["session_cookie"] == REDACTED
    assert local["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert local["user"] == "bob"
    (connect,) = trace.calls("connect")
    assert connect.args["client"] == ObjectValue(
        "Client", {"name": "svc", "client_secret": REDACTED}
    )


def test_secret_values_appear_nowhere_in_the_trace(program, record, trace_format):
    trace = record(program(SECRETS), format=trace_format).trace
    text = json.dumps(trace.events)
    assert [s for s in SECRET_VALUES if s in text] == []
    if trace_format == "json":
        raw = (trace.directory / "trace.json").read_text(encoding="utf-8")
        assert [s for s in SECRET_VALUES if s in raw] == []
