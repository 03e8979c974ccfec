"""Generators and coroutines: yield/resume pairs instead of calls and returns.

A lazy generator pipeline, and coroutines driven by a twenty-line round-robin scheduler
of our own (not asyncio, which lives in the standard library that some tracers skip, so
every tool sees the same code).
"""

from collections.abc import Coroutine, Generator, Iterable, Iterator
from typing import Any


def numbers(count: int) -> Iterator[int]:
    for i in range(count):  # noqa: UP028  (a frame that yields per item is the point)
        yield i


def squares_of_odds(values: Iterable[int]) -> Iterator[int]:
    for value in values:
        if value % 2:
            yield value * value


def running_total(values: Iterable[int]) -> Iterator[int]:
    total = 0
    for value in values:
        total += value
        yield total


class Pause:
    """An awaitable that hands control back to the scheduler once."""

    def __await__(self) -> Generator[None, None, None]:
        yield


async def worker(steps: int) -> int:
    """A coroutine that does a little work between pauses."""
    done = 0
    for step in range(steps):
        done += step % 7
        await Pause()
    return done


def run_all(coroutines: list[Coroutine[Any, Any, int]]) -> int:
    """Resume each coroutine in turn until all are finished; sum their results."""
    total = 0
    pending = list(coroutines)
    while pending:
        still_running = []
        for coroutine in pending:
            try:
                coroutine.send(None)
                still_running.append(coroutine)
            except StopIteration as finished:
                total += finished.value
        pending = still_running
    return total


def run(scale: float) -> int:
    """Drain a generator pipeline and a batch of coroutines; return a checksum."""
    count = max(10, round(650_000 * scale))
    last = 0
    for last in running_total(squares_of_odds(numbers(count))):
        pass
    return last + run_all([worker(count // 40) for _ in range(20)])
