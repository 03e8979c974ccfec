"""Exception-heavy code: raising, unwinding through frames, catching, re-raising.

Validation-style code where failure is routine: exceptions raised a few frames deep and
caught above, exceptions from C (``KeyError``, ``ValueError``) and chained re-raises.
"""


class ValidationError(Exception):
    """A record failed validation."""


def parse_field(text: str) -> int:
    """An int from text: ``ValueError`` (raised in C) for anything else."""
    return int(text)


def check_range(value: int) -> int:
    if value % 5 == 0:
        raise ValidationError(f"{value} is a multiple of five")
    return value


def validate(record: dict[str, str]) -> int:
    """Three frames deep: the exception unwinds through ``check_range`` and this frame."""
    try:
        value = parse_field(record["value"])
    except ValueError as error:
        raise ValidationError("not a number") from error
    return check_range(value)


def lookup(table: dict[str, int], key: str) -> int:
    try:
        return table[key]
    except KeyError:
        return -1


def run(scale: float) -> int:
    """Validate a stream of records, most of which fail; return a checksum."""
    records = [{"value": str(i) if i % 3 else f"x{i}"} for i in range(97)]
    table = {str(i): i for i in range(0, 97, 2)}
    accepted = rejected = 0
    for _ in range(max(1, round(1900 * scale))):
        for record in records:
            try:
                accepted += validate(record)
            except ValidationError:
                rejected += 1
            accepted += lookup(table, record["value"])
    return accepted * 1000 + rejected
